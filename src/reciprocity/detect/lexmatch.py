"""Yes/no regex tests over a whole column with Arrow's RE2 engine, giving exactly Python ``re``'s answers.

The detector tests ~20 lexicon patterns (topic areas, depth cues) against every sentence. ``Series.str.contains``
runs Python's ``re`` once per string; ``pyarrow.compute.match_substring_regex`` runs RE2 over the whole Arrow
column in C++, several times faster. The patterns are written for Python's ``re``; :func:`to_re2` translates them
for a "matches anywhere?" test on ASCII text:

* a word-boundary lookaround at the very start or end of the pattern becomes a group that consumes the boundary
  character (nothing else in the match needs that character, so the answer is the same):
  ``(?<![\\w'])`` -> ``(?:^|[^\\w'])`` at the start, ``(?![\\w'])`` -> ``(?:$|[^\\w'])`` and ``(?!\\w)`` ->
  ``(?:$|\\W)`` at the end;
* ``\\s`` / ``\\S`` -> Python's ASCII whitespace ``[\\t-\\r\\x1c- ]`` and its complement; ``$`` -> ``\\n?\\z``
  (Python's ``$`` also matches before a final newline);
* any other lookaround is dropped, which can only widen the match: the translation is then *inexact*;
* anything else RE2 reads differently (``{,n}``, ``\\S`` inside a class, inline or compile flags) or cannot
  compile sends the pattern to Python's ``re`` for every string.

RE2's ``\\w``, ``\\d`` and ``\\b`` are ASCII-only while Python's are Unicode-aware, so RE2's answer is used only for
ASCII strings; non-ASCII strings, and the RE2 hits of an inexact translation, are re-tested with Python's ``re``.
The result is therefore Python's; RE2 spares most strings the slow path.
"""

from __future__ import annotations

import functools
import re
import warnings

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

_LEADING = {r"(?<![\w'])": r"(?:^|[^\w'])"}
_TRAILING = {r"(?![\w'])": r"(?:$|[^\w'])", r"(?!\w)": r"(?:$|\W)"}
_ASCII_SPACE = r"\t-\r\x1c- "  # Python's \s among ASCII characters: \t \n \v \f \r, \x1c-\x1f and space
_LOOKAROUNDS = ("(?=", "(?!", "(?<=", "(?<!")


class _Untranslatable(ValueError):
    """The pattern uses something RE2 would read differently; Python's ``re`` must run it."""


def _class_end(pattern: str, start: int) -> int:
    """Index just past the character class opening at ``start`` (a ``]`` right after ``[`` or ``[^`` is literal)."""
    i = start + 1
    if pattern.startswith("^", i):
        i += 1
    if pattern.startswith("]", i):
        i += 1
    while i < len(pattern):
        if pattern[i] == "\\":
            i += 2
        elif pattern[i] == "]":
            return i + 1
        else:
            i += 1
    raise _Untranslatable("unterminated character class")


def _group_end(pattern: str, start: int) -> int:
    """Index just past the group opening at ``start``."""
    depth, i = 0, start
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":
            i = _class_end(pattern, i)
            continue
        depth += (c == "(") - (c == ")")
        i += 1
        if depth == 0:
            return i
    raise _Untranslatable("unbalanced group")


def _translate_class(body: str) -> str:
    """A character class with ``\\s`` spelled as Python's ASCII whitespace range (``\\S`` cannot be)."""
    out, i = [], 0
    while i < len(body):
        if body[i] == "\\" and i + 1 < len(body):
            pair = body[i : i + 2]
            if pair == "\\S":
                raise _Untranslatable(r"\S inside a character class")
            out.append(_ASCII_SPACE if pair == "\\s" else pair)
            i += 2
        else:
            out.append(body[i])
            i += 1
    return "".join(out)


def _translate(pattern: str) -> tuple[str, bool]:
    head, tail = "", ""
    for python_form, re2_form in _LEADING.items():
        if pattern.startswith(python_form):
            head, pattern = re2_form, pattern[len(python_form) :]
    for python_form, re2_form in _TRAILING.items():
        if pattern.endswith(python_form) and not pattern.endswith("\\" + python_form):
            tail, pattern = re2_form, pattern[: -len(python_form)]
    out, i, exact = [head], 0, True
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            pair = pattern[i : i + 2]
            out.append({"\\s": f"[{_ASCII_SPACE}]", "\\S": f"[^{_ASCII_SPACE}]"}.get(pair, pair))
            i += 2
        elif c == "[":
            end = _class_end(pattern, i)
            out.append(_translate_class(pattern[i:end]))
            i = end
        elif pattern.startswith(_LOOKAROUNDS, i):
            i, exact = _group_end(pattern, i), False  # dropped: the match can only get wider
        elif c == "$":
            out.append(r"\n?\z")
            i += 1
        elif pattern.startswith("(?", i) and pattern[i + 2 : i + 3] in set("aiLmsux-"):
            raise _Untranslatable("inline flags")
        elif pattern.startswith("{,", i):
            raise _Untranslatable("{,n} is a repeat in Python and literal text in RE2")
        else:
            out.append(c)
            i += 1
    out.append(tail)
    return "".join(out), exact


@functools.lru_cache(maxsize=256)
def to_re2(pattern: str, flags: int = re.UNICODE) -> tuple[str | None, bool]:
    """``(re2_pattern, exact)`` for a Python pattern and its flags; ``(None, False)`` when Python's ``re`` must run
    it (flags other than the default, constructs RE2 reads differently, or a translation RE2 cannot compile)."""
    if flags & ~re.UNICODE:
        return None, False
    try:
        out, exact = _translate(pattern)
        pc.match_substring_regex(pa.array([""], type=pa.large_string()), out)
    except (_Untranslatable, pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None, False
    return out, exact


class ColumnMatcher:
    """Python-``re``-exact yes/no tests of many patterns against one column of strings (converted to Arrow once)."""

    def __init__(self, strings: pd.Series):
        self.strings = strings.fillna("").astype(str).reset_index(drop=True)
        try:
            self.column: pa.Array | None = pa.array(self.strings.to_numpy(dtype=object), type=pa.large_string())
            self.non_ascii = ~pc.string_is_ascii(self.column).to_numpy(zero_copy_only=False)
        except UnicodeEncodeError:  # lone surrogates are not UTF-8: Python's re for every string
            self.column, self.non_ascii = None, np.ones(len(self.strings), dtype=bool)

    def contains(self, pattern: re.Pattern[str]) -> np.ndarray:
        """Boolean array: ``pattern.search(s) is not None`` for every string ``s``."""
        if len(self.strings) == 0:
            return np.zeros(0, dtype=bool)
        re2, exact = to_re2(pattern.pattern, pattern.flags)
        if re2 is None or self.column is None:
            return _python_contains(self.strings, pattern)
        hit = pc.match_substring_regex(self.column, re2).to_numpy(zero_copy_only=False).astype(bool)
        recheck = self.non_ascii if exact else (self.non_ascii | hit)
        if recheck.any():
            hit[recheck] = _python_contains(self.strings[recheck], pattern)
        return hit


def _python_contains(strings: pd.Series, pattern: re.Pattern[str]) -> np.ndarray:
    """``pattern.search(s) is not None`` with Python's ``re`` (pandas' ``str.contains``)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="This pattern is interpreted as a regular expression, and has match groups")
        return strings.str.contains(pattern, regex=True).to_numpy(dtype=bool)
