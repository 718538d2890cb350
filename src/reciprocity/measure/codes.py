"""Human or detector codes in the shared schema (THEORY.md §2), checked before measurement."""

from __future__ import annotations

import numpy as np
import pandas as pd

from reciprocity.errors import InputError, Problem

_TRUE = {"1", "true", "yes", "y", "t"}
_FALSE = {"0", "false", "no", "n", "f", ""}


def _as_bool(values: pd.Series, locations: list[str], source: str) -> pd.Series:
    if pd.api.types.is_bool_dtype(values):
        return values.astype(bool)
    text = values.astype("string").str.strip().str.lower().fillna("")
    text = text.str.replace(r"\.0$", "", regex=True)
    bad = ~text.isin(_TRUE | _FALSE)
    _raise_if(bad, locations, source, "disclosure", "disclosure code must be 0/1 or true/false")
    return text.isin(_TRUE)


def _raise_if(bad: pd.Series, locations: list[str], source: str, field: str, message: str) -> None:
    if bad.any():
        rows = np.flatnonzero(bad.to_numpy())
        raise InputError([Problem(source, locations[r], field, message) for r in rows])


def prepare_codes(table: pd.DataFrame, source: str = "<table>") -> pd.DataFrame:
    """Complete and check a coded table so every measure sees the full schema.

    Needs ``disclosure`` and/or ``depth`` (0–3). Missing pieces are derived and documented:
    ``layer`` = round(depth); ``disclosure`` = layer > 0; a table with only ``disclosure``
    gets depth 1 for disclosures, 0 otherwise; absent ``topics`` are empty lists.
    Problems name each row's source location (``table.attrs["locations"]``, kept by
    :func:`reciprocity.corpus.validate`), else its position in the table ("row N").
    """
    if "disclosure" not in table.columns and "depth" not in table.columns:
        raise InputError(Problem(source, "header", "disclosure",
                                 "--use-codes needs a 'disclosure' and/or 'depth' column"))
    coded = table.copy(deep=False)  # columns are replaced, never written into: no copy of the (big) input
    known = table.attrs.get("locations")
    locations = known if known is not None and len(known) == len(table) else [f"row {i + 1}" for i in range(len(table))]
    if "depth" in coded.columns:
        depth = pd.to_numeric(coded["depth"], errors="coerce")
        _raise_if(depth.isna() | (depth < 0) | (depth > 3), locations, source, "depth",
                  "depth code must be a number from 0 to 3")
        coded["depth"] = depth.astype(float, copy=False)
    if "disclosure" in coded.columns:
        coded["disclosure"] = _as_bool(coded["disclosure"], locations, source)
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
        coded["layer"] = np.clip(np.rint(coded["depth"].to_numpy()), 0, 3).astype("int64")
    if "topics" not in coded.columns:
        coded["topics"] = [[] for _ in range(len(coded))]
    return coded
