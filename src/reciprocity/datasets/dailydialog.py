"""DailyDialog (Li et al. 2017; original release CC BY-NC-SA 4.0), validation and test halves.

Sources in ``<data_dir>/dailydialog/``: ``dialogues_<split>.txt`` (one dialogue per line, turns terminated by
``__eou__``), ``dialogues_act_<split>.txt`` and ``dialogues_emotion_<split>.txt`` (one space-separated integer per
turn, line-aligned with the text file). Speakers alternate ``A``, ``B``, ``A``, … (the corpus has no speaker field).

Validation (raises :class:`~reciprocity.errors.InputError` naming the file, the 1-based line and the field, with
every problem in the split collected first): the three files must have the same number of dialogue lines; on each
line the act and emotion counts must equal the turn count; every code must be a known integer
(acts 1-4, emotions 0-6). Lines are aligned by line number; trailing blank lines are ignored and a line blank in all three
files holds no dialogue. Empty turns
(two ``__eou__`` in a row) are kept with ``empty_text=True``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from ..errors import InputError, Problem
from ._common import dataset_dir, finalise, normalise_splits, require_file

NAME = "dailydialog"
SPLITS = ("validation", "test")
ALIASES = {"valid": ("validation",), "val": ("validation",)}
EOU = "__eou__"
ACTS = {1: "inform", 2: "question", 3: "directive", 4: "commissive"}
EMOTIONS = {0: "no emotion", 1: "anger", 2: "disgust", 3: "fear", 4: "happiness", 5: "sadness", 6: "surprise"}


def _lines(path: Path) -> list[str]:
    """The file's lines without line terminators; trailing blank lines (end-of-file newlines) are dropped."""
    with path.open(encoding="utf-8") as fh:
        lines = [line.rstrip("\r\n") for line in fh]
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def _split_turns(line: str) -> list[str]:
    parts = line.split(EOU)
    if parts and not parts[-1].strip():
        parts = parts[:-1]  # text after the final __eou__ is only whitespace
    return parts


def _load_split(folder: Path, split: str) -> pd.DataFrame:
    tpath = require_file(folder / f"dialogues_{split}.txt")
    apath = require_file(folder / f"dialogues_act_{split}.txt")
    epath = require_file(folder / f"dialogues_emotion_{split}.txt")
    texts, acts, emos = _lines(tpath), _lines(apath), _lines(epath)
    problems: list[Problem] = []
    for path, rows, field in ((apath, acts, "act"), (epath, emos, "emotion")):
        if len(rows) != len(texts):
            # Point at the first line that has no counterpart: one past the end of the shorter file.
            where = f"line {min(len(rows), len(texts)) + 1}"
            problems.append(Problem(str(path), where, field, f"{len(rows)} dialogue lines but {tpath.name} has {len(texts)}"))
    if problems:
        raise InputError(problems)

    records = []
    for lineno, (text, act, emo) in enumerate(zip(texts, acts, emos), start=1):
        if not (text.strip() or act.strip() or emo.strip()):
            continue  # a blank line in all three files holds no dialogue
        turns = _split_turns(text)
        codes = {}
        for path, raw, field, names in ((apath, act, "act", ACTS), (epath, emo, "emotion", EMOTIONS)):
            tokens = raw.split()
            try:
                values = [int(tok) for tok in tokens]
            except ValueError:
                problems.append(Problem(str(path), f"line {lineno}", field, f"non-integer code in {raw.strip()!r}"))
                continue
            unknown = sorted({v for v in values if v not in names})
            if unknown:
                problems.append(Problem(str(path), f"line {lineno}", field, f"unknown code(s) {unknown}; expected {sorted(names)}"))
            if len(values) != len(turns):
                problems.append(
                    Problem(str(path), f"line {lineno}", field, f"{len(values)} codes but {tpath.name} line {lineno} has {len(turns)} turns")
                )
            codes[field] = values
        records.append({"source_line": lineno, "text": turns, "act_id": codes.get("act"), "emotion_id": codes.get("emotion")})
    if problems:
        raise InputError(problems)
    if not records:
        return pd.DataFrame(columns=["split", "conversation_id", "speaker", "text", "act_id", "act", "emotion_id", "emotion", "source_line"])

    df = pd.DataFrame.from_records(records).explode(["text", "act_id", "emotion_id"], ignore_index=True)
    df["split"] = split
    df["conversation_id"] = f"{split}-" + df["source_line"].astype(str)
    position = df.groupby("source_line", sort=False).cumcount()
    df["speaker"] = position.mod(2).map({0: "A", 1: "B"})
    df["act_id"] = df["act_id"].astype("int64")
    df["emotion_id"] = df["emotion_id"].astype("int64")
    df["act"] = df["act_id"].map(ACTS)
    df["emotion"] = df["emotion_id"].map(EMOTIONS)
    df["source_line"] = df["source_line"].astype("int64")
    return df[["split", "conversation_id", "speaker", "text", "act_id", "act", "emotion_id", "emotion", "source_line"]]


def load_dailydialog(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    splits: str | Iterable[str] | None = None,
) -> pd.DataFrame:
    """Load DailyDialog as an utterance table.

    ``splits``: ``"validation"`` (alias ``"valid"``) and/or ``"test"`` (default both: 2,000 dialogues).

    Columns: ``dataset, split, conversation_id`` (``"<split>-<line>"``), ``id, turn, speaker`` (``A``/``B``
    alternating), ``text, reply_to, empty_text, act_id, act`` (inform/question/directive/commissive),
    ``emotion_id, emotion`` (no emotion/anger/disgust/fear/happiness/sadness/surprise), ``source_line``.
    """
    folder = dataset_dir(data_dir, NAME)
    chosen = normalise_splits(splits, SPLITS, ALIASES)
    for s in chosen:  # report a missing file before parsing anything
        for stem in ("dialogues_", "dialogues_act_", "dialogues_emotion_"):
            require_file(folder / f"{stem}{s}.txt")
    df = pd.concat([_load_split(folder, s) for s in chosen], ignore_index=True)
    return finalise(df, NAME)
