"""PersuasionForGood donation-persuasion chats (Wang et al. 2019; Apache-2.0).

Sources in ``<data_dir>/persuasionforgood/``:

* ``full_dialog.csv`` (columns ``Unit, Turn, B4, B2``; one row per utterance, 1,017 dialogues) and ``full_info.csv``
  (``B2`` dialogue, ``B3`` user, ``B4`` role, ``B6`` actual donation, ``B7`` number of turns, ``*.x`` personality,
  values and demographics);
* ``300_dialog.csv`` (``B2, B4, Turn, Unit, er_label_1, ee_label_1, er_label_2, ee_label_2, neg, neu, pos``; one row
  per *sentence*, 300 annotated dialogues) and ``300_info.csv`` (``B2, B3, B4, B5`` intended donation, ``B6``, ``B7``).

``B4`` is the role: 0 persuader, 1 persuadee. ``Turn`` in the source is a pair index (both speakers share it); the
table's ``turn`` is the 0-based utterance order and the source value is kept as ``source_turn``. Row order follows
the source file (in five annotated dialogues the file interleaves the two speakers inside one source turn; the file
order is kept, so such a source turn yields more than one utterance per speaker).

Malformed input (missing column, non-integer ``Turn``/``B4``, ``B4`` outside {0, 1}, an info row missing for a
dialogue/role) raises :class:`~reciprocity.errors.InputError` naming the file, the row (1-based data row, header
excluded; "line" = row + 1) and the field. Empty ``Unit`` cells are kept with ``empty_text=True``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import pandas as pd

from ..errors import InputError, Problem
from ._common import dataset_dir, finalise, join_labels, require_file

NAME = "persuasionforgood"
ROLES = {0: "persuader", 1: "persuadee"}


def _read_csv(path: Path, required: tuple[str, ...]) -> pd.DataFrame:
    try:
        df = pd.read_csv(path, dtype={"B2": str, "B3": str, "Unit": str}, keep_default_na=True)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(Problem(str(path), "file", None, f"cannot parse CSV: {exc}")) from exc
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise InputError([Problem(str(path), "line 1 (header)", c, "required column missing") for c in missing])
    return df


def _check_int(df: pd.DataFrame, path: Path, col: str, allowed: set[int] | None = None) -> pd.Series:
    values = pd.to_numeric(df[col], errors="coerce")
    bad = values.isna() | (values % 1 != 0)
    if allowed is not None:
        bad |= ~values.isin(list(allowed))
    if bad.any():
        problems = [
            Problem(str(path), f"row {i + 1} (line {i + 2})", col, f"expected {'one of ' + str(sorted(allowed)) if allowed else 'an integer'}, got {df[col].iloc[i]!r}")
            for i in bad.to_numpy().nonzero()[0][:20]
        ]
        raise InputError(problems)
    return values.astype("int64")


def _info_table(path: Path, dialog_path: Path, dialogs: pd.DataFrame) -> pd.DataFrame:
    info = _read_csv(path, ("B2", "B3", "B4", "B6"))
    info["B4"] = _check_int(info, path, "B4", set(ROLES))
    dup = info.duplicated(["B2", "B4"], keep="first")
    if dup.any():
        i = int(dup.to_numpy().nonzero()[0][0])
        raise InputError(Problem(str(path), f"row {i + 1} (line {i + 2})", "B4", f"second info row for dialogue {info['B2'].iloc[i]!r}, role {info['B4'].iloc[i]}"))
    keys = dialogs[["B2", "B4"]].drop_duplicates()
    merged = keys.merge(info[["B2", "B4"]], on=["B2", "B4"], how="left", indicator=True)
    lacking = merged[merged["_merge"] == "left_only"]
    if not lacking.empty:
        raise InputError(
            [
                Problem(str(path), "dialogue " + str(r.B2), "B3", f"no info row for role B4={r.B4} (used in {dialog_path.name})")
                for r in lacking.head(20).itertuples()
            ]
        )
    out = pd.DataFrame({"B2": info["B2"], "B4": info["B4"], "user_id": info["B3"].astype(str)})
    out["donation"] = pd.to_numeric(info["B6"], errors="coerce")
    if "B5" in info:
        out["intended_donation"] = pd.to_numeric(info["B5"], errors="coerce")
    if "B7" in info:
        # B7 describes the dialogue; it is blank on one of the two rows for a few dialogues, so take either.
        n_turns = pd.to_numeric(info["B7"], errors="coerce")
        out["n_turns"] = n_turns.groupby(info["B2"]).transform("max").astype("Int64")
    for col in info.columns:
        if col.endswith(".x"):
            out["participant_" + col[:-2]] = info[col]
    return out


def _with_info(df: pd.DataFrame, info: pd.DataFrame) -> pd.DataFrame:
    df = df.merge(info, on=["B2", "B4"], how="left", validate="many_to_one")
    # Conversation-level outcomes repeated on every row: each side's actual donation.
    by_role = info.pivot(index="B2", columns="B4", values="donation").rename(columns={0: "persuader_donation", 1: "persuadee_donation"})
    df = df.merge(by_role, left_on="B2", right_index=True, how="left")
    if "intended_donation" in info:
        intended = info.loc[info["B4"] == 1, ["B2", "intended_donation"]].rename(columns={"intended_donation": "persuadee_intended_donation"})
        df = df.drop(columns="intended_donation").merge(intended, on="B2", how="left")
    return df


def _load_full(folder: Path) -> pd.DataFrame:
    dpath, ipath = require_file(folder / "full_dialog.csv"), require_file(folder / "full_info.csv")
    raw = _read_csv(dpath, ("B2", "B4", "Turn", "Unit"))
    raw["B4"] = _check_int(raw, dpath, "B4", set(ROLES))
    raw["Turn"] = _check_int(raw, dpath, "Turn")
    df = pd.DataFrame({"B2": raw["B2"], "B4": raw["B4"], "source_turn": raw["Turn"], "text": raw["Unit"]})
    return _with_info(df, _info_table(ipath, dpath, raw))


def _load_annotated(folder: Path, unit: str) -> pd.DataFrame:
    dpath, ipath = require_file(folder / "300_dialog.csv"), require_file(folder / "300_info.csv")
    raw = _read_csv(dpath, ("B2", "B4", "Turn", "Unit", "er_label_1", "ee_label_1"))
    raw["B4"] = _check_int(raw, dpath, "B4", set(ROLES))
    raw["Turn"] = _check_int(raw, dpath, "Turn")
    is_ee = raw["B4"].eq(1)
    # Each sentence carries labels for its own side only: er_* for the persuader, ee_* for the persuadee.
    label_1 = raw["er_label_1"].where(~is_ee, raw["ee_label_1"])
    label_2 = None
    if "er_label_2" in raw and "ee_label_2" in raw:
        label_2 = raw["er_label_2"].where(~is_ee, raw["ee_label_2"])
    sent = pd.DataFrame({"B2": raw["B2"], "B4": raw["B4"], "source_turn": raw["Turn"], "text": raw["Unit"]})
    sent["strategy"] = label_1.where(label_1.notna(), pd.NA)
    sent["strategy_2"] = label_2.where(label_2.notna(), pd.NA) if label_2 is not None else pd.NA
    for col in ("neg", "neu", "pos"):
        if col in raw:
            sent[f"sentiment_{col}"] = pd.to_numeric(raw[col], errors="coerce")
    # An utterance is a maximal run of consecutive rows with the same dialogue, source turn and role.
    key = sent[["B2", "source_turn", "B4"]]
    run = (key != key.shift()).any(axis=1).cumsum() - 1  # global run number
    sent["sentence_index"] = sent.groupby(run).cumcount()
    sent["utterance_index"] = run - run.groupby(sent["B2"], sort=False).transform("min")  # 0-based per dialogue
    info = _info_table(ipath, dpath, raw)
    full_info = folder / "full_info.csv"
    if full_info.is_file():  # personality/demographics live in full_info.csv only
        traits = _info_table(full_info, dpath, raw.iloc[0:0])
        trait_cols = [c for c in traits.columns if c.startswith("participant_")]
        info = info.merge(traits[["B2", "B4", *trait_cols]], on=["B2", "B4"], how="left")
    if unit == "sentence":
        sent["strategies"] = sent["strategy"]
        return _with_info(sent, info)
    text = sent["text"].where(sent["text"].notna(), "").astype(str).str.strip()
    sent = sent.assign(_text=text, _labels=list(zip(sent["strategy"], sent["strategy_2"])))
    g = sent.groupby(run, sort=True)
    utt = g[["B2", "B4", "source_turn"]].first()
    utt["text"] = g["_text"].agg(lambda s: " ".join(t for t in s if t))
    utt["n_sentences"] = g.size().astype("int64")
    utt["strategies"] = g["_labels"].agg(lambda s: join_labels(lab for pair in s for lab in pair))
    utt["sentence_strategies"] = g["strategy"].agg(lambda s: "|".join("" if pd.isna(v) else str(v) for v in s))
    for col in ("sentiment_neg", "sentiment_neu", "sentiment_pos"):
        if col in sent:
            utt[col] = g[col].mean()
    return _with_info(utt.reset_index(drop=True), info)


def load_persuasionforgood(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    annotated: bool = False,
    unit: Literal["utterance", "sentence"] = "utterance",
) -> pd.DataFrame:
    """Load PersuasionForGood as an utterance table.

    ``annotated=False`` (default): the 1,017 ``full_*`` dialogues. ``annotated=True``: the 300 ``300_*`` dialogues
    with strategy labels; ``unit="utterance"`` joins the sentence units of an utterance (``strategies`` =
    ``;``-joined distinct labels, ``sentence_strategies`` = ``|``-joined per-sentence first labels, ``n_sentences``,
    mean ``sentiment_*`` — the sentiment columns are copied from the source file and are not human labels);
    ``unit="sentence"`` keeps one row per sentence (``strategy``, ``strategy_2``,
    ``utterance_index``, ``sentence_index``). Personality/demographic ``participant_*`` columns come from
    ``full_info.csv`` (for the annotated set only when that file is present).

    Columns: ``dataset, conversation_id`` (``B2``), ``id, turn, speaker`` (the user id ``B3``), ``role``
    (``persuader``/``persuadee``), ``text, reply_to, empty_text, source_turn, user_id, donation`` (this speaker's
    actual donation ``B6``), ``n_turns`` (``B7``), conversation-level ``persuader_donation``, ``persuadee_donation``
    (and ``persuadee_intended_donation`` = ``B5`` for the annotated set), ``participant_*`` traits.
    """
    if unit not in ("utterance", "sentence"):
        raise ValueError(f"unit must be 'utterance' or 'sentence', got {unit!r}")
    folder = dataset_dir(data_dir, NAME)
    df = _load_annotated(folder, unit) if annotated else _load_full(folder)
    df["role"] = df["B4"].map(ROLES)
    df["speaker"] = df["user_id"].where(df["user_id"].notna(), df["role"])
    df = df.rename(columns={"B2": "conversation_id"}).drop(columns=["B4"])
    if annotated:
        df["split"] = "annotated"
    return finalise(df, NAME)


__all__ = ["load_persuasionforgood"]
