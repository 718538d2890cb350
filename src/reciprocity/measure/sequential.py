"""Lag-sequential analysis of codes across exchange pairs (THEORY.md §3; Bakeman & Quera 2011).

For the exchange pairs (antecedent = the earlier turn, consequent = the reply) and a code with
categories 1..K (e.g. depth ``layer`` 0–3, or binary ``disclosure``):

* counts              x_ij = number of pairs whose antecedent has code i and consequent code j;
  row totals x_i+ = sum_j x_ij, column totals x_+j = sum_i x_ij, N = sum_ij x_ij;
* transitional prob.  p(j|i) = x_ij / x_i+;
* expected count      e_ij = x_i+ x_+j / N  (independence of antecedent and consequent);
* adjusted residual   z_ij = (x_ij - e_ij) / sqrt(e_ij (1 - x_i+/N) (1 - x_+j/N))
  (Allison & Liker 1982; Bakeman & Quera 2011, *Sequential Analysis and Observational Methods*,
  ch. 9) — approximately N(0, 1) under independence when e_ij is not tiny;
* Yule's Q for the 2x2 disclosure table [[a, b], [c, d]] (rows: antecedent disclosed yes/no,
  columns: reply disclosed yes/no): Q = (ad - bc) / (ad + bc), in [-1, 1]; 0 = no association,
  > 0 = disclosure is followed by disclosure. Q, not z, is the index to compare dyads (z grows
  with the number of pairs). Empty cells: by default the Haldane–Anscombe correction adds 0.5
  to *every* cell of a table that has an empty cell (``zero_correction="haldane"``; adding only to
  the empty cells biases Q towards the sign of the non-empty diagonal);
  ``zero_correction="empty"`` adds 0.5 to the empty cells only, as THEORY.md phrases it.

Everything is computed with ``np.bincount`` over (group, i, j) cells: one pass, no loops.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from reciprocity.measure.pairs import positional, sorted_codes
from reciprocity.schema import CONVERSATION

#: Known category sets for the shared codes (others: the sorted observed values).
KNOWN_CATEGORIES: dict[str, list] = {"layer": [0, 1, 2, 3], "disclosure": [False, True]}


@dataclass(frozen=True)
class LagSequential:
    """Result of :func:`lag_sequential` (all tidy long tables).

    * ``corpus``   — one row per (from, to) category pair over all exchange pairs;
    * ``by_dyad``  — the same per conversation (``conversation_id`` column);
    * ``yules_q``  — per conversation 2x2 disclosure table (a, b, c, d) and Yule's Q.

    Table columns: ``code``, ``from``, ``to``, ``count`` (x_ij), ``row_total`` (x_i+),
    ``col_total`` (x_+j), ``n`` (N), ``p_transition`` (p(j|i)), ``expected`` (e_ij),
    ``adjusted_residual`` (z_ij).
    """

    code: str
    categories: list
    corpus: pd.DataFrame
    by_dyad: pd.DataFrame
    yules_q: pd.DataFrame


def _categories(values: pd.Series, code: str) -> list:
    if code in KNOWN_CATEGORIES:
        return list(KNOWN_CATEGORIES[code])
    return sorted(pd.unique(values.dropna()).tolist())


def transition_table(codes: np.ndarray, prev: np.ndarray, nxt: np.ndarray, group: np.ndarray,
                     n_groups: int, n_categories: int) -> dict[str, np.ndarray]:
    """Counts, transitional probabilities, expected counts and adjusted residuals per group.

    ``codes`` are integer category indices (0..K-1, -1 = missing); returns arrays of shape
    (n_groups, K, K) keyed like the table columns.
    """
    k = n_categories
    i, j = codes[prev], codes[nxt]
    ok = (i >= 0) & (j >= 0)
    cell = (group[ok] * k + i[ok]) * k + j[ok]
    x = np.bincount(cell, minlength=n_groups * k * k).reshape(n_groups, k, k).astype(float)
    row = x.sum(axis=2, keepdims=True)
    col = x.sum(axis=1, keepdims=True)
    n = x.sum(axis=(1, 2), keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = x / row
        expected = row * col / n
        variance = expected * (1 - row / n) * (1 - col / n)
        z = np.where(variance > 0, (x - expected) / np.sqrt(variance), np.nan)
    return {
        "count": x,
        "row_total": np.broadcast_to(row, x.shape),
        "col_total": np.broadcast_to(col, x.shape),
        "n": np.broadcast_to(n, x.shape),
        "p_transition": p,
        "expected": expected,
        "adjusted_residual": z,
    }


def _long(cells: dict[str, np.ndarray], categories: list, code: str) -> pd.DataFrame:
    """One row per (group, from, to) cell. Narrow dtypes (a per-dyad table has 16 or 4 rows per dyad): ``code`` is
    categorical, ``from``/``to`` are int8 for integer categories within int8 (bool for boolean ones, the categories'
    own dtype for other integers, object otherwise), counts are int32 (int64 when a count could exceed it)."""
    n_groups, k, _ = cells["count"].shape
    values = np.asarray(categories)
    if values.dtype.kind in "iu" and len(values) and -128 <= values.min() and values.max() <= 127:
        values = values.astype(np.int8)
    elif values.dtype.kind not in "iub":
        values = values.astype(object)
    total = float(cells["n"].max()) if cells["n"].size else 0.0
    count_type = np.int32 if total < 2**31 else np.int64
    frame = pd.DataFrame({
        "group": np.repeat(np.arange(n_groups), k * k),
        "code": pd.Categorical.from_codes(np.zeros(n_groups * k * k, dtype=np.int8), categories=[code]),
        "from": np.tile(np.repeat(values, k), n_groups),
        "to": np.tile(values, n_groups * k),
    }, copy=False)
    for name, cell in cells.items():
        if name in ("count", "row_total", "col_total", "n"):
            frame[name] = cell.reshape(-1).astype(count_type)
        else:
            frame[name] = cell.reshape(-1)
    return frame


def yules_q(a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray,
            zero_correction: str = "haldane") -> np.ndarray:
    """Yule's Q = (ad - bc) / (ad + bc) per table, with a 0.5 correction for empty cells.

    ``zero_correction="haldane"`` adds 0.5 to all four cells of a table with any empty cell;
    ``"empty"`` adds 0.5 to the empty cells only; ``"none"`` leaves counts as they are.
    Tables whose row or column is entirely empty have no association to measure (NaN).
    """
    a, b, c, d = (np.asarray(v, dtype=float) for v in (a, b, c, d))
    undefined = (a + b == 0) | (c + d == 0) | (a + c == 0) | (b + d == 0)
    if zero_correction == "haldane":
        any_zero = (a == 0) | (b == 0) | (c == 0) | (d == 0)
        a, b, c, d = (v + 0.5 * any_zero for v in (a, b, c, d))
    elif zero_correction == "empty":
        a, b, c, d = (np.where(v == 0, 0.5, v) for v in (a, b, c, d))
    elif zero_correction != "none":
        raise ValueError(f"unknown zero_correction {zero_correction!r}")
    with np.errstate(invalid="ignore", divide="ignore"):
        q = (a * d - b * c) / (a * d + b * c)
    return np.where(undefined, np.nan, q)


def lag_sequential(coded: pd.DataFrame, pairs: pd.DataFrame, code: str = "layer", *,
                   zero_correction: str = "haldane") -> LagSequential:
    """Lag-1 sequential analysis of ``code`` over exchange pairs, corpus-level and per dyad.

    ``pairs`` is :func:`reciprocity.measure.turn_pairs` output (row positions ``prev``/``next``
    into ``coded``). Yule's Q uses the binary ``disclosure`` code (whatever ``code`` is).
    """
    coded = positional(coded)
    categories = _categories(coded[code], code)
    lookup = pd.Index(categories)
    codes = lookup.get_indexer(coded[code].to_numpy())
    conversations, conversation_code = sorted_codes(coded[CONVERSATION])
    prev, nxt = pairs["prev"].to_numpy(), pairs["next"].to_numpy()
    k = len(categories)

    corpus = _long(transition_table(codes, prev, nxt, np.zeros(len(coded), dtype=np.int64)[nxt], 1, k),
                   categories, code).drop(columns="group")
    by_dyad = _long(transition_table(codes, prev, nxt, conversation_code[nxt], len(conversations), k),
                    categories, code)
    by_dyad.insert(0, CONVERSATION, conversations[by_dyad.pop("group").to_numpy()])

    disclosed = coded["disclosure"].to_numpy(bool).astype(np.int64)
    two = transition_table(1 - disclosed, prev, nxt, conversation_code[nxt], len(conversations), 2)["count"]
    a, b, c, d = two[:, 0, 0], two[:, 0, 1], two[:, 1, 0], two[:, 1, 1]  # index 0 = disclosed
    q = pd.DataFrame({
        CONVERSATION: conversations,
        "n_pairs": (a + b + c + d).astype("int64"),
        "a_disclosed_disclosed": a.astype("int64"),
        "b_disclosed_not": b.astype("int64"),
        "c_not_disclosed": c.astype("int64"),
        "d_not_not": d.astype("int64"),
        "yules_q": yules_q(a, b, c, d, zero_correction),
    })
    return LagSequential(code, categories, corpus, by_dyad, q)
