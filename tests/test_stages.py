"""Penetration stages and depenetration (reciprocity.measure.stages) on hand-written coded conversations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import reciprocity
from reciprocity.measure.stages import STAGES, StageRules, depenetration_events, stages

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "conversations.csv"


def coded(depths, conversation="c", speakers=("A", "B"), topics=None, turns=None):
    n = len(depths)
    return pd.DataFrame({
        "conversation_id": conversation,
        "speaker": [speakers[i % len(speakers)] for i in range(n)],
        "turn": list(range(1, n + 1)) if turns is None else turns,
        "text": "x",
        "disclosure": [d > 0 for d in depths],
        "depth": [float(d) for d in depths],
        "layer": [int(round(d)) for d in depths],
        "topics": [list(t) for t in topics] if topics is not None else [[] for _ in range(n)],
    })


def test_stage_progression_of_a_deepening_dyad():
    table = coded([0, 0, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3])
    out = stages(table)
    assert list(out.index) == list(table.index)
    assert out["stage"].dtype == pd.CategoricalDtype(list(STAGES), ordered=True)
    dyad = out["stage"].astype(str).tolist()
    # rolling depth (window 4): 0, 0, .33, .5, 1, 1.5, 1.75, 2, 2.25, 2.5, 2.75, 3, 3, 3
    assert dyad[:4] == ["orientation"] * 4
    assert dyad[4:6] == ["exploratory_affective"] * 2
    assert dyad[6:12] == ["affective"] * 6
    assert dyad[12:] == ["stable"] * 2  # rolling depth ≥ 2 on 4 rows and within 0.5 (2.5 … 3)
    np.testing.assert_allclose(out["stage_rolling_depth"].iloc[:6], [0, 0, 1 / 3, 0.5, 1.0, 1.5])
    assert not out["depenetration"].any()
    # speaker A: own depths 0, 1, 2, 2, 3, 3, 3 → rolling (window 3) 0, .5, 1, 5/3, 7/3, 8/3, 3
    a = out[table["speaker"] == "A"]
    np.testing.assert_allclose(a["speaker_stage_rolling_depth"], [0, 0.5, 1, 5 / 3, 7 / 3, 8 / 3, 3])
    assert a["speaker_stage"].astype(str).tolist()[:3] == ["orientation", "orientation", "exploratory_affective"]


def test_breadth_opens_the_exploratory_stage_and_counts_distinct_topics():
    topics = [["school_work"], ["interests_hobbies_habits"], ["biographical", "school_work"], [], []]
    out = stages(coded([1, 0, 1, 0, 0], topics=topics))
    assert out["stage_breadth"].tolist() == [1, 2, 3, 3, 3]
    # depth stays shallow (rolling ≤ 0.67) but three areas are open → exploratory from the third row
    assert out["stage"].astype(str).tolist() == ["exploratory_affective", "orientation"] + ["exploratory_affective"] * 3
    assert out["window_breadth"].tolist() == [1, 2, 3, 3, 3]  # rows 1–4 still hold all three
    assert out["speaker_stage_breadth"].tolist() == [1, 1, 2, 1, 2]


def test_depenetration_depth_decline_flags_and_events():
    depths = [3, 3, 3, 3, 1, 0, 0, 0, 0, 0]
    out = stages(coded(depths))
    # windows of 4: at row 7 the last window is 0,0,0,0 vs previous 3,3,3,3 - wait for two full windows (row ≥ 7)
    flagged = out["depenetration"].tolist()
    assert flagged == [False] * 7 + [True] * 3
    assert set(out.loc[out["depenetration"], "depenetration_kind"]) == {"depth"}
    events = depenetration_events(coded(depths), levels=("dyad",))
    assert len(events) == 1
    event = events.iloc[0]
    assert (event["start_turn"], event["end_turn"], event["n_turns"], event["kind"]) == (8, 10, 3, "depth")
    assert event["depth_before"] == pytest.approx(3.0)
    assert event["depth_after"] == pytest.approx(0.0)
    assert event["speaker"] is None


def test_depenetration_breadth_decline():
    # depth constant at 1; topics narrow from three areas per window to one
    topics = [["school_work"], ["biographical"], ["interests_hobbies_habits"], ["school_work"],
              ["biographical"], ["interests_hobbies_habits"], ["school_work"], ["school_work"],
              ["school_work"], ["school_work"], ["school_work"], ["school_work"]]
    table = coded([1] * 12, topics=topics)
    out = stages(table)
    assert out["window_breadth"].tolist() == [1, 2, 3, 3, 3, 3, 3, 3, 2, 1, 1, 1]
    # w_t ≤ w_{t-4} − 2 from row 9 on (1 vs 3), a run of 3 rows
    assert out["depenetration"].tolist() == [False] * 9 + [True] * 3
    assert set(out.loc[out["depenetration"], "depenetration_kind"]) == {"breadth"}
    events = depenetration_events(table)
    assert events["level"].tolist() == ["dyad"]
    assert events.iloc[0]["kind"] == "breadth"
    assert (events.iloc[0]["breadth_before"], events.iloc[0]["breadth_after"]) == (3, 1)


def test_single_blip_or_gentle_wind_down_is_not_depenetration():
    # a one-row dip (run shorter than min_run) and a 3→2 wind-down are not flagged
    assert not stages(coded([3, 3, 3, 3, 3, 3, 3, 0, 3, 3, 3, 3]))["depenetration"].any()
    assert not stages(coded([3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2]))["depenetration"].any()
    assert depenetration_events(coded([0, 0, 1, 1])).empty


def test_speaker_level_depenetration_and_rules():
    # A withdraws (3,3,3 → 0,0,0) while B stays at 1
    depths = [3, 1, 3, 1, 3, 1, 0, 1, 0, 1, 0, 1, 0, 1]
    table = coded(depths)
    out = stages(table)
    events = depenetration_events(table, levels=("speaker",))
    assert set(events["speaker"]) == {"A"}
    assert out.loc[table["speaker"] == "B", "speaker_depenetration"].sum() == 0
    assert out.loc[table["speaker"] == "A", "speaker_depenetration"].sum() >= 2
    # a stricter drop threshold silences it
    assert depenetration_events(table, StageRules(depth_drop=3.5)).empty


def test_unsorted_input_and_several_conversations_are_aligned():
    first = coded([0, 0, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3], conversation="x")
    second = coded([3, 3, 3, 3, 1, 0, 0, 0, 0, 0], conversation="y")
    both = pd.concat([first, second], ignore_index=True)
    expected = stages(both)
    shuffled = both.sample(frac=1.0, random_state=1)
    got = stages(shuffled)
    pd.testing.assert_frame_equal(got.sort_index(), expected)
    assert expected.loc[expected.index >= len(first), "depenetration"].sum() == 3
    assert not expected.loc[expected.index < len(first), "depenetration"].any()


def test_examples_with_hand_codes():
    result = reciprocity.analyze(reciprocity.read(EXAMPLES), use_codes=True, n_permutations=5)
    u = result.utterances
    out = stages(u)
    last = out.groupby(u["conversation_id"])["stage"].last().astype(str)
    for conversation in ("c01_reciprocal_coworkers", "c03_reciprocal_roommates", "c08_slow_deepening_book_club"):
        assert last[conversation] == "stable"
    assert last["c10_small_talk_bus_stop"] == "orientation"
    assert (out.loc[u["conversation_id"].str.startswith("c10"), "stage"] == "orientation").all()
    # the non-disclosing partner of a one-sided dyad never leaves orientation; the discloser reaches affective
    one_sided = u["conversation_id"] == "c04_one_sided_first_date"
    assert (out.loc[one_sided & (u["speaker"] == "Ryan"), "speaker_stage"] == "orientation").all()
    assert out.loc[one_sided & (u["speaker"] == "Emily"), "speaker_stage"].iloc[-1] == "affective"
    assert not out["depenetration"].any()
