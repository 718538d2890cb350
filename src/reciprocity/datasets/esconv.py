"""ESConv emotional-support conversations (Liu et al. 2021, THU-COAI; academic research use only).

Source: ``<data_dir>/esconv/valid.jsonl`` — one JSON object per line (one dialogue) with ``emotion_type``,
``problem_type``, ``situation``, ``init_intensity``, ``final_intensity`` and ``dialog``, a list of turns with ``text``
and ``speaker`` (``usr`` = help seeker, ``sys`` = supporter). Supporter turns carry ``strategy`` / ``all_strategy``;
seeker turns carry ``feedback`` (1-5, mostly null). The machine-made ``vad`` and ``cause`` fields are ignored.

Malformed input (a line that is not JSON, a missing ``dialog``/``text``/``speaker``, an unknown speaker code, a
non-integer intensity) raises :class:`~reciprocity.errors.InputError` naming the file, the line and the field; every
problem in the file is collected before raising. Blank lines are skipped (they hold no dialogue). Turns with empty
text are kept with ``empty_text=True``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import InputError, Problem
from ._common import dataset_dir, finalise, join_labels, require_file

NAME = "esconv"
ROLES = {"usr": "seeker", "sys": "supporter"}
DIALOGUE_FIELDS = ("emotion_type", "problem_type", "situation")


def _int_or_none(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    raise ValueError


def _parse(path: Path) -> list[dict[str, Any]]:
    problems: list[Problem] = []
    records: list[dict[str, Any]] = []
    src = str(path)
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            where = f"line {lineno}"
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                problems.append(Problem(src, where, None, f"invalid JSON ({exc.msg}, column {exc.colno})"))
                continue
            if not isinstance(obj, dict):
                problems.append(Problem(src, where, None, "expected a JSON object (one dialogue per line)"))
                continue
            dialog = obj.get("dialog")
            if not isinstance(dialog, list):
                problems.append(Problem(src, where, "dialog", "missing or not a list of turns"))
                continue
            rec: dict[str, Any] = {"source_line": lineno}
            for fld in ("init_intensity", "final_intensity"):
                try:
                    rec[fld] = _int_or_none(obj.get(fld))
                except ValueError:
                    problems.append(Problem(src, where, fld, f"expected an integer, got {obj.get(fld)!r}"))
            for fld in DIALOGUE_FIELDS:
                if fld in obj:
                    rec[fld] = obj[fld]
            turns = []
            for i, turn in enumerate(dialog):
                tf = f"dialog[{i}]"
                if not isinstance(turn, dict):
                    problems.append(Problem(src, where, tf, "expected a JSON object"))
                    continue
                speaker = turn.get("speaker")
                if speaker not in ROLES:
                    problems.append(Problem(src, where, f"{tf}.speaker", f"expected 'usr' or 'sys', got {speaker!r}"))
                    continue
                text = turn.get("text")
                if text is not None and not isinstance(text, str):
                    problems.append(Problem(src, where, f"{tf}.text", f"expected a string, got {type(text).__name__}"))
                    continue
                if "text" not in turn:
                    problems.append(Problem(src, where, f"{tf}.text", "missing"))
                    continue
                try:
                    feedback = _int_or_none(turn.get("feedback"))
                except ValueError:
                    problems.append(Problem(src, where, f"{tf}.feedback", f"expected 1-5 or null, got {turn.get('feedback')!r}"))
                    continue
                all_strategy = turn.get("all_strategy")
                if isinstance(all_strategy, str):
                    all_strategy = [all_strategy]
                turns.append(
                    {
                        "speaker": speaker,
                        "text": text,
                        "strategy": turn.get("strategy"),
                        "all_strategies": join_labels(all_strategy or []),
                        "feedback": feedback,
                    }
                )
            rec["dialog"] = turns
            records.append(rec)
    if problems:
        raise InputError(problems)
    return records


def load_esconv(data_dir: str | os.PathLike[str] | None = None, *, file: str = "valid.jsonl") -> pd.DataFrame:
    """Load ESConv as an utterance table.

    Columns: ``dataset, conversation_id, id, turn, speaker`` (``usr``/``sys``), ``role`` (``seeker``/``supporter``),
    ``text, reply_to, empty_text``, ``strategy`` (supporter rows; e.g. ``"Self-disclosure"``), ``all_strategies``
    (``;``-joined), ``feedback`` (seeker rows, Int64 1-5), dialogue-level ``emotion_type``, ``problem_type``,
    ``situation``, seeker outcomes ``init_intensity``, ``final_intensity``, ``distress_drop`` (= init − final) repeated
    on every row of the conversation, and ``source_line``. ``conversation_id`` is ``"esconv-<line>"``.
    """
    path = require_file(dataset_dir(data_dir, NAME) / file)
    records = _parse(path)
    meta = [c for c in ("source_line", "init_intensity", "final_intensity", *DIALOGUE_FIELDS) if any(c in r for r in records)]
    if records:
        df = pd.json_normalize(records, record_path="dialog", meta=meta, errors="ignore")
    else:
        df = pd.DataFrame(columns=["speaker", "text", "strategy", "all_strategies", "feedback", *meta])
    df["conversation_id"] = "esconv-" + df["source_line"].astype(str)
    df["role"] = df["speaker"].map(ROLES)
    df["strategy"] = df["strategy"].where(df["strategy"].notna(), pd.NA)
    for col in ("feedback", "init_intensity", "final_intensity", "source_line"):
        if col in df:
            df[col] = pd.to_numeric(df[col]).astype("Int64")
    if "init_intensity" in df and "final_intensity" in df:
        df["distress_drop"] = (df["init_intensity"] - df["final_intensity"]).astype("Int64")
    return finalise(df, NAME)
