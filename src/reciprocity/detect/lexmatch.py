"""Yes/no regex tests over a whole column with Arrow's RE2 engine, giving exactly Python ``re``'s answers.

The detector tests ~20 lexicon patterns (topic areas, depth cues) against every sentence. ``Series.str.contains``
runs Python's ``re`` once per string; ``pyarrow.compute.match_substring_regex`` runs RE2 over the whole Arrow
column in C++, several times faster. The patterns are written for Python's ``re``, so :func:`to_re2` translates:

* the word-boundary lookarounds used by the lexicons, exactly (for a "matches anywhere" test, consuming the
  boundary character is the same as looking at it): ``(?<![\\w'])`` -> ``(?:^|[^\\w'])``, ``(?![\\w'])`` ->
  ``(?:$|[^\\w'])``, ``(?!\\w)`` -> ``(?:$|\\W)``;
* ``\\s`` -> ``[\\t-\\r\\x1c- ]`` (Python's whitespace among ASCII characters);
* any other lookaround is dropped, which can only widen the match: the pattern is then *inexact*.

RE2's ``\\w``, ``\\d`` and ``\\b`` are ASCII-only while Python's are Unicode-aware, so RE2's answer is used only for
ASCII strings; non-ASCII strings, and the RE2 hits of an inexact pattern, are re-tested with Python's ``re``. The
result is therefore always Python's; RE2 only spares most strings the slow path. A pattern RE2 cannot compile at
all is run with Python's ``re`` on every string.
"""

from __future__ import annotations

import functools
import re
import warnings

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

_BOUNDARIES = (
    (r"(?<![\w'])", r"(?:^|[^\w'])"),
    (r"(?![\w'])", r"(?:$|[^\w'])"),
    (r"(?!\w)", r"(?:$|\W)"),
)
_ASCII_SPACE = r"\t-\r\x1c- "  # Python's \s among ASCII characters: \t \n \v \f \r, \x1c-\x1f and space
_LOOKAROUND = re.compile(r"\(\?<?[=!]")


def _ascii_space(pattern: str) -> str:
    """Replace ``\\s`` by Python's ASCII whitespace, as a class outside ``[...]`` and as a range inside one."""
    out, i, in_class = [], 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            pair = pattern[i : i + 2]
            out.append((_ASCII_SPACE if in_class else f"[{_ASCII_SPACE}]") if pair == "\\s" else pair)
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
        out.append(c)
        i += 1
    return "".join(out)


def _drop_group(pattern: str, start: int) -> str:
    """Remove the parenthesised group opening at ``start`` (escape- and character-class-aware)."""
    depth, i, in_class = 0, start, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return pattern[:start] + pattern[i + 1 :]
        i += 1
    raise ValueError(f"unbalanced group in pattern {pattern!r}")


@functools.lru_cache(maxsize=256)
def to_re2(pattern: str) -> tuple[str | None, bool]:
    """``(re2_pattern, exact)``; ``re2_pattern`` is None when RE2 cannot compile the translation."""
    out = pattern
    for python_form, re2_form in _BOUNDARIES:
        out = out.replace(python_form, re2_form)
    out = _ascii_space(out)
    exact = True
    while (m := _LOOKAROUND.search(out)) is not None and (m.start() == 0 or out[m.start() - 1] != "\\"):
        out, exact = _drop_group(out, m.start()), False
    try:
        pc.match_substring_regex(pa.array([""], type=pa.large_string()), out)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None, False
    return out, exact


class ColumnMatcher:
    """Python-``re``-exact yes/no tests of many patterns against one column of strings (converted to Arrow once)."""

    def __init__(self, strings: pd.Series):
        self.strings = strings.fillna("").astype(str).reset_index(drop=True)
        self.column = pa.array(self.strings.to_numpy(dtype=object), type=pa.large_string())
        self.non_ascii = ~pc.string_is_ascii(self.column).to_numpy(zero_copy_only=False)

    def contains(self, pattern: re.Pattern[str]) -> np.ndarray:
        """Boolean array: ``pattern.search(s) is not None`` for every string ``s``."""
        if len(self.strings) == 0:
            return np.zeros(0, dtype=bool)
        re2, exact = to_re2(pattern.pattern)
        if re2 is None:
            return _python_contains(self.strings, pattern)
        hit = pc.match_substring_regex(self.column, re2).to_numpy(zero_copy_only=False).astype(bool)
        recheck = self.non_ascii if exact else (self.non_ascii | hit)
        if recheck.any():
            hit[recheck] = _python_contains(self.strings[recheck], pattern)
        return hit


def _python_contains(strings: pd.Series, pattern: re.Pattern[str]) -> np.ndarray:
    """``pattern.search(s) is not None`` with Python's ``re`` (pandas' ``str.contains``, capture-group warning off)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return strings.str.contains(pattern, regex=True).to_numpy(dtype=bool)
