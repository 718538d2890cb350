"""analyze() carries the lag-sequential, multilevel, dyad and group tables into Analysis and its files."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

import reciprocity
from reciprocity.simulate_codes import synthetic_dyads


def test_analyze_adds_reciprocity_tables_and_files(tmp_path: Path) -> None:
    table = synthetic_dyads(8, 40, reciprocity=(0.0, 0.6), stability=0.2, seed=3).drop(
        columns=["true_reciprocity", "true_stability", "true_baseline"])
    result = reciprocity.analyze(table, use_codes=True, n_permutations=19, seed=1)
    assert set(result.transitions["code"]) == {"layer", "disclosure"} and len(result.transitions) == 16 + 4
    assert {"yules_q", "partner_slope", "partner_slope_ci_low", "partner_slope_blup"} <= set(result.dyad_reciprocity.columns)
    assert "partner_lag" in set(result.multilevel["term"])
    assert result.group_reciprocity.empty and result.srm.empty          # dyads only
    assert "lagged_matching_p_pseudo" in result.conversations.columns
    summary = result.summary
    assert summary["multilevel"]["partner_lag"]["ci_low"] < summary["multilevel"]["partner_lag"]["estimate"]
    assert set(summary["reciprocity"]["nulls"]) == {"shuffle", "circular_shift", "pseudo_dyad"}
    paths = result.save(tmp_path)
    for name in ("transitions", "dyad_transitions", "dyad_reciprocity", "multilevel", "group_reciprocity", "srm",
                 "srm_effects"):
        assert paths[name].exists(), name
    assert len(pd.read_parquet(paths["dyad_transitions"])) == 8 * 20
    saved = json.loads(paths["summary"].read_text())
    assert "multilevel" in saved and "lag_sequential" in saved


def test_group_conversation_gets_pairwise_table_and_srm() -> None:
    rows = []
    speakers = ["a", "b", "c", "d"]
    turn = 0
    for round_ in range(3):
        for i, s in enumerate(speakers):
            for j, t in enumerate(speakers):
                if i != j:
                    rows.append({"conversation_id": "g", "id": f"q{turn}", "speaker": s, "turn": turn,
                                 "text": "x", "reply_to": None, "depth": float((i + round_) % 3)})
                    rows.append({"conversation_id": "g", "id": f"r{turn}", "speaker": t, "turn": turn + 1,
                                 "text": "x", "reply_to": f"q{turn}", "depth": float((i * j + round_) % 4)})
                    turn += 2
    result = reciprocity.analyze(pd.DataFrame(rows), use_codes=True, n_permutations=9)
    assert len(result.group_reciprocity) == 12
    assert "dyadic_reciprocity" in set(result.srm["component"])
    assert len(result.srm_effects) == 4
