"""Null baselines (shuffle, circular shift, pseudo-dyads), bootstrap CIs, multilevel model, simulator."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from reciprocity.measure import prepare_codes, reciprocity_tests, turn_pairs
from reciprocity.measure.multilevel import dyad_slopes, lag_design, lagged_multilevel
from reciprocity.measure.reciprocity import (_bootstrap_ci, circular_shift_within, fisher_mean, null_engines,
                                            pseudo_dyads)
from reciprocity.simulate_codes import synthetic_dyads


def _truth(table: pd.DataFrame) -> pd.Series:
    return table.groupby("conversation_id")["true_reciprocity"].first()


def test_simulator_schema_and_truth() -> None:
    table = synthetic_dyads(5, 30, reciprocity=(0.0, 0.5), stability=0.2, noise=0.4, seed=1)
    assert len(table) == 150 and table["conversation_id"].nunique() == 5
    assert {"id", "conversation_id", "speaker", "turn", "text", "disclosure", "depth", "layer", "topics",
            "true_reciprocity"} <= set(table.columns)
    assert table["depth"].between(0, 3).all() and set(table["layer"]) <= {0, 1, 2, 3}
    assert (table["disclosure"] == (table["layer"] > 0)).all()
    assert all(t == [] for t in table["topics"])
    assert _truth(table).between(0, 0.5).all() and _truth(table).nunique() == 5
    coded = prepare_codes(table)            # already complete: prepare_codes keeps it
    assert (coded["layer"] == table["layer"]).all()
    again = synthetic_dyads(5, 30, reciprocity=(0.0, 0.5), stability=0.2, noise=0.4, seed=1)
    pd.testing.assert_frame_equal(table, again)
    with pytest.raises(ValueError):
        synthetic_dyads(2, 10, reciprocity=0.8, stability=0.3)


def test_circular_shift_is_a_rotation_within_groups() -> None:
    groups = np.array([0, 1, 0, 1, 0, 1, 0, 2])
    source = circular_shift_within(groups, np.random.default_rng(3))
    assert (groups[source] == groups).all()
    for g in (0, 1):
        rows = np.flatnonzero(groups == g)
        shift = (np.searchsorted(rows, source[rows[0]])) % len(rows)
        assert (source[rows] == rows[(np.arange(len(rows)) + shift) % len(rows)]).all()


def test_pseudo_dyads_pair_with_other_conversations_of_similar_length() -> None:
    table = synthetic_dyads(30, 20, reciprocity=0.3, seed=2)
    lengths = np.r_[np.full(15, 20), np.full(15, 10)]
    table = table.loc[table["turn"] < np.repeat(lengths, 20)].reset_index(drop=True)
    code = pd.factorize(table["conversation_id"])[0]
    pseudo = pseudo_dyads(code, table["speaker"].to_numpy(), 30, np.random.default_rng(0), pool=9)
    assert pseudo.k == 9 and pseudo.eligible.all()
    assert not (pseudo.candidates == np.arange(30)[:, None]).any()
    assert (np.sign(pseudo.candidates - 14.5) == np.sign(np.arange(30) - 14.5)[:, None]).mean() > 0.9
    source = pseudo.source(0)
    speaker = table["speaker"].to_numpy()
    a_rows = speaker == "A"
    assert (source[a_rows] == np.flatnonzero(a_rows)).all()          # A keeps her own turns
    assert (speaker[source[~a_rows]] == "B").all()                   # B's turns come from another B
    assert (code[source[~a_rows]] != code[~a_rows]).all()


def test_existing_keys_kept_and_new_null_columns_added() -> None:
    table = synthetic_dyads(12, 40, reciprocity=0.5, stability=0.1, seed=4)
    per_conversation, per_speaker, summary = reciprocity_tests(table, turn_pairs(table), n_permutations=49, seed=1)
    for column in ("lagged_matching", "lagged_matching_null", "lagged_matching_p", "matching_index",
                   "conditional_reciprocity", "conditional_reciprocity_null", "conditional_reciprocity_p",
                   "lagged_matching_p_circular", "lagged_matching_p_pseudo", "conditional_reciprocity_p_pseudo"):
        assert column in per_conversation.columns
    assert {"conditional_reciprocity_p", "conditional_reciprocity_p_circular"} <= set(per_speaker.columns)
    for key in ("observed", "null_mean", "observed_minus_null", "p_value", "ci95"):
        assert key in summary["lagged_matching"] and key in summary["conditional_reciprocity"]
    assert set(summary["nulls"]) == {"shuffle", "circular_shift", "pseudo_dyad"}
    assert summary["nulls"]["pseudo_dyad"]["n_null"] == 11
    for null in summary["nulls"].values():
        lag = null["lagged_matching"]
        assert lag["observed_minus_null"] > 0 and lag["p_value"] < 0.05
        assert lag["difference_ci95"][0] > 0


def test_vectorised_bootstrap_matches_loop() -> None:
    values = np.random.default_rng(0).uniform(-0.5, 0.8, 40)
    low, high = _bootstrap_ci(values, "fisher", np.random.default_rng(9), 500)
    draws = np.random.default_rng(9).integers(0, 40, size=(500, 40))
    loop = np.array([fisher_mean(values[row]) for row in draws])
    assert (low, high) == pytest.approx(tuple(np.nanpercentile(loop, [2.5, 97.5])))


@pytest.mark.parametrize("engine", null_engines())
def test_null_rejection_rate_is_nominal_without_reciprocity(engine: str) -> None:
    """Per-dyad one-sided tests at 5%, 3000 simulated dyads with r = 0 (seeded).

    3000 dyads make the binomial SD of the rate 0.004, so the +-0.015 band is ~3.7 SD wide
    (with 1000 dyads one of six columns would leave it by chance every few seeds).
    """
    table = synthetic_dyads(3000, 40, reciprocity=0.0, stability=0.0, noise=0.6, seed=11)
    per_conversation, _, _ = reciprocity_tests(table, turn_pairs(table), n_permutations=99, seed=5, n_boot=10,
                                               engine=engine)
    for column in ("lagged_matching_p", "lagged_matching_p_circular", "lagged_matching_p_pseudo",
                   "conditional_reciprocity_p", "conditional_reciprocity_p_circular", "conditional_reciprocity_p_pseudo"):
        rate = float(np.mean(per_conversation[column].dropna() <= 0.05))
        assert abs(rate - 0.05) <= 0.015, (column, rate)


def test_dyad_slopes_recover_true_reciprocity() -> None:
    table = synthetic_dyads(80, 300, reciprocity=(-0.2, 0.6), stability=0.2, noise=0.5, seed=3)
    slopes = dyad_slopes(lag_design(table, turn_pairs(table)))
    truth = _truth(table).reindex(slopes["conversation_id"]).to_numpy()
    assert np.corrcoef(truth, slopes["partner_slope"])[0, 1] >= 0.93
    covered = (slopes["partner_slope_ci_low"] <= truth) & (truth <= slopes["partner_slope_ci_high"])
    assert covered.mean() >= 0.85            # clipping at 0/3 attenuates slightly


def test_lagged_multilevel_estimates_mean_reciprocity() -> None:
    table = synthetic_dyads(60, 120, reciprocity=0.4, stability=0.2, noise=0.5, seed=8)
    result = lagged_multilevel(table, turn_pairs(table))
    partner = result.term("partner_lag")
    assert 0.3 < partner["estimate"] < 0.45 and partner["ci_low"] < partner["estimate"] < partner["ci_high"]
    assert partner["p_value"] < 1e-6
    own = result.term("own_lag")
    assert 0.1 < own["estimate"] < 0.3
    assert list(result.params.columns[:8]) == ["term", "kind", "estimate", "std_error", "z", "p_value", "ci_low", "ci_high"]
    # all dyads share r, so the random slope is not identifiable: fallback with a recorded reason
    assert result.fit["random_effects"] in {"intercept", "none (OLS)"} and result.fit["fallback_reason"]
    headline = result.headline()
    assert headline["n_dyads"] == 60


def test_lagged_multilevel_keeps_random_slope_when_dyads_differ() -> None:
    table = synthetic_dyads(80, 150, reciprocity=(-0.2, 0.7), stability=0.2, noise=0.4, seed=9)
    result = lagged_multilevel(table, turn_pairs(table))
    assert result.fit["random_effects"] == "intercept + partner_lag slope", result.fit["fallback_reason"]
    blup = result.dyad_effects.set_index("conversation_id")["partner_slope_blup"]
    assert np.corrcoef(blup, _truth(table).reindex(blup.index))[0, 1] > 0.9


def test_lagged_multilevel_too_little_data() -> None:
    table = synthetic_dyads(1, 6, reciprocity=0.2, seed=0)
    result = lagged_multilevel(table, turn_pairs(table))
    assert result.params.empty and "too few" in result.fit["fallback_reason"]


def test_pairs_that_are_not_speaker_changes_are_rejected() -> None:
    table = synthetic_dyads(6, 8, seed=5)
    pairs = turn_pairs(table)
    same_speaker = pd.concat([pairs, pd.DataFrame({"prev": [0], "next": [2], "conversation": [0]})],
                             ignore_index=True)
    with pytest.raises(ValueError, match="not a speaker change"):
        reciprocity_tests(table, same_speaker, n_permutations=5)
    across = pd.concat([pairs, pd.DataFrame({"prev": [7], "next": [8], "conversation": [1]})], ignore_index=True)
    assert table["conversation_id"].iloc[7] != table["conversation_id"].iloc[8]
    with pytest.raises(ValueError, match="1 such pair"):
        reciprocity_tests(table, across, n_permutations=5)
