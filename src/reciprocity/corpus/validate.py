"""Validation of the utterance table: every problem named by file, line/row and field.

The utterance table has one row per utterance with the required columns ``conversation_id``,
``speaker`` and ``text``; optional ``id``, ``turn``, ``timestamp`` and ``reply_to``; any other
column is kept as metadata.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from reciprocity.errors import InputError, Problem
from reciprocity.schema import CONVERSATION, REQUIRED_COLUMNS, SPEAKER, TEXT, TOPIC_SEPARATOR

#: Column holding each raw row's location ("line 12", "row 4") while a file is validated.
LOCATION = "__location__"


def _blank(values: pd.Series) -> pd.Series:
    """True where a value is missing or only whitespace."""
    as_text = values.astype("string")
    return values.isna() | as_text.str.strip().eq("").fillna(True)


def find_problems(raw: pd.DataFrame, source: str) -> tuple[list[Problem], np.ndarray]:
    """Check a raw table; return the problems and a boolean mask of rows to drop."""
    bad = np.zeros(len(raw), dtype=bool)
    problems: list[tuple[int, Problem]] = []
    locations = raw[LOCATION].to_numpy()

    def flag(mask: pd.Series | np.ndarray, field: str, message: str) -> None:
        for position in np.flatnonzero(np.asarray(mask)):
            problems.append((position, Problem(source, locations[position], field, message)))
        bad[np.asarray(mask)] = True

    for column in REQUIRED_COLUMNS:
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
        repeated = raw.assign(_turn=turns).duplicated([CONVERSATION, "_turn"], keep="first") & ~not_integer
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
    raw = raw.copy()
    if LOCATION not in raw.columns:
        known = raw.attrs.get("locations")  # a table validated before keeps its file locations
        raw[LOCATION] = known if known is not None and len(known) == len(raw) else [f"row {i + 1}" for i in range(len(raw))]
    missing = [column for column in REQUIRED_COLUMNS if column not in raw.columns]
    if missing:
        raise InputError(
            Problem(source, "header", missing[0], f"missing required column(s): {', '.join(missing)}")
        )
    problems, bad = find_problems(raw, source)
    if problems and not skip_invalid:
        raise InputError(problems)
    table = normalise(raw.loc[~bad])
    table.attrs["locations"] = table.pop(LOCATION).tolist()
    table.attrs["skipped"] = problems
    table.attrs["source"] = source
    return table


def normalise(table: pd.DataFrame) -> pd.DataFrame:
    """Order rows, fill ``id``/``turn``, and give the core columns their types (valid input only)."""
    table = table.copy()
    for column in (CONVERSATION, SPEAKER, TEXT):
        table[column] = table[column].astype(str)
    if "id" in table.columns:
        table["id"] = table["id"].astype(str)
    if "reply_to" in table.columns:
        given = ~_blank(table["reply_to"])
        table["reply_to"] = table["reply_to"].astype("string").where(given, pd.NA).astype(object)
    order = pd.factorize(table[CONVERSATION])[0]
    if "turn" in table.columns:
        table["turn"] = pd.to_numeric(table["turn"]).astype("int64")
    else:
        table["turn"] = table.groupby(CONVERSATION, sort=False).cumcount().astype("int64")
    table = (
        table.assign(_order=order)
        .sort_values(["_order", "turn"], kind="stable")
        .drop(columns="_order")
        .reset_index(drop=True)
    )
    if "id" not in table.columns:
        table.insert(0, "id", table[CONVERSATION] + ":" + table["turn"].astype(str))
    if "topics" in table.columns:
        table["topics"] = parse_topics(table["topics"])
    leading = ["id", CONVERSATION, SPEAKER, "turn", TEXT]
    leading += [c for c in ("timestamp", "reply_to") if c in table.columns]
    return table[leading + [c for c in table.columns if c not in leading]]


def parse_topics(values: pd.Series) -> pd.Series:
    """Topics as lists of ids; flat text ("a;b") is split on :data:`TOPIC_SEPARATOR`."""

    def as_list(value: object) -> list[str]:
        if isinstance(value, (list, tuple, np.ndarray)):
            return [str(v) for v in value]
        if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
            return []
        return [part.strip() for part in str(value).split(TOPIC_SEPARATOR) if part.strip()]

    return values.map(as_list)
