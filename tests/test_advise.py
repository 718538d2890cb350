"""Alerts and live advice (reciprocity.advise) on hand-written coded conversations and the bundled examples."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import reciprocity
from reciprocity.advise import ALERT_COLUMNS, AlertRules, advise, live_advice

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "conversations.csv"


def coded(depths, conversation="c", speakers=("A", "B")):
    n = len(depths)
    return pd.DataFrame({
        "conversation_id": conversation,
        "speaker": [speakers[i % len(speakers)] for i in range(n)],
        "turn": list(range(1, n + 1)),
        "text": "x",
        "disclosure": [d > 0 for d in depths],
        "depth": [float(d) for d in depths],
        "layer": [int(d) for d in depths],
        "topics": [[] for _ in range(n)],
    })


def kinds(alerts):
    return list(zip(alerts["kind"], alerts["turn"], alerts["speaker"], alerts["severity"].astype(str)))


def test_balanced_reciprocal_dyad_gets_no_alert():
    alerts = advise(coded([0, 0, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 2, 2]))
    assert list(alerts.columns) == ALERT_COLUMNS
    assert alerts.empty


def test_unreciprocated_run_and_sustained_imbalance():
    alerts = advise(coded([1, 0, 2, 0, 2, 0, 3, 0]))
    assert kinds(alerts) == [
        # A's third disclosure: run of 3, B took 2 turns without disclosing; deepest layer so far 2
        ("unreciprocated_disclosure", 5, "A", "medium"),
        # balance index 1.0 on full 6-utterance windows ending at turns 6, 7, 8 → fires at the third
        ("sustained_imbalance", 8, "A", "high"),
    ]
    evidence = alerts.set_index("kind")["evidence"]
    assert "A disclosed 3 times in a row (turns 1–5" in evidence["unreciprocated_disclosure"]
    assert "2 turns without disclosing" in evidence["unreciprocated_disclosure"]
    assert "balance index 1.00" in evidence["sustained_imbalance"]
    assert "give them room" in alerts["suggestion"].iloc[0]


def test_a_returned_disclosure_resets_the_run():
    # B discloses at turn 4 → A's run restarts; A's 2 later disclosures meet only 1 silent B turn
    assert advise(coded([1, 0, 2, 1, 2, 0, 2])).query("kind == 'unreciprocated_disclosure'").empty
    # with a laxer rule (one partner turn suffices) the first run fires at turn 3
    lax = advise(coded([1, 0, 2, 1, 2, 0, 2]), AlertRules(partner_turns=1))
    assert kinds(lax.query("kind == 'unreciprocated_disclosure'")) == [
        ("unreciprocated_disclosure", 3, "A", "medium"),
        ("unreciprocated_disclosure", 7, "A", "medium"),
    ]


def test_premature_deep_disclosure_fires_early_only():
    high = advise(coded([0, 3, 0, 0, 1, 1, 1, 1]))
    assert kinds(high) == [("premature_deep_disclosure", 2, "B", "high")]
    assert "3 layers above the established depth 0" in high["evidence"].iloc[0]
    medium = advise(coded([0, 1, 0, 3, 1, 1]))
    assert kinds(medium.query("kind == 'premature_deep_disclosure'")) == [("premature_deep_disclosure", 4, "B", "medium")]
    # the same jump late in a long conversation (position 12 of 20 ≥ max(6, 0.25·20)) is not premature
    late = [0, 1] * 6 + [3] + [1] * 7
    assert advise(coded(late)).query("kind == 'premature_deep_disclosure'").empty
    # matching the partner's established depth is never premature
    assert advise(coded([0, 0, 1, 1, 2, 2, 3, 3])).query("kind == 'premature_deep_disclosure'").empty


def test_depenetration_alert():
    alerts = advise(coded([3, 3, 3, 3, 1, 0, 0, 0, 0, 0]))
    assert kinds(alerts) == [
        ("premature_deep_disclosure", 1, "A", "high"),  # opening with core material
        ("depenetration", 8, None, "high"),
    ]
    assert "mean depth 3.00 → 0.00" in alerts["evidence"].iloc[1]


def test_many_conversations_equal_one_at_a_time():
    rng = np.random.default_rng(7)
    parts = [coded(rng.integers(0, 4, size=rng.integers(4, 30)).tolist(), conversation=f"c{i}") for i in range(60)]
    together = advise(pd.concat(parts, ignore_index=True))
    alone = pd.concat([advise(p) for p in parts], ignore_index=True)
    pd.testing.assert_frame_equal(together, alone.astype(together.dtypes.to_dict()))
    assert len(together) > 10


def test_examples_with_hand_codes():
    result = reciprocity.analyze(reciprocity.read(EXAMPLES), use_codes=True, n_permutations=5)
    alerts = advise(result.utterances)
    by = alerts.groupby("conversation_id")["kind"].apply(set)
    for conversation in ("c06_premature_deep_party", "c07_premature_deep_train"):
        assert "premature_deep_disclosure" in by[conversation]
    assert alerts.query("conversation_id == 'c06_premature_deep_party' and kind == 'premature_deep_disclosure'")[
        ["turn", "speaker"]].values.tolist() == [[2, "Hannah"]]
    for conversation in ("c04_one_sided_first_date", "c05_one_sided_neighbours"):
        assert "unreciprocated_disclosure" in by[conversation]
    reciprocal = alerts["conversation_id"].str.contains("reciprocal|slow_deepening|small_talk")
    assert not reciprocal.any(), alerts[reciprocal]


def test_live_advice():
    history = coded([1, 0, 2, 0, 2])
    assert live_advice(history).startswith("B: ")
    assert "Match their depth" in live_advice(history)
    assert "give them room" in live_advice(history, speaker="A")
    early = coded([0, 3])
    assert "don't pry" in live_advice(early)                 # A, after B's premature disclosure
    assert "went deep very early" in live_advice(early, speaker="B")
    assert "keep it light" in live_advice(coded([0, 0, 0, 0]))
    assert live_advice(coded([])).startswith("Start light")
    assert "Match their depth" in live_advice(coded([0, 0, 1]).drop(columns=["layer", "topics", "turn"]))
    with pytest.raises(ValueError):
        live_advice(pd.concat([coded([1, 0]), coded([1, 0], conversation="d")]))


def _sequence(pairs, conversation="g"):
    return pd.DataFrame([{"conversation_id": conversation, "speaker": s, "turn": i, "text": "x", "disclosure": d > 0,
                          "depth": float(d)} for i, (s, d) in enumerate(pairs)])


def _imbalance(table):
    alerts = advise(table)
    return alerts[alerts["kind"] == "sustained_imbalance"]


def test_imbalance_in_groups_counts_only_speakers_of_the_window():
    # A and B alternate disclosures; C joins only at the end: nobody is out of balance before C speaks
    assert _imbalance(_sequence([("A", 1), ("B", 1)] * 6 + [("C", 0)])).empty
    # A and B tie for the most disclosures: no single dominant discloser to name
    assert _imbalance(_sequence([("A", 1), ("B", 1), ("C", 0)] * 4)).empty
    # A does all the disclosing while B and C talk: an alert naming A, index normalised to at most 1
    hits = _imbalance(_sequence([("A", 2), ("B", 0), ("A", 2), ("C", 0)] * 5))
    assert len(hits) >= 1 and set(hits["speaker"]) == {"A"}
    indices = hits["evidence"].str.extract(r"balance index (\d\.\d\d)")[0].astype(float)
    assert (indices <= 1.0).all() and (indices >= 0.6).all()


def test_unreciprocated_evidence_says_partner_in_dyads_and_others_in_groups():
    alerts = advise(pd.concat([_sequence([("A", 2), ("B", 0), ("C", 0)] * 4, "g"),
                               _sequence([("A", 2), ("B", 0)] * 4, "d")], ignore_index=True))
    runs = alerts[alerts["kind"] == "unreciprocated_disclosure"].set_index("conversation_id")["evidence"]
    assert "while the others took" in runs["g"] and "while the partner took" in runs["d"]


def test_a_monologue_in_a_dyad_is_an_imbalance():
    pairs = list(zip("ABABAAAAAAAA", [0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1]))
    hits = _imbalance(_sequence(pairs, "m"))
    assert hits["speaker"].tolist() == ["A"] and "balance index 1.00" in hits["evidence"].iloc[0]
