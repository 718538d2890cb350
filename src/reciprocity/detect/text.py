"""Text normalisation and vectorised sentence splitting for the disclosure detector.

All functions take and return pandas objects and use pandas' vectorised string methods (``str.replace``,
``str.split`` + ``explode``); there is no per-utterance Python loop.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np
import pandas as pd

#: Longest piece (characters) a sentence is scored as; longer "sentences" (no punctuation) are chunked.
MAX_SENTENCE_CHARS = 600

# cp1252 code points that leaked into the OffMyChest export as literal "<U+0092>" escapes.
_CP1252_FIXES: dict[str, str] = {
    "0091": "'", "0092": "'", "00B4": "'", "2018": "'", "2019": "'",
    "0093": '"', "0094": '"', "201C": '"', "201D": '"',
    "0096": "-", "0097": "-", "2013": "-", "2014": "-", "0085": "...",
}
_UNICODE_ESCAPE = r"<U\+([0-9A-Fa-f]{4,6})>"
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
    """Undo ``<U+XXXX>`` export escapes, unify curly quotes/dashes and collapse horizontal whitespace."""
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
