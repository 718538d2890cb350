"""The compiled null engine (Numba) against the NumPy reference engine of ``reciprocity_tests``."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from reciprocity.measure import reciprocity as reciprocity_module
from reciprocity.measure import reciprocity_tests, turn_pairs
from reciprocity.measure.reciprocity import null_engines
from reciprocity.simulate_codes import synthetic_dyads

numba = pytest.importorskip("numba")

DETERMINISTIC = ("lagged_matching", "matching_index", "conditional_reciprocity", "lagged_matching_null_pseudo",
                 "lagged_matching_p_pseudo", "conditional_reciprocity_null_pseudo", "conditional_reciprocity_p_pseudo")
RANDOM = ("lagged_matching_null", "conditional_reciprocity_null", "lagged_matching_null_circular",
          "conditional_reciprocity_null_circular")


def _table(continuous: bool = False) -> pd.DataFrame:
    table = synthetic_dyads(300, 24, reciprocity=(0.0, 0.6), stability=0.3, noise=0.5, seed=21)
    # a few monologue stretches and a three-party conversation, so that rows open or answer other than one pair
    table.loc[table["turn"].isin([5, 6]) & (table["conversation_id"] == table["conversation_id"].iloc[0]), "speaker"] = "A"
    third = table["conversation_id"] == table["conversation_id"].iloc[-1]
    table.loc[third & (table["turn"] % 3 == 2), "speaker"] = "C"
    if continuous:      # off the quarter-point grid: the compiled engine's unpacked path
        table["depth"] = table["depth"] + np.random.default_rng(2).uniform(0, 0.1, len(table))
    return table


@pytest.mark.parametrize("continuous", [False, True])
def test_engines_agree(continuous: bool) -> None:
    table = _table(continuous)
    pairs = turn_pairs(table)
    ref = reciprocity_tests(table, pairs, n_permutations=400, seed=3, engine="numpy")
    fast = reciprocity_tests(table, pairs, n_permutations=400, seed=3, engine="numba")
    for column in DETERMINISTIC:       # observed values and the enumerated pseudo-dyads: the same numbers
        np.testing.assert_allclose(fast[0][column], ref[0][column], atol=1e-6, equal_nan=True, err_msg=column)
    for column in RANDOM:              # per-dyad null means: the same expectation, Monte Carlo noise only
        a, b = ref[0][column].to_numpy(), fast[0][column].to_numpy()
        keep = ~np.isnan(a) & ~np.isnan(b)
        assert keep.sum() > 250 and np.isnan(a).sum() == np.isnan(b).sum(), column
        assert np.corrcoef(a[keep], b[keep])[0, 1] > 0.9, column
        difference = a[keep] - b[keep]
        assert abs(difference.mean()) < 4 * difference.std() / np.sqrt(keep.sum()), column
    for column in ("conditional_reciprocity_null", "conditional_reciprocity_null_circular"):     # per speaker
        a, b = ref[1][column].to_numpy(), fast[1][column].to_numpy()
        keep = ~np.isnan(a)
        assert np.array_equal(keep, ~np.isnan(b)) and keep.sum() > 500, column
        difference = a[keep] - b[keep]
        assert abs(difference.mean()) < 4 * difference.std() / np.sqrt(keep.sum()), column
        p_ref, p_fast = (frame[column.replace("_null", "_p")].to_numpy()[keep] for frame in (ref[1], fast[1]))
        # p is NaN where every null draw ties with the observed value (e.g. a responder who always or never
        # discloses): the same speakers under both engines
        assert np.mean(np.isnan(p_ref) == np.isnan(p_fast)) > 0.95, column
        both = ~np.isnan(p_ref) & ~np.isnan(p_fast)
        assert both.sum() > 150, column
        assert np.corrcoef(p_ref[both], p_fast[both])[0, 1] > 0.9, column
    for name in ("shuffle", "circular_shift", "pseudo_dyad"):
        for statistic in ("lagged_matching", "conditional_reciprocity"):
            a, b = ref[2]["nulls"][name][statistic], fast[2]["nulls"][name][statistic]
            assert a["observed"] == pytest.approx(b["observed"])
            assert a["ci95"] == pytest.approx(b["ci95"])                 # same bootstrap resamples
            assert a["null_mean"] == pytest.approx(b["null_mean"], abs=0.01), (name, statistic)
            if name == "pseudo_dyad":     # enumerated candidates, corpus draws from the same picks: same numbers
                for key in ("null_mean", "p_value", "difference_ci95", "share_dyads_p_below_05"):
                    assert a[key] == pytest.approx(b[key], rel=1e-9), (statistic, key)


def test_shuffle_and_rotation_are_uniform() -> None:
    """One dyad of 3 + 3 turns: the shuffle takes each of the 6 x 6 pairs of speaker orders, the circular shift each of
    the 3 x 3 pairs of rotations, equally often. Checked through the per-draw r_lag (chi-square against the exact
    distribution enumerated with the NumPy statistics)."""
    depth = np.array([0.0, 0.5, 1.0, 2.0, 3.0, 2.5])
    disclosed = depth > 0
    prev, nxt = np.arange(5), np.arange(1, 6)
    speaker = np.array([0, 1, 0, 1, 0, 1])
    conversation = np.zeros(6, dtype=np.int64)
    layout = reciprocity_module._NullEngine(depth, disclosed, prev, nxt, speaker, 2, conversation, 1)
    observed = reciprocity_module.pair_statistics(depth, disclosed, prev, nxt, np.zeros(5, dtype=np.int64), 1)
    kernel = reciprocity_module._compiled_kernel()
    a_rows, b_rows = np.array([0, 2, 4]), np.array([1, 3, 5])
    for circular in (False, True):
        orders = [np.roll(np.arange(3), -k) for k in range(3)] if circular else \
            [np.array(p) for p in itertools.permutations(range(3))]
        exact = []
        for order_a in orders:
            for order_b in orders:
                source = np.arange(6)
                source[a_rows], source[b_rows] = a_rows[order_a], b_rows[order_b]
                r = reciprocity_module.pair_statistics(depth[source], disclosed[source], prev, nxt,
                                                       np.zeros(5, dtype=np.int64), 1).r_lag[0]
                exact.append(round(float(np.tanh(np.arctanh(np.clip(r, -0.999, 0.999)))), 6))
        values, counts = np.unique(exact, return_counts=True)
        n_draws = 300 * len(exact)
        *_, draws = reciprocity_module._compiled_permutation_nulls(
            kernel, layout, 2024, circular, n_draws, observed, np.full(2, np.nan))
        seen = np.round(draws.result()[0], 6)
        assert np.isin(seen, values).all()
        frequency = np.array([(seen == v).sum() for v in values])
        assert stats.chisquare(frequency, counts / counts.sum() * n_draws).pvalue > 1e-3, circular


def test_results_do_not_depend_on_the_number_of_threads() -> None:
    table = _table()
    pairs = turn_pairs(table)
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        single = reciprocity_tests(table, pairs, n_permutations=60, seed=8, engine="numba")
    finally:
        numba.set_num_threads(threads)
    parallel = reciprocity_tests(table, pairs, n_permutations=60, seed=8, engine="numba")
    for a, b in zip(single[:2], parallel[:2]):
        pd.testing.assert_frame_equal(a, b)
    assert single[2] == parallel[2]
    other_seed = reciprocity_tests(table, pairs, n_permutations=60, seed=9, engine="numba")
    assert not np.allclose(other_seed[0]["lagged_matching_null"], parallel[0]["lagged_matching_null"])


def test_engine_argument(monkeypatch: pytest.MonkeyPatch) -> None:
    table = _table().head(96)
    pairs = turn_pairs(table)
    assert null_engines() == ("numba", "numpy")
    with pytest.raises(ValueError, match="engine"):
        reciprocity_tests(table, pairs, engine="cuda")
    monkeypatch.setattr(reciprocity_module, "_compiled_kernel", lambda: None)
    assert null_engines() == ("numpy",)
    with pytest.raises(ImportError, match="numba"):
        reciprocity_tests(table, pairs, engine="numba")
    per_conversation, _, _ = reciprocity_tests(table, pairs, n_permutations=9, engine="auto")   # falls back
    assert per_conversation["lagged_matching_null"].notna().all()
