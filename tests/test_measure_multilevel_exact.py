"""The exact sufficient-statistics REML fitter against statsmodels' MixedLM (the reference)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from reciprocity.measure import turn_pairs
from reciprocity.measure.multilevel import group_crossproducts, lag_design, lagged_multilevel, reml_fit
from reciprocity.simulate_codes import synthetic_dyads


def _design(**kwargs):
    table = synthetic_dyads(**kwargs)
    design = lag_design(table, turn_pairs(table))
    endog = design["response"].to_numpy(float)
    exog = np.column_stack([np.ones(len(design)), design["own_lag_c"], design["partner_lag_c"]])
    groups, labels = pd.factorize(design["conversation_id"])
    return endog, exog, groups, len(labels)


def _statsmodels(endog, exog, groups, columns):
    from statsmodels.regression.mixed_linear_model import MixedLM

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return MixedLM(endog, exog, groups=groups, exog_re=exog[:, columns]).fit(reml=True)


@pytest.mark.parametrize("columns", [[0, 2], [0]])
def test_exact_reml_matches_statsmodels(columns) -> None:
    endog, exog, groups, n_groups = _design(n_dyads=80, n_turns=150, reciprocity=(-0.2, 0.7), stability=0.2,
                                            noise=0.4, seed=9)
    reference = _statsmodels(endog, exog, groups, columns)
    fit = reml_fit(group_crossproducts(exog, endog, groups, n_groups), len(endog), columns)
    assert fit.converged
    np.testing.assert_allclose(fit.fe_params, reference.fe_params, atol=1e-4)
    np.testing.assert_allclose(fit.bse_fe, reference.bse_fe, rtol=0.02)
    np.testing.assert_allclose(fit.cov_re, np.asarray(reference.cov_re), rtol=5e-3, atol=1e-4)
    assert fit.scale == pytest.approx(reference.scale, rel=1e-4)
    assert fit.llf == pytest.approx(reference.llf, abs=1e-3)              # same REML criterion, same constant
    blups = pd.DataFrame(reference.random_effects).T.sort_index().to_numpy(float)
    np.testing.assert_allclose(fit.random_effects, blups, atol=1e-3)


def test_exact_reml_likelihood_is_maximal() -> None:
    """Perturbing the variance parameters away from the optimum never raises the REML likelihood."""
    from reciprocity.measure.multilevel import _REMLCriterion

    endog, exog, groups, n_groups = _design(n_dyads=40, n_turns=60, reciprocity=(0.0, 0.6), seed=2)
    cross = group_crossproducts(exog, endog, groups, n_groups)
    fit = reml_fit(cross, len(endog), [0, 2])
    criterion = _REMLCriterion(cross, len(endog), [0, 2])
    psi = fit.cov_re / fit.scale
    theta = np.linalg.cholesky(psi + 1e-12 * np.eye(2))[np.tril_indices(2)]
    best, grad = criterion(theta)
    rng = np.random.default_rng(0)
    for _ in range(20):
        step = rng.normal(scale=0.02, size=3)
        assert criterion(np.maximum(theta + step, [0, -np.inf, 0]))[0] >= best - 1e-9
    # the analytic gradient agrees with central differences
    eps = 1e-6
    numeric = [(criterion(theta + eps * e)[0] - criterion(theta - eps * e)[0]) / (2 * eps) for e in np.eye(3)]
    np.testing.assert_allclose(grad, numeric, rtol=1e-4, atol=1e-7)


def test_lagged_multilevel_engines_agree() -> None:
    table = synthetic_dyads(60, 80, reciprocity=(-0.1, 0.7), stability=0.2, noise=0.4, seed=5)
    pairs = turn_pairs(table)
    exact = lagged_multilevel(table, pairs)
    reference = lagged_multilevel(table, pairs, engine="statsmodels")
    assert exact.fit["random_effects"] == reference.fit["random_effects"] == "intercept + partner_lag slope"
    for term in ("intercept", "own_lag", "partner_lag"):
        a, b = exact.term(term), reference.term(term)
        assert a["estimate"] == pytest.approx(b["estimate"], abs=1e-4)
        assert a["std_error"] == pytest.approx(b["std_error"], rel=0.05)  # expected vs observed information
    merged = exact.dyad_effects.merge(reference.dyad_effects, on="conversation_id")
    np.testing.assert_allclose(merged["partner_slope_blup_x"], merged["partner_slope_blup_y"], atol=1e-3)
    with pytest.raises(ValueError):
        lagged_multilevel(table, pairs, engine="nope")
