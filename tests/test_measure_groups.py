"""Group reciprocity: pairwise matrix over reply edges and the Social Relations Model."""

from __future__ import annotations

from fractions import Fraction as F
from itertools import combinations

import numpy as np
import pandas as pd
import pytest

from reciprocity.measure import prepare_codes, turn_pairs
from reciprocity.measure.groups import pairwise_reciprocity, round_robin_scores, social_relations, srm_components

# Round-robin scores X[i][j] (i -> j) of a 4-person group; None on the diagonal.
X = [
    [None, 5, 3, 4],
    [2, None, 1, 3],
    [4, 6, None, 5],
    [3, 2, 2, None],
]


def _hand_srm(x: list[list]) -> dict[str, F]:
    """Kenny's round-robin estimators, step by step, in exact fractions."""
    n = len(x)
    cells = [(i, j) for i in range(n) for j in range(n) if i != j]
    row = [F(sum(x[i][j] for j in range(n) if j != i), n - 1) for i in range(n)]       # M_i.
    col = [F(sum(x[i][j] for i in range(n) if i != j), n - 1) for j in range(n)]       # M_.j
    grand = F(sum(x[i][j] for i, j in cells), n * (n - 1))                              # M_..
    c1, c2, c3 = F((n - 1) ** 2, n * (n - 2)), F(n - 1, n * (n - 2)), F(n - 1, n - 2)
    a = [c1 * row[i] + c2 * col[i] - c3 * grand for i in range(n)]
    b = [c1 * col[j] + c2 * row[j] - c3 * grand for j in range(n)]
    g = {(i, j): x[i][j] - a[i] - b[j] - grand for i, j in cells}
    dyads = list(combinations(range(n), 2))
    ms_b = sum((g[i, j] + g[j, i]) ** 2 / 2 for i, j in dyads) / (F((n - 1) * (n - 2), 2) - 1)
    ms_w = sum((g[i, j] - g[j, i]) ** 2 / 2 for i, j in dyads) / F((n - 1) * (n - 2), 2)
    s_g = (ms_b + ms_w) / 2
    s_gg = (ms_b - ms_w) / 2
    s_a = sum(v * v for v in a) / (n - 1) - ms_b / (2 * (n - 2)) - ms_w / (2 * n)
    s_b = sum(v * v for v in b) / (n - 1) - ms_b / (2 * (n - 2)) - ms_w / (2 * n)
    s_ab = sum(a[i] * b[i] for i in range(n)) / (n - 1) - ms_b / (2 * (n - 2)) + ms_w / (2 * n)
    return {"a": a, "b": b, "g": g, "mean": grand, "actor_variance": s_a, "partner_variance": s_b,
            "relationship_variance": s_g, "dyadic_covariance": s_gg, "actor_partner_covariance": s_ab}


def test_srm_matches_hand_computed_round_robin() -> None:
    hand = _hand_srm(X)
    # spot values by hand (n = 4): row sums 12, 6, 15, 7 -> M_.. = 40/12 = 10/3;
    # M_1. = 12/3 = 4, M_.1 = (2 + 4 + 3)/3 = 3 -> a_1 = 9/8*4 + 3/8*3 - 3/2*10/3 = 9/2 + 9/8 - 5 = 5/8
    assert hand["mean"] == F(10, 3)
    assert hand["a"][0] == F(9, 8) * 4 + F(3, 8) * 3 - F(3, 2) * F(10, 3) == F(5, 8)
    x = np.array([[np.nan if v is None else v for v in r] for r in X], dtype=float)[None]
    out = srm_components(x)
    assert np.allclose(out["a"][0], [float(v) for v in hand["a"]])
    assert np.allclose(out["b"][0], [float(v) for v in hand["b"]])
    for (i, j), value in hand["g"].items():
        assert out["rel"][0, i, j] == pytest.approx(float(value))
    for name in ("actor_variance", "partner_variance", "relationship_variance", "dyadic_covariance",
                 "actor_partner_covariance"):
        assert out[name][0] == pytest.approx(float(hand[name])), name
    s_a, s_b, s_g = (float(hand[k]) for k in ("actor_variance", "partner_variance", "relationship_variance"))
    expected_gr = float(hand["actor_partner_covariance"]) / np.sqrt(s_a * s_b) if s_a > 0 and s_b > 0 else np.nan
    assert out["generalized_reciprocity"][0] == pytest.approx(expected_gr, nan_ok=True)
    assert out["dyadic_reciprocity"][0] == pytest.approx(float(hand["dyadic_covariance"]) / s_g)
    # effects sum to zero (a property of the estimators)
    assert abs(out["a"][0].sum()) < 1e-12 and abs(out["b"][0].sum()) < 1e-12


def test_social_relations_long_table_pools_groups_and_excludes_incomplete() -> None:
    rows = [("g1", i, j, X[i][j]) for i in range(4) for j in range(4) if i != j]
    rows += [("g2", i, j, X[j][i] + 1) for i in range(4) for j in range(4) if i != j]   # transposed group
    rows += [("g3", 0, 1, 1.0), ("g3", 1, 0, 2.0), ("g3", 0, 2, 1.0)]                    # too small / incomplete
    result = social_relations(pd.DataFrame(rows, columns=["group", "actor", "partner", "score"]))
    assert list(result.excluded["group"]) == ["g3"]
    variances = result.variances.set_index(["group", "component"])["estimate"]
    hand = _hand_srm(X)
    # transposing swaps actor and partner variance; pooled = mean of the two groups
    assert variances["g2", "actor_variance"] == pytest.approx(float(hand["partner_variance"]))
    assert variances["pooled", "actor_variance"] == pytest.approx(
        (float(hand["actor_variance"]) + float(hand["partner_variance"])) / 2)
    assert len(result.effects) == 8 and len(result.relationships) == 24


def test_srm_recovers_simulated_reciprocity() -> None:
    rng = np.random.default_rng(5)
    g, n = 300, 8
    ab = rng.multivariate_normal([0, 0], [[1, 0.6], [0.6, 1]], size=(g, n))
    rel = rng.multivariate_normal([0, 0], [[1, 0.5], [0.5, 1]], size=(g, n, n))
    gij = np.triu(rel[..., 0], 1) + np.triu(rel[..., 1], 1).transpose(0, 2, 1)
    x = ab[:, :, 0][:, :, None] + ab[:, :, 1][:, None, :] + gij
    out = srm_components(x)
    assert np.mean(out["actor_variance"]) == pytest.approx(1.0, abs=0.1)
    assert np.mean(out["relationship_variance"]) == pytest.approx(1.0, abs=0.1)
    assert np.mean(out["dyadic_covariance"]) / np.mean(out["relationship_variance"]) == pytest.approx(0.5, abs=0.08)
    assert np.mean(out["actor_partner_covariance"]) == pytest.approx(0.6, abs=0.1)


def test_pairwise_reciprocity_over_reply_edges() -> None:
    speakers = ["ann", "bob", "cat", "bob", "ann", "cat", "bob", "ann"]
    reply_to = [None, "u0", "u0", "u2", "u3", "u1", "u4", "u6"]
    depth = [1.0, 1.0, 0.0, 2.0, 2.0, 0.0, 3.0, 3.0]
    table = prepare_codes(pd.DataFrame({
        "conversation_id": "g", "id": [f"u{i}" for i in range(8)], "speaker": speakers, "turn": range(8),
        "text": "x", "reply_to": reply_to, "depth": depth}))
    pairs = turn_pairs(table)
    result = pairwise_reciprocity(table, pairs).set_index(["speaker", "responder"])
    assert result.loc[("ann", "bob"), "n_exchanges"] == 2          # u1 <- u0, u6 <- u4
    assert result.loc[("bob", "ann"), "n_exchanges"] == 2          # u4 <- u3, u7 <- u6
    assert result.loc[("ann", "bob"), "mean_reply_depth"] == pytest.approx(2.0)
    assert pairwise_reciprocity(table, pairs, min_speakers=4).empty
    scores = round_robin_scores(table, pairs, min_speakers=3)
    assert set(scores.columns) == {"group", "actor", "partner", "score"}
