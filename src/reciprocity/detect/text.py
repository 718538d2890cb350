"""Text normalisation and vectorised sentence splitting for the disclosure detector.

All functions take and return pandas objects and work on whole columns (Arrow compute kernels, pandas'
``str.split`` + ``explode``); there is no per-utterance Python loop.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

#: Longest piece (characters) a sentence is scored as; longer "sentences" (no punctuation) are chunked.
MAX_SENTENCE_CHARS = 600

# cp1252 code points that leaked into the OffMyChest export as literal "<U+0092>" escapes.
_CP1252_FIXES: dict[str, str] = {
    "0091": "'", "0092": "'", "00B4": "'", "2018": "'", "2019": "'",
    "0093": '"', "0094": '"', "201C": '"', "201D": '"',
    "0096": "-", "0097": "-", "2013": "-", "2014": "-", "0085": "...",
}
_UNICODE_ESCAPE = r"<U\+([0-9A-Fa-f]{4,6})>"
#: What ``str.strip()`` removes: the characters for which ``str.isspace()`` is true.
_PYTHON_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
# Sentence boundary: whitespace after ., !, ?, or an ellipsis (optionally followed by closing quotes/brackets),
# or any line break.
_SENTENCE_BOUNDARY = r"(?<=[.!?\u2026])[\"')\]]*\s+|[\r\n]+"


def _unescape(match: re.Match[str]) -> str:
    code = match.group(1).upper()
    if code in _CP1252_FIXES:
        return _CP1252_FIXES[code]
    try:
        return chr(int(code, 16))
    except (ValueError, OverflowError):
        return " "


def as_series(texts: Iterable[str] | pd.Series | str) -> pd.Series:
    """Coerce the input to a string Series (NaN/None become ``""``); a Series keeps its index."""
    if isinstance(texts, str):
        texts = [texts]
    s = texts if isinstance(texts, pd.Series) else pd.Series(list(texts), dtype=object)
    return s.fillna("").astype(str)


def normalise(texts: pd.Series) -> pd.Series:
    """Undo ``<U+XXXX>`` export escapes, unify curly quotes/dashes and collapse horizontal whitespace.

    Runs as Arrow compute kernels over the whole column (the Python callback that undoes escapes only on the rows
    that contain ``<U+``); the same result as the pandas ``str`` chain it replaces, which still handles a Series
    holding anything but strings (missing values stay missing) or text that is not valid UTF-8 (lone surrogates)."""
    values = texts.to_numpy(dtype=object)
    try:
        col = pa.array(values, type=pa.large_string())
        if col.null_count:
            return _normalise_pandas(texts)
        escaped = pc.match_substring(col, "<U+").to_numpy(zero_copy_only=False)
        if escaped.any():
            values = values.copy()
            values[escaped] = pd.Series(values[escaped]).str.replace(_UNICODE_ESCAPE, _unescape, regex=True).to_numpy()
            col = pa.array(values, type=pa.large_string())
    except (pa.ArrowTypeError, pa.ArrowInvalid, UnicodeEncodeError):  # non-strings, or lone surrogates (not UTF-8)
        return _normalise_pandas(texts)
    col = pc.replace_substring_regex(col, "[\u2018\u2019\u00b4`]", "'")
    col = pc.replace_substring_regex(col, "[\u201c\u201d]", '"')
    for entity, char in (("&amp;", "&"), ("&gt;", ">"), ("&lt;", "<")):
        col = pc.replace_substring(col, entity, char)
    col = pc.replace_substring_regex(col, "[ \t\f\v\u00a0\u200b]+", " ")
    col = pc.utf8_trim(col, characters=_PYTHON_WHITESPACE)
    return pd.Series(col.to_numpy(zero_copy_only=False), index=texts.index, dtype=object, name=texts.name)


def _normalise_pandas(texts: pd.Series) -> pd.Series:
    """:func:`normalise` with pandas ``str`` methods (any Series, missing values kept)."""
    s = texts.str.replace(_UNICODE_ESCAPE, _unescape, regex=True)
    s = s.str.replace("[\u2018\u2019\u00b4`]", "'", regex=True).str.replace("[\u201c\u201d]", '"', regex=True)
    s = s.str.replace("&amp;", "&", regex=False).str.replace("&gt;", ">", regex=False).str.replace(
        "&lt;", "<", regex=False
    )
    return s.str.replace(r"[ \t\f\v\u00a0\u200b]+", " ", regex=True).str.strip()


def split_sentences(texts: pd.Series, max_chars: int = MAX_SENTENCE_CHARS) -> pd.DataFrame:
    """Split each text into sentences (vectorised) and return a long frame.

    Columns: ``doc`` (0-based position of the source text) and ``sentence``. Empty/blank sentences are dropped,
    so a text with no content has no rows. Pieces longer than ``max_chars`` are cut into consecutive chunks so
    that a 100k-character text without punctuation stays cheap to score.
    """
    s = normalise(as_series(texts)).reset_index(drop=True)
    parts = s.str.split(_SENTENCE_BOUNDARY, regex=True).explode()
    long = parts.str.len() > max_chars
    if bool(long.any()):
        chunked = parts[long].str.findall(r"[\s\S]{1,%d}" % max_chars).explode()
        parts = pd.concat([parts[~long], chunked]).sort_index(kind="stable")
    parts = parts.str.strip()
    parts = parts[parts.notna() & (parts.str.len() > 0)]
    return pd.DataFrame({"doc": parts.index.to_numpy(dtype=np.int64), "sentence": parts.to_numpy(dtype=object)})
