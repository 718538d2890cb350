"""CaSiNo campsite-negotiation dialogues (Chawla et al. 2021; CC BY 4.0).

Source: ``<data_dir>/casino/casino_{train,valid,test}.json`` — each a JSON list of dialogues with ``dialogue_id``,
``chat_logs`` (``text``, ``task_data``, ``id`` = ``mturk_agent_1``/``mturk_agent_2``), ``participant_info`` (per
agent: ``value2issue``, ``value2reason``, ``outcomes``, ``demographics``, ``personality``) and ``annotations``
(``[text, "label,label"]`` pairs for the non-deal utterances of the 396 annotated dialogues).

Deal actions (``Submit-Deal``, ``Accept-Deal``, ``Reject-Deal``, ``Walk-Away``) are kept as rows with
``is_deal_action=True`` unless ``include_deal_actions=False`` is passed explicitly. Annotations are aligned to
utterances in order by (whitespace-normalised) text, because a few dialogues have one annotation fewer than
utterances; an utterance with no matching annotation in an annotated dialogue gets ``strategies`` = NA.

A dialogue lacking ``dialogue_id``/``chat_logs``, a chat entry without a string ``text`` or a known ``id``, raises
:class:`~reciprocity.errors.InputError` naming the file, the dialogue (array index) and the field.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from typing import Any

import pandas as pd

from ..errors import InputError, Problem
from ._common import LABEL_SEPARATOR, dataset_dir, finalise, normalise_splits, ordinal, read_json_file, require_file

NAME = "casino"
SPLITS = ("train", "valid", "test")
AGENTS = ("mturk_agent_1", "mturk_agent_2")
DEAL_ACTIONS = frozenset({"Submit-Deal", "Accept-Deal", "Reject-Deal", "Walk-Away"})

SATISFACTION_SCALE = {
    "Extremely dissatisfied": 1,
    "Slightly dissatisfied": 2,
    "Undecided": 3,
    "Slightly satisfied": 4,
    "Extremely satisfied": 5,
}
LIKENESS_SCALE = {
    "Extremely dislike": 1,
    "Slightly dislike": 2,
    "Undecided": 3,
    "Slightly like": 4,
    "Extremely like": 5,
}
BIG_FIVE = ("extraversion", "agreeableness", "conscientiousness", "emotional-stability", "openness-to-experiences")


def _norm(text: Any) -> str:
    return " ".join(str(text).split())


def _participant_columns(info: dict[str, Any]) -> dict[str, Any]:
    """Flatten one participant's info to ``outcome_*``, ``big5_*``, ``svo``, demographics and priorities."""
    info = info or {}
    out: dict[str, Any] = {}
    outcomes = info.get("outcomes") or {}
    for key in ("points_scored", "satisfaction", "opponent_likeness"):
        out[f"outcome_{key}"] = outcomes.get(key)
    personality = info.get("personality") or {}
    out["svo"] = personality.get("svo")
    big5 = personality.get("big-five") or {}
    for key in BIG_FIVE:
        out[f"big5_{key.replace('-', '_')}"] = big5.get(key)
    demo = info.get("demographics") or {}
    for key in ("age", "gender", "ethnicity", "education"):
        out[key] = demo.get(key)
    v2i = info.get("value2issue") or {}
    v2r = info.get("value2reason") or {}
    for level in ("High", "Medium", "Low"):
        out[f"priority_{level.lower()}"] = v2i.get(level)
        out[f"reason_{level.lower()}"] = v2r.get(level)
    return out


def _align_annotations(texts: list[str], is_deal: list[bool], annotations: list[Any]) -> list[Any]:
    """Strategy labels per chat entry (``;``-joined), matching annotation texts in order; NA where none matches.

    Each annotation is matched to the next non-deal utterance (at or after the previous match) with the same
    whitespace-normalised text; an annotation with no such utterance is ignored.
    """
    labels: list[Any] = [pd.NA] * len(texts)
    keys = [_norm(t) for t in texts]
    start = 0
    for ann in annotations:
        ann_key = _norm(ann[0])
        for i in range(start, len(texts)):
            if not is_deal[i] and keys[i] == ann_key:
                parts = [p.strip() for p in str(ann[1] or "").split(",") if p.strip()]
                labels[i] = LABEL_SEPARATOR.join(parts) if parts else pd.NA
                start = i + 1
                break
    return labels


def _rows_for_split(path, split: str) -> list[dict[str, Any]]:
    data = read_json_file(path)
    src = str(path)
    if not isinstance(data, list):
        raise InputError(Problem(src, "top level", None, "expected a JSON list of dialogues"))
    problems: list[Problem] = []
    rows: list[dict[str, Any]] = []
    for d_idx, dlg in enumerate(data):
        where = f"dialogue {d_idx}"
        if not isinstance(dlg, dict) or "dialogue_id" not in dlg:
            problems.append(Problem(src, where, "dialogue_id", "missing"))
            continue
        where = f"dialogue {d_idx} (dialogue_id {dlg['dialogue_id']})"
        logs = dlg.get("chat_logs")
        if not isinstance(logs, list):
            problems.append(Problem(src, where, "chat_logs", "missing or not a list"))
            continue
        bad = False
        for u_idx, u in enumerate(logs):
            if not isinstance(u, dict) or u.get("id") not in AGENTS:
                got = u.get("id") if isinstance(u, dict) else u
                problems.append(Problem(src, where, f"chat_logs[{u_idx}].id", f"expected one of {AGENTS}, got {got!r}"))
                bad = True
            elif not isinstance(u.get("text"), str):
                problems.append(Problem(src, where, f"chat_logs[{u_idx}].text", "missing or not a string"))
                bad = True
        annotations = dlg.get("annotations") or []
        if not isinstance(annotations, list) or any(not isinstance(a, (list, tuple)) or len(a) < 2 for a in annotations):
            problems.append(Problem(src, where, "annotations", "expected a list of [text, labels] pairs"))
            bad = True
        if bad:
            continue
        texts = [u["text"] for u in logs]
        is_deal = [t.strip() in DEAL_ACTIONS for t in texts]
        strategies = _align_annotations(texts, is_deal, annotations)
        pinfo = dlg.get("participant_info") or {}
        people = {a: _participant_columns(pinfo.get(a)) for a in AGENTS}
        for u, text, deal, strat in zip(logs, texts, is_deal, strategies):
            agent = u["id"]
            partner = AGENTS[1] if agent == AGENTS[0] else AGENTS[0]
            mine, theirs = people[agent], people[partner]
            task = u.get("task_data") or {}
            rows.append(
                {
                    "split": split,
                    "conversation_id": str(dlg["dialogue_id"]),
                    "speaker": agent,
                    "text": text,
                    "is_deal_action": deal,
                    "deal_action": text.strip() if deal else pd.NA,
                    "deal_offer": json.dumps(task, sort_keys=True) if deal and "issue2youget" in task else pd.NA,
                    "annotated": bool(annotations),
                    "strategies": strat,
                    **mine,
                    "partner_outcome_points_scored": theirs["outcome_points_scored"],
                    "partner_outcome_satisfaction": theirs["outcome_satisfaction"],
                    "partner_outcome_opponent_likeness": theirs["outcome_opponent_likeness"],
                }
            )
    if problems:
        raise InputError(problems)
    return rows


def load_casino(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    splits: str | Iterable[str] | None = None,
    include_deal_actions: bool = True,
) -> pd.DataFrame:
    """Load CaSiNo as an utterance table.

    ``splits``: any of ``"train"``, ``"valid"``, ``"test"`` (default all three, 1,030 dialogues).
    ``include_deal_actions=False`` removes the deal-action rows (explicit opt-in; default keeps them flagged).

    Columns: ``dataset, split, conversation_id`` (the source ``dialogue_id``), ``id, turn, speaker``
    (``mturk_agent_1``/``2``), ``text, reply_to, empty_text, is_deal_action, deal_action, deal_offer`` (JSON of the
    Submit-Deal split), ``annotated`` (dialogue has strategy labels), ``strategies`` (``;``-joined, e.g.
    ``"self-need;other-need"``), the speaker's ``outcome_points_scored``, ``outcome_satisfaction``,
    ``outcome_opponent_likeness`` (how much this speaker liked the partner) with integer ``*_score`` versions (1-5),
    ``svo``, ``big5_*``, ``age, gender, ethnicity, education``, ``priority_{high,medium,low}``,
    ``reason_{high,medium,low}``, and the partner's outcomes as ``partner_outcome_*`` (``partner_outcome_opponent_likeness``
    = how much the partner liked this speaker).
    """
    folder = dataset_dir(data_dir, NAME)
    chosen = normalise_splits(splits, SPLITS)
    paths = [require_file(folder / f"casino_{s}.json") for s in chosen]
    rows: list[dict[str, Any]] = []
    for split, path in zip(chosen, paths):
        rows.extend(_rows_for_split(path, split))
    df = pd.DataFrame(rows)
    if df.empty:
        df = pd.DataFrame(columns=["split", "conversation_id", "speaker", "text", "is_deal_action"])
    if not include_deal_actions:
        df = df[~df["is_deal_action"].astype(bool)]
    for col in ("outcome_satisfaction", "partner_outcome_satisfaction"):
        if col in df:
            df[col + "_score"] = ordinal(df[col], SATISFACTION_SCALE)
    for col in ("outcome_opponent_likeness", "partner_outcome_opponent_likeness"):
        if col in df:
            df[col + "_score"] = ordinal(df[col], LIKENESS_SCALE)
    for col in [c for c in df.columns if c.endswith("points_scored") or c == "age"]:
        df[col] = pd.to_numeric(df[col], errors="coerce").astype("Int64")
    for col in [c for c in df.columns if c.startswith("big5_")]:
        df[col] = pd.to_numeric(df[col], errors="coerce").astype("float64")
    if "is_deal_action" in df:
        df["is_deal_action"] = df["is_deal_action"].astype(bool)
    return finalise(df, NAME)
