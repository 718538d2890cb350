"""Human or detector codes in the shared schema (THEORY.md §2), checked before measurement."""

from __future__ import annotations

import numpy as np
import pandas as pd

from reciprocity.errors import InputError, Problem

_TRUE = {"1", "true", "yes", "y", "t"}
_FALSE = {"0", "false", "no", "n", "f"}


def _as_bool(values: pd.Series, locations: list[str], source: str, fallback: pd.Series | None = None) -> pd.Series:
    """0/1, true/false, yes/no codes as bools. A missing code (empty, NaN, NA) takes ``fallback`` (the rows'
    ``depth > 0``) when given, else is an error; it is never read as "no"."""
    missing = values.isna()
    if values.dtype == object or pd.api.types.is_string_dtype(values):
        missing |= values.astype("string").str.strip().fillna("").eq("")
    if fallback is None:
        _raise_if(missing, locations, source, "disclosure", "disclosure code is missing (give 0/1 or true/false)")
    if pd.api.types.is_bool_dtype(values) and not missing.any():
        return values.astype(bool)
    text = values.astype("string").str.strip().str.lower()
    text = text.str.replace(r"\.0$", "", regex=True)
    bad = ~text.isin(_TRUE | _FALSE) & ~missing
    _raise_if(bad, locations, source, "disclosure", "disclosure code must be 0/1 or true/false")
    decoded = text.isin(_TRUE).astype(bool)
    return decoded.where(~missing, fallback) if missing.any() else decoded


def _raise_if(bad: pd.Series, locations: list[str], source: str, field: str, message: str) -> None:
    if bad.any():
        rows = np.flatnonzero(bad.to_numpy())
        raise InputError([Problem(source, locations[r], field, message) for r in rows])


def prepare_codes(table: pd.DataFrame, source: str = "<table>") -> pd.DataFrame:
    """Complete and check a coded table so every measure sees the full schema.

    Needs ``disclosure`` and/or ``depth`` (0–3). Missing pieces are derived and documented:
    ``disclosure`` = depth > 0; a table with only ``disclosure`` gets depth 1 for disclosures, 0 otherwise;
    ``layer`` = 0 without disclosure, else depth rounded half up within 1..3 (as the simulator's ``layer_of``);
    absent ``topics`` are empty lists. A missing ``disclosure`` value (empty cell, NaN, NA) is derived from that
    row's depth (depth > 0) when the table has depths, else an error; it is never read as "no".
    Problems name each row's source location (``table.attrs["locations"]``, kept by
    :func:`reciprocity.corpus.validate`), else its position in the table ("row N").
    """
    if "disclosure" not in table.columns and "depth" not in table.columns:
        raise InputError(Problem(source, "header", "disclosure", "analysing the table's own codes (use_codes=True, "
                                 "--use-codes) needs a 'disclosure' and/or 'depth' column"))
    coded = table.copy(deep=False)  # columns are replaced, never written into: no copy of the (big) input
    known = table.attrs.get("locations")
    locations = known if known is not None and len(known) == len(table) else [f"row {i + 1}" for i in range(len(table))]
    if "depth" in coded.columns:
        depth = pd.to_numeric(coded["depth"], errors="coerce")
        _raise_if(depth.isna() | (depth < 0) | (depth > 3), locations, source, "depth",
                  "depth code must be a number from 0 to 3")
        coded["depth"] = depth.astype(float, copy=False)
    if "disclosure" in coded.columns:
        fallback = coded["depth"] > 0 if "depth" in coded.columns else None
        coded["disclosure"] = _as_bool(coded["disclosure"], locations, source, fallback).astype(bool)
    else:
        coded["disclosure"] = coded["depth"] > 0
    if "depth" not in coded.columns:
        coded["depth"] = coded["disclosure"].astype(float)
    if "layer" in coded.columns:
        layer = pd.to_numeric(coded["layer"], errors="coerce")
        _raise_if(~layer.isin([0, 1, 2, 3]), locations, source, "layer", "layer must be 0, 1, 2 or 3")
        # integer codes keep a narrow integer dtype (e.g. int8 from compact); others become int64
        coded["layer"] = layer if layer.dtype.kind == "i" else layer.astype("int64")
    else:
        rounded = np.clip(np.floor(coded["depth"].to_numpy() + 0.5), 1, 3)
        coded["layer"] = np.where(coded["disclosure"].to_numpy(bool), rounded, 0).astype("int64")
    if "topics" not in coded.columns:
        coded["topics"] = [[] for _ in range(len(coded))]
    return coded
