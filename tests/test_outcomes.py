"""Outcome models (reciprocity.outcomes): OLS with HC3 SEs and the APIM, on simulated data with known effects."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("statsmodels")

from reciprocity.outcomes import apim, partner_values, relate_outcomes  # noqa: E402


@pytest.fixture(scope="module")
def dyads():
    rng = np.random.default_rng(11)
    n = 400
    frame = pd.DataFrame({
        "conversation_id": [f"d{i}" for i in range(n)],
        "lagged_matching": rng.normal(size=n),
        "balance_index": rng.uniform(size=n),
        "n_utterances": rng.integers(10, 40, size=n).astype(float),
        "setting": rng.choice(["lab", "online"], size=n),
    })
    noise = rng.normal(scale=1.0 + 0.5 * np.abs(frame["lagged_matching"]), size=n)  # heteroskedastic
    frame["liking"] = 2 + 0.5 * frame["lagged_matching"] + 0.05 * frame["n_utterances"] + \
        0.8 * (frame["setting"] == "online") + noise
    return frame


def test_relate_outcomes_recovers_effect_with_hc3(dyads):
    table = relate_outcomes(dyads, ["liking"], covariates=["n_utterances", "setting"])
    assert set(table["model"]) == {"lagged_matching", "balance_index"}
    row = table[(table["model"] == "lagged_matching") & (table["term"] == "lagged_matching")].iloc[0]
    assert row["ci_low"] < 0.5 < row["ci_high"]
    assert row["p"] < 1e-6 and row["n"] == 400
    setting = table[(table["model"] == "lagged_matching") & table["term"].str.startswith("setting")].iloc[0]
    assert setting["term"] == "setting[T.online]" and setting["ci_low"] < 0.8 < setting["ci_high"]
    null = table[(table["model"] == "balance_index") & (table["term"] == "balance_index")].iloc[0]
    assert null["ci_low"] < 0 < null["ci_high"]
    # HC3 by hand for the simple model liking ~ lagged_matching
    simple = relate_outcomes(dyads, "liking", ["lagged_matching"]).set_index("term")
    X = np.column_stack([np.ones(len(dyads)), dyads["lagged_matching"]])
    y = dyads["liking"].to_numpy()
    bread = np.linalg.inv(X.T @ X)
    beta = bread @ X.T @ y
    resid = y - X @ beta
    h = np.einsum("ij,jk,ik->i", X, bread, X)
    meat = X.T @ (X * (resid**2 / (1 - h) ** 2)[:, None])
    se = np.sqrt(np.diag(bread @ meat @ bread))
    np.testing.assert_allclose(simple.loc["lagged_matching", "estimate"], beta[1], rtol=1e-10)
    np.testing.assert_allclose(simple.loc["lagged_matching", "se"], se[1], rtol=1e-8)


def test_relate_outcomes_missing_standardised_joint_and_degenerate(dyads):
    data = dyads.copy()
    data.loc[:9, "lagged_matching"] = np.nan
    standard = relate_outcomes(data, "liking", ["lagged_matching"], standardize=True)
    slope = standard.set_index("term").loc["lagged_matching"]
    complete = data.dropna(subset=["lagged_matching"])
    assert slope["n"] == 390
    assert slope["estimate"] == pytest.approx(complete["liking"].corr(complete["lagged_matching"]), abs=1e-10)
    joint = relate_outcomes(data, "liking", ["lagged_matching", "balance_index"], joint=True)
    assert set(joint["model"]) == {"joint"} and {"lagged_matching", "balance_index"} <= set(joint["term"])
    data["constant"] = 1.0
    bad = relate_outcomes(data, "liking", ["constant"])
    assert bad["note"].iloc[0] == "focal predictor is constant" and np.isnan(bad["estimate"].iloc[0])
    with pytest.raises(KeyError):
        relate_outcomes(data, "nope", ["lagged_matching"])


def simulate_people(n_dyads, actor, partner, rng, roles=("a", "b")):
    """y_i = 1 + actor·x_i + partner·x_j + u_dyad + e; actor/partner may be dicts by role."""
    x = rng.normal(size=(n_dyads, 2))
    u = rng.normal(scale=0.7, size=(n_dyads, 1))
    a = np.array([actor[r] if isinstance(actor, dict) else actor for r in roles])
    p = np.array([partner[r] if isinstance(partner, dict) else partner for r in roles])
    y = 1 + a * x + p * x[:, ::-1] + u + rng.normal(scale=0.5, size=(n_dyads, 2))
    return pd.DataFrame({
        "dyad": np.repeat(np.arange(n_dyads), 2),
        "role": np.tile(roles, n_dyads),
        "disclosure_rate": x.ravel(),
        "liking": y.ravel(),
    })


@pytest.mark.parametrize("method", ["gls", "mixed"])
def test_apim_indistinguishable_recovers_actor_and_partner(method):
    people = simulate_people(300, 0.6, 0.3, np.random.default_rng(3))
    # a dyad with three members and one with a single member are dropped and counted
    extra = pd.DataFrame({"dyad": [900, 900, 900, 901], "role": ["a", "b", "a", "a"],
                          "disclosure_rate": [0.1, 0.2, 0.3, 0.4], "liking": [1.0, 2.0, 3.0, 4.0]})
    table = apim(pd.concat([people, extra], ignore_index=True), "liking", "disclosure_rate", "dyad", method=method)
    effects = table.set_index("term")
    assert effects.loc["actor", "ci_low"] < 0.6 < effects.loc["actor", "ci_high"]
    assert effects.loc["partner", "ci_low"] < 0.3 < effects.loc["partner", "ci_high"]
    assert abs(effects.loc["actor", "estimate"] - 0.6) < 0.1
    assert effects.loc["partner", "p"] < 1e-4
    assert (table["n"] == 600).all() and (table["n_dyads"] == 300).all()
    assert table.attrs["dropped_dyads"] == 2
    assert 0.4 < table.attrs["nonindependence"] < 0.9  # 0.49 / (0.49 + 0.25) ≈ 0.66
    assert table.attrs["k"]["all"] == pytest.approx(effects.loc["partner", "estimate"] / effects.loc["actor", "estimate"])


def test_apim_distinguishable_roles():
    people = simulate_people(400, {"a": 0.6, "b": 0.1}, {"a": 0.0, "b": 0.5}, np.random.default_rng(5))
    table = apim(people, "liking", "disclosure_rate", "dyad", role_col="role")
    effects = table.set_index("term")
    assert set(table["role"].dropna()) == {"a", "b"}
    for term, truth in {"actor[a]": 0.6, "actor[b]": 0.1, "partner[a]": 0.0, "partner[b]": 0.5}.items():
        assert effects.loc[term, "ci_low"] < truth < effects.loc[term, "ci_high"], term
    assert effects.loc["partner[a]", "p"] > 0.01 and effects.loc["partner[b]", "p"] < 1e-6
    with pytest.raises(ValueError):
        apim(people, "liking", "disclosure_rate", "dyad", distinguishable=True)


def test_partner_values():
    table = pd.DataFrame({"d": [1, 1, 2, 3, 3, 3], "x": [1.0, 5.0, 2.0, 1.0, 1.0, 1.0]})
    assert partner_values(table, "x", "d").tolist()[:2] == [5.0, 1.0]
    assert partner_values(table, "x", "d").iloc[2:].isna().all()


def test_partner_values_with_a_missing_member_value():
    table = pd.DataFrame({"d": ["a", "a", "b", "b"], "x": [1.0, np.nan, 2.0, 3.0]})
    got = partner_values(table, "x", "d")
    assert np.isnan(got.iloc[0]) and got.iloc[1:].tolist() == [1.0, 3.0, 2.0]


def test_constant_or_non_numeric_outcomes_are_not_fitted(dyads):
    constant = relate_outcomes(dyads.assign(liking=3.0), "liking", ["lagged_matching"])
    assert constant["note"].tolist() == ["outcome is constant"] and constant["estimate"].isna().all()
    with pytest.raises(TypeError, match="not numeric"):
        relate_outcomes(dyads.assign(liking="a"), "liking", ["lagged_matching"])


def test_apim_without_complete_dyads_says_so():
    people = pd.DataFrame({"dyad": ["a", "a", "b", "b"], "y": [1.0, np.nan, 2.0, np.nan], "x": [0.1, 0.2, 0.3, 0.4]})
    with pytest.raises(ValueError, match="at least 2 complete dyads"):
        apim(people, "y", "x", "dyad")
