"""Shared helpers for the dataset adapters: locating the data folder and shaping the utterance table."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import InputError, Problem
from ..schema import CONVERSATION, SPEAKER, TEXT

#: Environment variable naming the folder that holds the corpora (one sub-folder per dataset).
DATA_ENV_VAR = "RECIPROCITY_DATA"

#: Flag column present in every adapter's output: True where the source utterance text is empty or missing.
#: Such rows are *kept* (never silently dropped) so that turn order and reply chains stay faithful to the source.
EMPTY_TEXT = "empty_text"

#: Columns placed first, in this order, when present.
LEADING_COLUMNS: tuple[str, ...] = (
    "dataset",
    "split",
    CONVERSATION,
    "id",
    "turn",
    SPEAKER,
    "role",
    TEXT,
    "reply_to",
    EMPTY_TEXT,
)

#: Separator for multi-valued label columns (strategies, knowledge sources), as in ``schema.TOPIC_SEPARATOR``.
LABEL_SEPARATOR = ";"


def default_data_dir() -> Path:
    """The folder holding the corpora.

    ``$RECIPROCITY_DATA`` when set (and non-empty), otherwise ``../shared/data`` relative to the current working
    directory. The path is returned whether or not it exists; loaders raise :class:`FileNotFoundError` naming the
    exact missing file.
    """
    env = os.environ.get(DATA_ENV_VAR, "").strip()
    if env:
        return Path(env).expanduser()
    return (Path.cwd() / ".." / "shared" / "data").resolve()


def resolve_data_dir(data_dir: str | os.PathLike[str] | None) -> Path:
    return default_data_dir() if data_dir is None else Path(data_dir).expanduser()


def dataset_dir(data_dir: str | os.PathLike[str] | None, name: str) -> Path:
    """``<data_dir>/<name>``: accepts either the shared data root or the dataset folder itself."""
    root = resolve_data_dir(data_dir)
    if root.name == name and not (root / name).is_dir():
        return root
    return root / name


def require_file(path: Path) -> Path:
    if not path.is_file():
        raise FileNotFoundError(f"dataset file not found: {path}")
    return path


def normalise_splits(splits: str | Iterable[str] | None, allowed: Sequence[str], aliases: dict[str, tuple[str, ...]] | None = None) -> list[str]:
    """Validate a ``splits`` option: a name or an iterable of names (aliases expand), order kept, duplicates removed."""
    if splits is None:
        return list(allowed)
    if isinstance(splits, str):
        splits = [splits]
    out: list[str] = []
    for s in splits:
        expanded = (aliases or {}).get(s, (s,))
        for e in expanded:
            if e not in allowed:
                known = sorted(set(allowed) | set(aliases or {}))
                raise ValueError(f"unknown split {s!r}; choose from {known}")
            if e not in out:
                out.append(e)
    if not out:
        raise ValueError("no splits selected")
    return out


def read_json_file(path: Path) -> Any:
    """Parse a whole-file JSON document, turning a syntax error into an :class:`InputError` with line/column."""
    try:
        with path.open(encoding="utf-8") as fh:
            return json.load(fh)
    except json.JSONDecodeError as exc:
        raise InputError(Problem(str(path), f"line {exc.lineno}", None, f"invalid JSON ({exc.msg}, column {exc.colno})")) from exc


def clean_text(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Strip surrounding whitespace; missing text becomes ``""``. Returns (text, empty_flag)."""
    text = values.astype("object").where(values.notna(), "")
    text = text.map(lambda v: v if isinstance(v, str) else str(v)).str.strip()
    return text, text.eq("")


def join_labels(values: Iterable[Any]) -> Any:
    """Join non-empty labels with ``;`` (order kept, duplicates removed); NA when there are none."""
    seen: list[str] = []
    for v in values:
        if v is None or v is pd.NA or (isinstance(v, float) and v != v):
            continue
        s = str(v).strip()
        if s and s not in seen:
            seen.append(s)
    return LABEL_SEPARATOR.join(seen) if seen else pd.NA


def finalise(df: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """Add ``dataset``, ``turn``, ``id``, ``reply_to`` and ``empty_text`` to rows already in conversation order.

    ``turn`` is the 0-based position within the conversation, ``id`` is ``"<conversation_id>:<turn>"`` (unique because
    conversation ids are unique across the table) and ``reply_to`` is the id of the previous utterance in the same
    conversation (NA for the first).
    """
    df = df.reset_index(drop=True).copy()
    df[CONVERSATION] = df[CONVERSATION].astype(str)
    df[SPEAKER] = df[SPEAKER].astype(str)
    text, empty = clean_text(df[TEXT])
    df[TEXT] = text
    df[EMPTY_TEXT] = empty.astype(bool)
    df["dataset"] = dataset
    # Conversations must be contiguous blocks: cumcount follows row order within each conversation.
    df["turn"] = df.groupby(CONVERSATION, sort=False).cumcount().astype("int64")
    df["id"] = df[CONVERSATION] + ":" + df["turn"].astype(str)
    prev = df.groupby(CONVERSATION, sort=False)["id"].shift(1)
    df["reply_to"] = prev.astype("object").where(prev.notna(), pd.NA)
    leading = [c for c in LEADING_COLUMNS if c in df.columns]
    rest = [c for c in df.columns if c not in leading]
    out = df[leading + rest]
    if not out["id"].is_unique:  # pragma: no cover - guards against non-contiguous conversation blocks
        dup = out.loc[out["id"].duplicated(), "id"].iloc[0]
        raise ValueError(f"{dataset}: duplicate utterance id {dup!r} (conversation rows not contiguous?)")
    return out


def ordinal(series: pd.Series, scale: dict[str, int]) -> pd.Series:
    """Map ordinal answer strings to integer scores (nullable ``Int64``; unknown/missing → NA)."""
    return series.map(scale).astype("Int64")
