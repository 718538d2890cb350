"""Validation of the utterance table: every problem named by file, line/row and field.

The utterance table has one row per utterance with the required columns ``conversation_id``,
``speaker`` and ``text``; optional ``id``, ``turn``, ``timestamp`` and ``reply_to``; any other
column is kept as metadata.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from reciprocity.corpus.compact import arrow_strings, is_arrow_string
from reciprocity.errors import InputError, Problem
from reciprocity.schema import CONVERSATION, REQUIRED_COLUMNS, SPEAKER, TEXT, TOPIC_SEPARATOR

#: Column holding each raw row's location ("line 12", "row 4") while a file is validated.
LOCATION = "__location__"


class Locations(Sequence):
    """Read-only per-row source locations ("line 12", "row 4"), as kept in ``table.attrs["locations"]``.

    Behaves like a list of strings (``len``, indexing, iteration, ``==`` with a list). It is immutable and
    shared rather than copied by :func:`copy.deepcopy`: pandas deep-copies ``attrs`` on nearly every
    operation, which for a list of a million strings cost seconds per analysis. Without known locations
    it stores the 1-based row numbers only and makes the ``"row N"`` labels on demand.
    """

    __slots__ = ("_values",)

    def __init__(self, values: Sequence | np.ndarray):
        values = np.asarray(values)
        self._values = values if values.dtype.kind in "iu" else values.astype(object)
        self._values.flags.writeable = False

    @classmethod
    def rows(cls, n: int) -> Locations:
        """``"row 1"`` … ``"row n"``."""
        return cls(np.arange(1, n + 1, dtype=np.int64))

    def _label(self, value: object) -> str:
        return f"row {value}" if self._values.dtype.kind in "iu" else value

    def __len__(self) -> int:
        return len(self._values)

    def __getitem__(self, index):
        if isinstance(index, (int, np.integer)):
            return self._label(self._values[index])
        return Locations(self._values[index])

    def __iter__(self):
        return (self._label(v) for v in self._values.tolist())

    def take(self, positions: np.ndarray) -> Locations:
        """The locations of the given row positions."""
        return Locations(self._values[np.asarray(positions, dtype=np.int64)])

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Locations):
            return self._values.dtype.kind == other._values.dtype.kind and np.array_equal(self._values, other._values)
        return isinstance(other, (list, tuple)) and list(self) == list(other)

    __hash__ = None

    def __deepcopy__(self, memo: dict) -> Locations:
        return self

    def __copy__(self) -> Locations:
        return self

    def __repr__(self) -> str:
        head = ", ".join(repr(v) for v in list(self[:3]))
        return f"Locations([{head}{', …' if len(self) > 3 else ''}], n={len(self)})"


def _blank(values: pd.Series) -> pd.Series:
    """True where a value is missing or only whitespace."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        categories = values.cat.categories
        blank_category = _blank(pd.Series(np.asarray(categories, dtype=object))).to_numpy()
        codes = values.cat.codes.to_numpy()
        blank = np.ones(len(codes), dtype=bool)
        known = codes >= 0
        blank[known] = blank_category[codes[known]]
        return pd.Series(blank, index=values.index)
    if is_arrow_string(values):
        return pd.Series(_arrow_blank(values), index=values.index)
    array = values.to_numpy()
    if array.dtype == object and pd.api.types.infer_dtype(array, skipna=False) == "string":
        # all Python strings, none missing: str.isspace is what str.strip strips (fast path); each distinct
        # string (ids repeat over a conversation's rows) is checked once
        codes, uniques = pd.factorize(array)
        blank_unique = np.fromiter((not v or v.isspace() for v in uniques), dtype=bool, count=len(uniques))
        return pd.Series(blank_unique[codes], index=values.index)
    as_text = values.astype("string")
    return values.isna() | as_text.str.strip().eq("").fillna(True)


#: Exactly the characters for which Python's ``str.isspace`` is true (so the regex below matches ``v.isspace()``).
_PY_SPACE = r"\t-\r\x{1c}-\x{20}\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}"


def _arrow_blank(values: pd.Series) -> np.ndarray:
    """:func:`_blank` of an Arrow-backed string column without making Python strings: missing, empty, or
    made only of the characters Python's ``str.isspace`` accepts (the same answer as ``not v or v.isspace()``)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    array = values.array
    data = array._pa_array if hasattr(array, "_pa_array") else pa.chunked_array([pa.array(array)])
    blank = pc.match_substring_regex(data, "^[" + _PY_SPACE + "]*$").fill_null(True)
    return blank.to_numpy(zero_copy_only=False).astype(bool, copy=False)


def find_problems(raw: pd.DataFrame, source: str, locations: Sequence | None = None
                  ) -> tuple[list[Problem], np.ndarray]:
    """Check a raw table; return the problems and a boolean mask of rows to drop.

    ``locations`` (aligned with the rows of ``raw``) names the rows; by default the :data:`LOCATION` column.
    """
    bad = np.zeros(len(raw), dtype=bool)
    problems: list[tuple[int, Problem]] = []
    if locations is None:
        locations = raw[LOCATION].to_numpy()

    def flag(mask: pd.Series | np.ndarray, field: str, message: str) -> None:
        for position in np.flatnonzero(np.asarray(mask)):
            problems.append((position, Problem(source, locations[position], field, message)))
        bad[np.asarray(mask)] = True

    for column in REQUIRED_COLUMNS:
        if column in raw.columns:  # validate() reports missing columns; other callers may check a subset
            flag(_blank(raw[column]), column, "empty value" if column != TEXT else "empty text")

    has_id = "id" in raw.columns
    if has_id:
        ids = raw["id"].astype("string")
        blank_id = _blank(raw["id"])
        flag(blank_id, "id", "empty id")
        flag(ids.duplicated(keep="first") & ~blank_id, "id", "duplicate id")
    if "turn" in raw.columns:
        turns = pd.to_numeric(raw["turn"], errors="coerce")
        not_integer = turns.isna() | (turns != turns.round())
        flag(not_integer, "turn", "turn must be an integer")
        conversation = raw[CONVERSATION]
        if conversation.dtype == object and pd.api.types.infer_dtype(conversation, skipna=True) != "string":
            conversation = conversation.astype("string")  # 1 and "1" become the same conversation, as after normalising
        keys = pd.DataFrame({"c": pd.factorize(conversation)[0], "t": turns.to_numpy()}, index=raw.index)
        repeated = keys.duplicated(keep="first") & ~not_integer
        del keys
        flag(repeated, "turn", "turn repeated within its conversation")
    if "reply_to" in raw.columns:
        replies = raw["reply_to"].astype("string")
        given = ~_blank(raw["reply_to"])
        if not has_id:
            flag(given, "reply_to", "reply_to given but the table has no 'id' column")
        else:
            # A reply must point at a valid utterance of the same conversation; iterate because
            # dropping a row can leave replies to it dangling.
            conversations = raw[CONVERSATION].astype("string")
            pairs = pd.MultiIndex.from_arrays([conversations, replies])
            flag(given & replies.eq(ids).fillna(False).to_numpy(), "reply_to", "reply_to points to the utterance itself")
            # a reply comes after what it answers: the target's turn (file order without a turn column) is earlier
            order = turns.to_numpy(float) if "turn" in raw.columns else np.arange(len(raw), dtype=float)
            target_order = pd.Series(order, index=pd.MultiIndex.from_arrays([conversations, ids]))
            target_order = target_order[~target_order.index.duplicated(keep="first")]
            later = target_order.reindex(pairs).to_numpy() >= order
            flag(given.to_numpy() & later & ~bad, "reply_to", "reply_to points to a later (or the same) turn")
            while True:
                keep = ~bad
                valid_targets = pd.MultiIndex.from_arrays([conversations[keep], ids[keep]])
                dangling = given & keep & ~pairs.isin(valid_targets)
                if not dangling.any():
                    break
                flag(dangling, "reply_to", "reply_to points to no utterance of this conversation")
    problems.sort(key=lambda item: item[0])
    return [problem for _, problem in problems], bad


def validate(
    raw: pd.DataFrame,
    source: str = "<table>",
    *,
    skip_invalid: bool = False,
) -> pd.DataFrame:
    """Validate and normalise a raw utterance table.

    Raises :class:`InputError` listing every problem; with ``skip_invalid`` drops the invalid rows
    instead and records them in ``table.attrs["skipped"]`` (a list of :class:`Problem`).
    Returns the table sorted by conversation (first appearance) and turn, with ``id`` and
    ``turn`` filled in (file order when absent) and text columns as strings. Each row's place in
    the source ("line 12", "row 4") is kept in ``table.attrs["locations"]`` so that later checks
    (e.g. of human codes) can name it.
    """
    if LOCATION in raw.columns:
        locations = Locations(raw[LOCATION].to_numpy())
    else:
        known = raw.attrs.get("locations")  # a table validated before keeps its file locations
        if known is not None and len(known) == len(raw):
            locations = known if isinstance(known, Locations) else Locations(list(known))
        else:
            locations = Locations.rows(len(raw))
    missing = [column for column in REQUIRED_COLUMNS if column not in raw.columns]
    if missing:
        raise InputError(
            Problem(source, "header", missing[0], f"missing required column(s): {', '.join(missing)}")
        )
    problems, bad = find_problems(raw, source, locations)
    if problems and not skip_invalid:
        raise InputError(problems)
    table, positions = _normalise(raw, np.flatnonzero(~bad) if bad.any() else None)
    table.attrs["locations"] = locations.take(positions)
    table.attrs["skipped"] = problems
    table.attrs["source"] = source
    return table


def _as_str(values: pd.Series | np.ndarray | pd.api.extensions.ExtensionArray):
    """``values.astype(str)``: Arrow-backed strings are kept as they are (no Python strings made); other
    columns become object arrays (columns of Python strings are kept as they are; a categorical becomes
    an object array sharing one string per category)."""
    if isinstance(values, pd.api.extensions.ExtensionArray) and not isinstance(values, np.ndarray):
        series = pd.Series(values, copy=False)
        if is_arrow_string(series):
            return values
        if isinstance(series.dtype, pd.CategoricalDtype):
            categories = np.asarray(series.cat.categories.astype(str), dtype=object)
            return categories.take(series.cat.codes.to_numpy())
        values = np.asarray(values, dtype=object)
    array = np.asarray(values) if not isinstance(values, pd.Series) else values.to_numpy()
    if array.dtype == object and pd.api.types.infer_dtype(array, skipna=False) == "string":
        return array
    return pd.Series(values).astype(str).to_numpy()


def normalise(table: pd.DataFrame) -> pd.DataFrame:
    """Order rows, fill ``id``/``turn``, and give the core columns their types (valid input only)."""
    return _normalise(table, None)[0]


def _normalise(table: pd.DataFrame, kept: np.ndarray | None) -> tuple[pd.DataFrame, np.ndarray]:
    """:func:`normalise` of the rows ``kept`` (all when None), without the :data:`LOCATION` column; also returns
    each output row's position in ``table``. Each column is taken once (no intermediate table copies)."""
    names = [name for name in table.columns if name != LOCATION]
    columns: dict[str, object] = {}
    for name in names:
        column = table[name]
        # numpy-backed columns as their ndarray (pandas' NumpyExtensionArray recomputes its missing-value mask
        # whenever it is converted back, a full pass over a column of strings); extension arrays as they are
        values = column.to_numpy() if isinstance(column.dtype, np.dtype) else column.array
        columns[name] = values if kept is None else values.take(kept)
    for column in (CONVERSATION, SPEAKER, TEXT) + (("id",) if "id" in columns else ()):
        columns[column] = _as_str(columns[column])
    if "reply_to" in columns:
        reply = pd.Series(columns["reply_to"])
        given = ~_blank(reply)
        columns["reply_to"] = reply.astype("string").where(given, pd.NA).astype(object).to_numpy()
    order = pd.factorize(columns[CONVERSATION])[0]
    if "turn" in columns:
        turn = pd.to_numeric(pd.Series(columns["turn"])).to_numpy().astype("int64")
    else:
        turn = pd.Series(order).groupby(order, sort=False).cumcount().to_numpy().astype("int64")
    columns["turn"] = turn
    if _in_order(order, turn):        # already sorted (the usual case): the sort below would be the identity
        rows = np.arange(len(order))
        identity = True
    else:
        rows = np.lexsort((turn, order))  # stable: file order breaks ties
        identity = bool(np.array_equal(rows, np.arange(len(rows))))
    if not identity:
        columns = {name: values.take(rows) for name, values in columns.items()}
        order = order[rows]
    positions = rows if kept is None else kept[rows]
    if "id" not in columns:
        columns["id"] = _make_ids(columns[CONVERSATION], columns["turn"], order)
    if "topics" in columns:
        columns["topics"] = parse_topics(pd.Series(columns["topics"])).to_numpy()
    leading = ["id", CONVERSATION, SPEAKER, "turn", TEXT]
    leading += [c for c in ("timestamp", "reply_to") if c in columns]
    ordered = leading + [c for c in columns if c not in leading]
    return pd.DataFrame({name: columns[name] for name in ordered}, copy=False), positions


def _in_order(codes: np.ndarray, turn: np.ndarray) -> bool:
    """Whether rows are already sorted by (conversation code, turn), i.e. ``np.lexsort((turn, codes))`` is the
    identity (codes number conversations in order of first appearance)."""
    if len(codes) < 2:
        return True
    step = np.diff(codes)
    return bool(np.all((step > 0) | ((step == 0) & (np.diff(turn) >= 0))))


def _make_ids(conversation, turn: np.ndarray, codes: np.ndarray | None = None):
    """``"<conversation_id>:<turn>"`` per row as Arrow-backed strings (one buffer, no per-row objects).

    ``codes`` (optional): ``pd.factorize`` codes of ``conversation``; the distinct ids are then converted to Arrow
    strings once and gathered, instead of converting every row's id.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if (codes is not None and len(codes) and isinstance(conversation, np.ndarray) and conversation.dtype == object
            and np.all(codes >= 0)):
        first = np.full(int(codes.max()) + 1, len(codes), dtype=np.int64)
        np.minimum.at(first, codes, np.arange(len(codes)))
        distinct = arrow_strings(pd.Series(conversation[first], copy=False))
        if hasattr(distinct, "_pa_array"):
            conversation = type(distinct)(pc.take(distinct._pa_array, pa.array(codes)))
        else:
            conversation = arrow_strings(pd.Series(conversation, copy=False))
    else:
        conversation = arrow_strings(pd.Series(conversation, copy=False))
    left = conversation._pa_array if hasattr(conversation, "_pa_array") else pa.chunked_array([pa.array(conversation)])
    right = pa.array(np.asarray(turn)).cast(left.type)
    joined = pc.binary_join_element_wise(left, right, pa.scalar(":", left.type))
    return pd.array(joined, dtype=conversation.dtype) if not hasattr(conversation, "_pa_array") else type(conversation)(joined)


def parse_topics(values: pd.Series) -> pd.Series:
    """Topics as lists of ids; flat text ("a;b") is split on :data:`TOPIC_SEPARATOR`.

    Lists that already hold only strings are kept (the same list objects), not copied.
    """

    def as_list(value: object) -> list[str]:
        if type(value) is list and all(type(v) is str for v in value):
            return value  # already a list of ids: shared, not copied
        if isinstance(value, (list, tuple, np.ndarray)):
            return [str(v) for v in value]
        if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
            return []
        return [part.strip() for part in str(value).split(TOPIC_SEPARATOR) if part.strip()]

    # lists shared between rows (as reciprocity.corpus.compact leaves them) are checked once: rows are grouped by
    # the identity of their value (all values stay alive in ``items``, so identities are unique), each distinct
    # list is parsed once and shared; text is parsed once per distinct string (rows with the same text share the
    # list); other values (tuples, arrays, numbers) are parsed row by row
    items = values.to_numpy(dtype=object)
    out = np.empty(len(items), dtype=object)
    if not len(items):
        return pd.Series(out, index=values.index, dtype=object)
    codes, _ = pd.factorize(np.fromiter(map(id, items), dtype=np.int64, count=len(items)))
    first = np.full(int(codes.max()) + 1, len(items), dtype=np.int64)
    np.minimum.at(first, codes, np.arange(len(items)))
    distinct = items[first]
    is_list = np.fromiter((type(value) is list for value in distinct), dtype=bool, count=len(distinct))
    parsed = np.empty(len(distinct), dtype=object)
    for k in np.flatnonzero(is_list):
        parsed[k] = as_list(distinct[k])
    out[:] = parsed[codes]
    rest = np.flatnonzero(~is_list[codes])
    if len(rest) and pd.api.types.infer_dtype(items[rest], skipna=True) in ("string", "empty"):
        # text and missing values only: parse each distinct string once (missing -> code -1 -> the last slot, [])
        text_codes, texts = pd.factorize(items[rest])
        parsed_text = np.empty(len(texts) + 1, dtype=object)
        parsed_text[:-1] = [as_list(text) for text in texts]
        parsed_text[-1] = []
        out[rest] = parsed_text[text_codes]
    else:
        for i in rest:
            out[i] = as_list(items[i])
    return pd.Series(out, index=values.index, dtype=object)
