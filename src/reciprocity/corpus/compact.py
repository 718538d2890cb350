"""Lean in-memory representation of an utterance table (same values, far fewer bytes).

A million-utterance table of Python objects spends most of its memory on per-row string and list objects:
every row's ``conversation_id`` and ``speaker`` is its own ``str`` although a conversation has only a few
distinct values, every ``text`` is a separate ``str`` object (~50 bytes of overhead each) and every
``topics`` value its own ``list``. :func:`compact` keeps the values and the column names and changes only
how they are stored:

* ``conversation_id``, ``speaker``, ``reply_to`` — object columns in which equal strings share one Python
  ``str`` object (8 bytes per row plus one string per distinct value). They stay plain object columns, not
  categoricals, so that every group-by, comparison and ``to_numpy()`` behaves exactly as before (a
  categorical group-by over two keys would, by default, enumerate all combinations of categories);
* ``text`` and ``id`` — Arrow-backed strings (``"string[pyarrow]"``: one contiguous UTF-8 buffer and
  offsets; missing values are ``pd.NA``);
* ``topics`` — lists with the same topics share one ``list`` object (treat them as read-only);
* integer ``layer`` codes (0–3) — ``int8``.

Numeric codes that feed statistics (``depth``, ``turn``) keep their dtype, so results do not change.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from reciprocity.schema import CONVERSATION, SPEAKER, TEXT

#: Columns stored as shared (deduplicated) Python strings.
SHARED_STRING_COLUMNS: tuple[str, ...] = (CONVERSATION, SPEAKER, "reply_to")
#: Columns stored as Arrow-backed strings.
ARROW_STRING_COLUMNS: tuple[str, ...] = (TEXT, "id")
#: The Arrow-backed string dtype used for :data:`ARROW_STRING_COLUMNS`.
STRING_DTYPE = pd.StringDtype("pyarrow")


def is_arrow_string(values: pd.Series | pd.api.extensions.ExtensionArray) -> bool:
    """True for Arrow-backed string columns (``string[pyarrow]`` or ``ArrowDtype(pa.string())``)."""
    dtype = values.dtype
    if isinstance(dtype, pd.StringDtype):
        return dtype.storage in ("pyarrow", "pyarrow_numpy")
    if isinstance(dtype, pd.ArrowDtype):
        import pyarrow as pa

        return pa.types.is_string(dtype.pyarrow_dtype) or pa.types.is_large_string(dtype.pyarrow_dtype)
    return False


def shared_strings(values: pd.Series | np.ndarray) -> np.ndarray:
    """Object array of the same values in which equal values share one object (missing values kept)."""
    codes, uniques = pd.factorize(np.asarray(values, dtype=object) if not isinstance(values, pd.Series)
                                  else values, use_na_sentinel=True)
    uniques = np.asarray(uniques, dtype=object)
    out = uniques.take(np.maximum(codes, 0)) if len(uniques) else np.full(len(codes), None, dtype=object)
    if (codes < 0).any():
        original = np.asarray(values, dtype=object)
        out[codes < 0] = original[codes < 0]
    return out


def arrow_strings(values: pd.Series | np.ndarray) -> pd.api.extensions.ExtensionArray:
    """``string[pyarrow]`` array of the values (strings kept, other non-missing values as ``str``)."""
    series = values if isinstance(values, pd.Series) else pd.Series(values, dtype=object if np.asarray(values).dtype == object else None)
    if is_arrow_string(series):
        return series.array
    if isinstance(series.dtype, pd.CategoricalDtype):
        series = series.astype(object)
    if series.dtype == object and pd.api.types.infer_dtype(series, skipna=True) not in ("string", "empty"):
        series = series.map(lambda v: v if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v))
                            or isinstance(v, str) else str(v))
    return pd.array(series.to_numpy(dtype=object), dtype=STRING_DTYPE)


def _shared_lists(values: pd.Series) -> np.ndarray:
    """Object array of lists in which lists with the same items share one list object.

    Rows that already share a value object are grouped first (by identity), so only distinct objects are hashed.
    """
    items = values.to_numpy(dtype=object)
    if not len(items):
        return items.copy()
    codes, _ = pd.factorize(np.fromiter(map(id, items), dtype=np.int64, count=len(items)))
    first = np.full(int(codes.max()) + 1, len(items), dtype=np.int64)
    np.minimum.at(first, codes, np.arange(len(items)))
    distinct = items[first]
    cache: dict[tuple, list] = {}
    shared = np.empty(len(distinct), dtype=object)
    for k, value in enumerate(distinct):
        if type(value) is list:
            try:
                shared[k] = cache.setdefault(tuple(value), value)
            except TypeError:  # unhashable items
                shared[k] = value
        else:
            shared[k] = value
    return shared[codes]


def compact(table: pd.DataFrame, *, text: bool = True) -> pd.DataFrame:
    """The table with lean column representations (see the module docstring); values, column order,
    index and ``attrs`` are unchanged. ``text=False`` leaves ``text``/``id`` as they are.

    Columns already in their compact form are kept as they are (no copy), so compacting twice is cheap.
    """
    out = table.copy(deep=False)
    for column in SHARED_STRING_COLUMNS:
        if column in out.columns:
            values = out[column]
            if isinstance(values.dtype, pd.CategoricalDtype):
                categories = np.asarray(values.cat.categories, dtype=object)  # the values themselves, not str()
                codes = values.cat.codes.to_numpy()
                shared = categories.take(np.maximum(codes, 0)) if len(categories) else np.full(len(codes), None, object)
                shared[codes < 0] = None
                out[column] = pd.Series(shared, index=out.index, dtype=object)
            elif values.dtype == object:
                out[column] = pd.Series(shared_strings(values), index=out.index, dtype=object)
    if text:
        for column in ARROW_STRING_COLUMNS:
            if column in out.columns and not is_arrow_string(out[column]):
                out[column] = pd.Series(arrow_strings(out[column]), index=out.index)
    if "topics" in out.columns and out["topics"].dtype == object:
        out["topics"] = pd.Series(_shared_lists(out["topics"]), index=out.index, dtype=object)
    if "layer" in out.columns and pd.api.types.is_integer_dtype(out["layer"].dtype) and out["layer"].dtype != np.int8:
        layer = out["layer"].to_numpy()
        if len(layer) == 0 or (layer.min() >= -128 and layer.max() <= 127):
            out["layer"] = layer.astype(np.int8)
    out.attrs = table.attrs
    return out
