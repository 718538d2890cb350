"""Column names and label vocabulary shared by the whole toolkit (THEORY.md §2)."""

from __future__ import annotations

CONVERSATION = "conversation_id"
SPEAKER = "speaker"
TEXT = "text"
REQUIRED_COLUMNS: tuple[str, ...] = (CONVERSATION, SPEAKER, TEXT)
OPTIONAL_COLUMNS: tuple[str, ...] = ("id", "turn", "timestamp", "reply_to")

#: Codes produced by the detector (or supplied by a human coder with ``--use-codes``).
CODE_COLUMNS: tuple[str, ...] = (
    "info_disclosure",
    "emo_disclosure",
    "disclosure",
    "depth",
    "layer",
    "topics",
)

#: Depth layers: 0 none, 1 peripheral, 2 intermediate, 3 core.
LAYER_NAMES: dict[int, str] = {0: "none", 1: "peripheral", 2: "intermediate", 3: "core"}

#: Altman & Taylor's 13 areas of life (breadth categories), as stable identifiers.
TOPICS: tuple[str, ...] = (
    "religion",
    "marriage_family",
    "love_dating_sex",
    "parental_family",
    "physical_condition_appearance",
    "money_property",
    "politics_social_issues",
    "emotions",
    "interests_hobbies_habits",
    "relations_with_others",
    "attitudes_values",
    "school_work",
    "biographical",
)

#: Separator used when a list of topics is written to a flat text format (CSV).
TOPIC_SEPARATOR = ";"
