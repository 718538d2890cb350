"""Rebuild an :class:`~reciprocity.analyze.Analysis` from the files ``Analysis.save`` wrote."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd

from reciprocity.errors import InputError, Problem
from reciprocity.schema import CONVERSATION, SPEAKER

REQUIRED = ("utterances.parquet", "conversations.csv", "speakers.csv", "summary.json")


def _as_list(value: object) -> list:
    if value is None:
        return []
    if isinstance(value, float) and np.isnan(value):
        return []
    if isinstance(value, str):
        return [t for t in value.split(";") if t]
    return [str(v) for v in value]


def load_analysis(out_dir: str | Path):
    """Read utterances.parquet, conversations.csv, speakers.csv, summary.json and any extra tables."""
    from reciprocity.analyze import Analysis

    out = Path(out_dir)
    if not out.is_dir():
        raise InputError(Problem(str(out), "directory", None, "no such directory (give the --out folder of "
                                                                "`reciprocity analyze`)"))
    missing = [name for name in REQUIRED if not (out / name).exists()]
    if missing:
        raise InputError(Problem(str(out), "directory", None, f"missing {', '.join(missing)} (not an output folder "
                                                              "of `reciprocity analyze`?)"))
    utterances = pd.read_parquet(out / "utterances.parquet")
    if "topics" in utterances.columns:
        utterances["topics"] = utterances["topics"].map(_as_list)
    keys = {CONVERSATION: str, SPEAKER: str}
    conversations = pd.read_csv(out / "conversations.csv", dtype={CONVERSATION: str})
    speakers = pd.read_csv(out / "speakers.csv", dtype=keys)
    utterances[CONVERSATION] = utterances[CONVERSATION].astype(str)
    try:
        summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise InputError(Problem(str(out / "summary.json"), f"line {error.lineno}", None, "invalid JSON")) from None
    extra = {}
    fields = {f.name for f in dataclasses.fields(Analysis)}
    for name, filename in getattr(Analysis, "TABLE_FILES", {}).items():
        path = out / filename
        if name not in fields or not path.exists():
            continue
        try:
            frame = pd.read_parquet(path) if filename.endswith(".parquet") else pd.read_csv(path, dtype={CONVERSATION: str})
        except pd.errors.EmptyDataError:
            frame = pd.DataFrame()
        extra[name] = frame
    return Analysis(utterances, conversations, speakers, summary, **extra)
