"""Topical-Chat knowledge-grounded chats (Gopalakrishnan et al. 2019; CDLA-Sharing-1.0).

Source: ``<data_dir>/topical_chat/{valid,test}_{freq,rare}.json`` — each a JSON object mapping conversation id to
``{"article_url", "config", "content": [turn, ...], "conversation_rating": {"agent_1": ..., "agent_2": ...}}`` with
turns ``{"message", "agent", "sentiment", "knowledge_source": [...], "turn_rating"}``. ``turn_rating`` is the
partner's rating of that turn; ``conversation_rating`` is each agent's own rating of the whole conversation.

A conversation without a ``content`` list, or a turn without a string ``message`` or an ``agent``, raises
:class:`~reciprocity.errors.InputError` naming the file, the conversation id and the field. Empty messages are kept
with ``empty_text=True``; empty ratings (``""``) become NA.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

import pandas as pd

from ..errors import InputError, Problem
from ._common import LABEL_SEPARATOR, dataset_dir, finalise, normalise_splits, ordinal, read_json_file, require_file

NAME = "topical_chat"
SPLITS = ("valid_freq", "valid_rare", "test_freq", "test_rare")
ALIASES = {"valid": ("valid_freq", "valid_rare"), "test": ("test_freq", "test_rare")}
RATING_SCALE = {"Poor": 1, "Not Good": 2, "Passable": 3, "Good": 4, "Excellent": 5}
PERSONAL_KNOWLEDGE = "Personal Knowledge"


def _records(path, split: str) -> list[dict[str, Any]]:
    data = read_json_file(path)
    src = str(path)
    if not isinstance(data, dict):
        raise InputError(Problem(src, "top level", None, "expected a JSON object mapping conversation id to conversation"))
    problems: list[Problem] = []
    records: list[dict[str, Any]] = []
    for conv_id, conv in data.items():
        where = f"conversation {conv_id}"
        content = conv.get("content") if isinstance(conv, dict) else None
        if not isinstance(content, list):
            problems.append(Problem(src, where, "content", "missing or not a list of turns"))
            continue
        bad = False
        for i, t in enumerate(content):
            if not isinstance(t, dict) or not isinstance(t.get("agent"), str) or not t.get("agent"):
                problems.append(Problem(src, where, f"content[{i}].agent", "missing"))
                bad = True
            elif not isinstance(t.get("message"), str):
                problems.append(Problem(src, where, f"content[{i}].message", "missing or not a string"))
                bad = True
        if bad:
            continue
        ratings = conv.get("conversation_rating") or {}
        records.append(
            {
                "split": split,
                "conversation_id": str(conv_id),
                "config": conv.get("config"),
                "article_url": conv.get("article_url"),
                "rating_agent_1": ratings.get("agent_1"),
                "rating_agent_2": ratings.get("agent_2"),
                "content": content,
            }
        )
    if problems:
        raise InputError(problems)
    return records


def load_topical_chat(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    splits: str | Iterable[str] | None = None,
) -> pd.DataFrame:
    """Load Topical-Chat as an utterance table.

    ``splits``: any of ``valid_freq, valid_rare, test_freq, test_rare`` or the shorthands ``valid`` / ``test``
    (default all four: 2,156 conversations, 46,903 turns).

    Columns: ``dataset, split, conversation_id, id, turn, speaker`` (``agent_1``/``agent_2``), ``text, reply_to,
    empty_text, sentiment`` (self-annotated per turn), ``knowledge_source`` (``;``-joined, e.g. ``"FS1;Personal
    Knowledge"``), ``personal_knowledge`` (bool: ``"Personal Knowledge"`` among the sources), ``turn_rating`` (the
    partner's rating of the turn) and ``turn_rating_score`` (1-5), ``conversation_rating`` (this speaker's rating of
    the conversation), ``partner_conversation_rating`` and their ``*_score`` versions, ``config, article_url``.
    """
    folder = dataset_dir(data_dir, NAME)
    chosen = normalise_splits(splits, SPLITS, ALIASES)
    paths = [require_file(folder / f"{s}.json") for s in chosen]
    records: list[dict[str, Any]] = []
    for split, path in zip(chosen, paths):
        records.extend(_records(path, split))
    meta = ["split", "conversation_id", "config", "article_url", "rating_agent_1", "rating_agent_2"]
    if records:
        df = pd.json_normalize(records, record_path="content", meta=meta)
    else:
        df = pd.DataFrame(columns=["message", "agent", "sentiment", "knowledge_source", "turn_rating", *meta])
    for col in ("sentiment", "knowledge_source", "turn_rating"):
        if col not in df:
            df[col] = pd.NA
    df = df.rename(columns={"agent": "speaker", "message": "text"})
    ks = df["knowledge_source"].map(lambda v: [v] if isinstance(v, str) else (list(v) if isinstance(v, (list, tuple)) else []))
    df["knowledge_source"] = ks.map(lambda v: LABEL_SEPARATOR.join(map(str, v)) if v else pd.NA)
    df["personal_knowledge"] = ks.map(lambda v: PERSONAL_KNOWLEDGE in v).astype(bool)
    for col in ("sentiment", "turn_rating", "rating_agent_1", "rating_agent_2"):
        df[col] = df[col].where(df[col].notna() & df[col].astype(str).str.strip().ne(""), pd.NA)
    is_1 = df["speaker"].eq("agent_1")
    df["conversation_rating"] = df["rating_agent_1"].where(is_1, df["rating_agent_2"])
    df["partner_conversation_rating"] = df["rating_agent_2"].where(is_1, df["rating_agent_1"])
    df["turn_rating_score"] = ordinal(df["turn_rating"], RATING_SCALE)
    df["conversation_rating_score"] = ordinal(df["conversation_rating"], RATING_SCALE)
    df["partner_conversation_rating_score"] = ordinal(df["partner_conversation_rating"], RATING_SCALE)
    df = df.drop(columns=["rating_agent_1", "rating_agent_2"])
    order = [
        "split", "conversation_id", "speaker", "text", "sentiment", "knowledge_source", "personal_knowledge",
        "turn_rating", "turn_rating_score", "conversation_rating", "conversation_rating_score",
        "partner_conversation_rating", "partner_conversation_rating_score", "config", "article_url",
    ]
    df = df[order + [c for c in df.columns if c not in order]]
    return finalise(df, NAME)
