"""Lag-sequential analysis: counts, transitional probabilities, adjusted residuals, Yule's Q."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from reciprocity.measure import prepare_codes, turn_pairs
from reciprocity.measure.sequential import lag_sequential, yules_q


def _coded(layers_by_conversation: dict[str, list[int]]) -> pd.DataFrame:
    rows = []
    for conversation, layers in layers_by_conversation.items():
        for turn, layer in enumerate(layers):
            rows.append({"conversation_id": conversation, "speaker": "AB"[turn % 2], "turn": turn,
                         "text": "x", "depth": float(layer)})
    return prepare_codes(pd.DataFrame(rows)).reset_index(drop=True)


def test_counts_probabilities_and_adjusted_residuals_by_hand() -> None:
    # pairs (prev -> next) in c1: 0->0, 0->1, 1->1, 1->0 ; in c2: 0->1, 1->1
    coded = _coded({"c1": [0, 0, 1, 1, 0], "c2": [0, 1, 1]})
    result = lag_sequential(coded, turn_pairs(coded), code="disclosure")
    table = result.corpus.set_index(["from", "to"])
    # x = [[x_00, x_01], [x_10, x_11]] with 0 = no disclosure, 1 = disclosure
    x = {(False, False): 1, (False, True): 2, (True, False): 1, (True, True): 2}
    n = 6
    row = {False: 3, True: 3}
    col = {False: 2, True: 4}
    for (i, j), count in x.items():
        assert table.loc[(i, j), "count"] == count
        assert table.loc[(i, j), "p_transition"] == pytest.approx(count / row[i])
        e = row[i] * col[j] / n
        assert table.loc[(i, j), "expected"] == pytest.approx(e)
        z = (count - e) / math.sqrt(e * (1 - row[i] / n) * (1 - col[j] / n))
        assert table.loc[(i, j), "adjusted_residual"] == pytest.approx(z)
    # per dyad: c2 has only 0->1 and 1->1
    c2 = result.by_dyad.loc[result.by_dyad["conversation_id"] == "c2"].set_index(["from", "to"])
    assert c2["count"].to_dict() == {(False, False): 0, (False, True): 1, (True, False): 0, (True, True): 1}


def test_layer_table_is_complete_and_rows_sum_to_one() -> None:
    coded = _coded({"c1": [0, 1, 2, 3, 3, 2, 1, 0], "c2": [1, 1, 2, 2]})
    result = lag_sequential(coded, turn_pairs(coded))
    assert len(result.corpus) == 16 and len(result.by_dyad) == 32
    sums = result.corpus.groupby("from")["p_transition"].sum()
    assert np.allclose(sums[result.corpus.groupby("from")["row_total"].first() > 0], 1.0)
    assert result.corpus["count"].sum() == 7 + 3


def test_yules_q_with_and_without_zero_correction() -> None:
    assert yules_q(np.array([10]), np.array([2]), np.array([3]), np.array([8]))[0] == pytest.approx((80 - 6) / (80 + 6))
    # an empty cell: Haldane adds 0.5 everywhere, "empty" only to the empty cell
    assert yules_q(np.array([5]), np.array([0]), np.array([2]), np.array([3]))[0] == pytest.approx(
        (5.5 * 3.5 - 0.5 * 2.5) / (5.5 * 3.5 + 0.5 * 2.5))
    assert yules_q(np.array([5]), np.array([0]), np.array([2]), np.array([3]), "empty")[0] == pytest.approx(
        (15 - 0.5 * 2) / (15 + 0.5 * 2))
    assert np.isnan(yules_q(np.array([0]), np.array([0]), np.array([2]), np.array([3]))[0])  # no disclosing antecedent


def test_yules_q_per_dyad_orders_reciprocal_above_unreciprocal() -> None:
    coded = _coded({"match": [0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1], "clash": [0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1]})
    q = lag_sequential(coded, turn_pairs(coded)).yules_q.set_index("conversation_id")["yules_q"]
    assert q["match"] > 0 > q["clash"]
