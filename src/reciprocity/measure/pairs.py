"""Turn pairs: who responds to whom (THEORY.md §3: a pair is a speaker change)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from reciprocity.schema import CONVERSATION, SPEAKER


def turn_pairs(table: pd.DataFrame) -> pd.DataFrame:
    """Return (``prev``, ``next``) row positions of every exchange in a normalised table.

    With a ``reply_to`` column, an utterance is paired with the utterance it replies to
    (multi-party conversations); utterances without a reply edge fall back to the previous
    turn. Only pairs whose speakers differ count. Rows must be sorted by conversation and turn
    (as :func:`reciprocity.corpus.validate` leaves them).
    """
    n = len(table)
    conversation = pd.factorize(table[CONVERSATION])[0]
    previous = np.arange(n) - 1
    same_conversation = np.r_[False, conversation[1:] == conversation[:-1]]
    previous = np.where(same_conversation, previous, -1)
    if "reply_to" in table.columns and table["reply_to"].notna().any():
        position = pd.Series(np.arange(n), index=pd.MultiIndex.from_arrays([table[CONVERSATION], table["id"]]))
        keys = pd.MultiIndex.from_arrays([table[CONVERSATION], table["reply_to"].astype(object)])
        parent = position.reindex(keys).to_numpy()
        has_parent = ~np.isnan(parent)
        previous = np.where(has_parent, np.nan_to_num(parent, nan=-1).astype(np.int64), previous)
    nxt = np.flatnonzero(previous >= 0)
    prev = previous[nxt]
    speakers = table[SPEAKER].to_numpy()
    change = speakers[prev] != speakers[nxt]
    return pd.DataFrame(
        {"prev": prev[change], "next": nxt[change], "conversation": conversation[nxt[change]]}
    )


def positional(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame.reset_index(drop=True)`` without the copy when the index already is 0..n-1 (the usual case).

    ``reset_index`` copies every column (pandas without copy-on-write); the measures only read the frame by
    position, so an already positional frame is returned as is (read-only use: callers must not modify it)."""
    index = frame.index
    if isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1:
        return frame
    return frame.reset_index(drop=True)


def sorted_codes(values: pd.Series | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(values, return_inverse=True)`` (sorted uniques, code of every value), computed without sorting
    every row's string: for values in contiguous blocks (a table grouped by conversation, as
    :func:`reciprocity.corpus.validate` leaves it) from the block starts, otherwise by hashing (``pd.factorize``);
    then only the distinct values are sorted (``np.unique`` would sort every row's string)."""
    array = values.to_numpy() if isinstance(values, pd.Series) else np.asarray(values)
    if array.dtype != object:
        uniques, inverse = np.unique(array, return_inverse=True)
        return uniques, inverse.reshape(-1)
    blocks = _contiguous_blocks(array)
    if blocks is not None:
        uniques, codes = blocks
    else:
        codes, uniques = pd.factorize(array)
        uniques = np.asarray(uniques, dtype=object)
    order = np.argsort(uniques, kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return uniques[order], rank[codes]


def _contiguous_blocks(array: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(distinct values in order of appearance, code of every row) when every value occupies one contiguous run of
    rows and none is missing; else None."""
    if len(array) < 2:
        return None
    change = np.empty(len(array), dtype=bool)
    change[0] = True
    try:
        np.not_equal(array[1:], array[:-1], out=change[1:])
    except TypeError:
        return None
    starts = np.flatnonzero(change)
    firsts = array[starts]
    index = pd.Index(firsts)
    if not index.is_unique or index.hasnans:
        return None
    codes = np.cumsum(change, dtype=np.int64)
    codes -= 1
    return firsts, codes
