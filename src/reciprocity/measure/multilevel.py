"""Lagged (dyadic time-series) models of depth: per-dyad slopes and a multilevel model (THEORY.md §3).

Design (one row per exchange pair, B responding to A at turn t):

    response      d_{B,t}       depth of the reply;
    own_lag       d_{B,t-1}     depth of B's own previous utterance in the conversation
                                (``groupby([conversation, speaker]).shift(1)``; pairs where B has not
                                spoken before are dropped);
    partner_lag   d_{A,t-1}     depth of the utterance B responds to.

Both lags are person-mean-centred: centred on their mean within the responder (conversation ×
speaker), so the slopes are within-person effects (Curran & Bauer 2011; Kenny, Kashy & Cook 2006,
ch. 15 on dyadic time series). Without the own lag, a shared drift of depth would masquerade as
reciprocity.

* :func:`dyad_slopes` — per dyad, the within-responder OLS regression
  d_{B,t} - mean_B(d) = beta_s own_lag_c + beta_p partner_lag_c + e (responder-specific
  intercepts), solved for every dyad at once from bincount sums; SE from
  sigma^2 (X'X)^{-1} with sigma^2 = RSS / (n - 2 - n_responders); t-based 95% CIs.
  ``partner_slope`` is the dyad's reciprocity estimate.
* :func:`lagged_multilevel` — statsmodels ``MixedLM`` (REML):
  d_{B,t} = beta_0 + beta_s own_lag_c + beta_p partner_lag_c + u_0,dyad + u_p,dyad partner_lag_c + e,
  random intercept and random partner-lag slope per conversation; falls back to a random
  intercept only (reason recorded) when the slope model fails, does not converge, or is singular
  (slope or intercept variance ~ 0 or |corr(u_0, u_p)| ~ 1). If the random intercept variance is
  itself ~ 0 the REML fit degenerates to OLS (singular Hessian), so the fixed effects are then
  taken from OLS with dyad-clustered (sandwich) SEs, again with the reason recorded. Wald
  (normal) CIs and p-values for the fixed effects.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from reciprocity.schema import CONVERSATION, SPEAKER


def lag_design(coded: pd.DataFrame, pairs: pd.DataFrame, value: str = "depth") -> pd.DataFrame:
    """The model frame: response, own/partner lags (raw and person-mean-centred), ids (vectorised)."""
    coded = coded.reset_index(drop=True)
    depth = coded[value].astype(float)
    own_previous = depth.groupby([coded[CONVERSATION], coded[SPEAKER]], sort=False).shift(1).to_numpy()
    prev, nxt = pairs["prev"].to_numpy(), pairs["next"].to_numpy()
    frame = pd.DataFrame({
        CONVERSATION: coded[CONVERSATION].to_numpy()[nxt],
        "responder": coded[SPEAKER].to_numpy()[nxt],
        "partner": coded[SPEAKER].to_numpy()[prev],
        "row": nxt,
        "response": depth.to_numpy()[nxt],
        "own_lag": own_previous[nxt],
        "partner_lag": depth.to_numpy()[prev],
    })
    frame = frame.loc[frame["own_lag"].notna()].reset_index(drop=True)
    person = frame.groupby([CONVERSATION, "responder"], sort=False)
    frame["own_lag_c"] = frame["own_lag"] - person["own_lag"].transform("mean")
    frame["partner_lag_c"] = frame["partner_lag"] - person["partner_lag"].transform("mean")
    frame["response_c"] = frame["response"] - person["response"].transform("mean")
    frame["person"] = person.ngroup()
    return frame


def dyad_slopes(design: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Per-dyad within-responder OLS of the reply on own and partner lag (all dyads at once)."""
    conversations, group = np.unique(design[CONVERSATION].to_numpy(), return_inverse=True)
    g = len(conversations)

    def total(values: np.ndarray) -> np.ndarray:
        return np.bincount(group, weights=values, minlength=g)

    x1, x2, y = (design[c].to_numpy(float) for c in ("own_lag_c", "partner_lag_c", "response_c"))
    n = np.bincount(group, minlength=g).astype(float)
    n_people = design.groupby(group)["person"].nunique().reindex(range(g)).to_numpy(float)
    s11, s22, s12 = total(x1 * x1), total(x2 * x2), total(x1 * x2)
    s1y, s2y, syy = total(x1 * y), total(x2 * y), total(y * y)
    det = s11 * s22 - s12**2
    df = n - 2 - n_people
    with np.errstate(invalid="ignore", divide="ignore"):
        ok = (det > 1e-12 * np.maximum(s11 * s22, 1e-300)) & (df >= 1)
        b_own = np.where(ok, (s22 * s1y - s12 * s2y) / det, np.nan)
        b_partner = np.where(ok, (s11 * s2y - s12 * s1y) / det, np.nan)
        rss = np.maximum(syy - b_own * s1y - b_partner * s2y, 0.0)
        sigma2 = rss / df
        se_own = np.sqrt(sigma2 * s22 / det)
        se_partner = np.sqrt(sigma2 * s11 / det)
        t_crit = stats.t.ppf(0.5 + level / 2, np.where(df >= 1, df, np.nan))
        p_partner = 2 * stats.t.sf(np.abs(b_partner / se_partner), np.where(df >= 1, df, np.nan))
    return pd.DataFrame({
        CONVERSATION: conversations,
        "n_lagged_pairs": n.astype("int64"),
        "own_slope": b_own,
        "own_slope_se": np.where(ok, se_own, np.nan),
        "partner_slope": b_partner,
        "partner_slope_se": np.where(ok, se_partner, np.nan),
        "partner_slope_ci_low": np.where(ok, b_partner - t_crit * se_partner, np.nan),
        "partner_slope_ci_high": np.where(ok, b_partner + t_crit * se_partner, np.nan),
        "partner_slope_p": np.where(ok, p_partner, np.nan),
    })


@dataclass
class MultilevelResult:
    """Result of :func:`lagged_multilevel`.

    ``params``: one row per term — fixed effects ``intercept``, ``own_lag`` (stability beta_s),
    ``partner_lag`` (reciprocity beta_p) with ``estimate``, ``std_error``, ``z``, ``p_value``,
    ``ci_low``, ``ci_high``; and random-effect (co)variances (``kind`` = "random", estimates only).
    ``fit``: n_obs, n_dyads, random_effects ("intercept + partner_lag slope" or "intercept"),
    fallback_reason (None if the slope model was kept), converged, method, loglik_reml.
    ``dyad_effects``: per conversation BLUP of the partner-lag slope (beta_p + u_p,dyad) when the
    random slope was kept, else beta_p.
    """

    params: pd.DataFrame
    fit: dict = field(default_factory=dict)
    dyad_effects: pd.DataFrame = field(default_factory=pd.DataFrame)

    def term(self, name: str) -> dict:
        """One fixed-effect row as a dict (estimate, std_error, ci_low, ci_high, p_value)."""
        rows = self.params.loc[self.params["term"] == name]
        if rows.empty:
            return {"estimate": float("nan"), "std_error": float("nan"), "ci_low": float("nan"),
                    "ci_high": float("nan"), "p_value": float("nan")}
        row = rows.iloc[0]
        return {k: float(row[k]) for k in ("estimate", "std_error", "ci_low", "ci_high", "p_value")}

    def headline(self) -> dict:
        """JSON-ready summary: beta_p and beta_s with 95% CI, plus fit info."""
        return {"partner_lag": self.term("partner_lag"), "own_lag": self.term("own_lag"), **self.fit}


PARAM_COLUMNS = ["term", "kind", "estimate", "std_error", "z", "p_value", "ci_low", "ci_high"]
FIXED_NAMES = ["intercept", "own_lag", "partner_lag"]


def _empty(reason: str, n_obs: int = 0, n_dyads: int = 0) -> MultilevelResult:
    return MultilevelResult(pd.DataFrame(columns=PARAM_COLUMNS), {
        "n_obs": n_obs, "n_dyads": n_dyads, "random_effects": None, "fallback_reason": reason,
        "converged": False, "method": "reml", "loglik_reml": float("nan")},
        pd.DataFrame({CONVERSATION: pd.Series(dtype=object), "partner_slope_blup": pd.Series(dtype=float)}))


def _fit(endog, exog, groups, exog_re):
    from statsmodels.regression.mixed_linear_model import MixedLM

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = MixedLM(endog, exog, groups=groups, exog_re=exog_re)
        result = model.fit(reml=True, method=["lbfgs", "powell"])
    messages = [str(w.message) for w in caught
                if "Convergence" in type(w.message).__name__ or "singular" in str(w.message).lower()
                or "boundary" in str(w.message).lower() or "converge" in str(w.message).lower()]
    return result, messages


def lagged_multilevel(coded: pd.DataFrame, pairs: pd.DataFrame, *, value: str = "depth",
                      random_slope: bool = True, level: float = 0.95) -> MultilevelResult:
    """Fit d_{B,t} = b0 + b_s own_lag + b_p partner_lag + u_dyad (+ random partner-lag slope).

    See the module docstring for the design and the fallback rule. Returns a
    :class:`MultilevelResult` with a tidy ``params`` table.
    """
    design = lag_design(coded, pairs, value)
    n_obs, n_dyads = len(design), int(design[CONVERSATION].nunique())
    if n_dyads < 2 or n_obs < 10:
        return _empty("too few dyads or lagged pairs for a multilevel model", n_obs, n_dyads)
    if design["partner_lag_c"].var() <= 0 or design["own_lag_c"].var() <= 0:
        return _empty("no within-person variation in the lags", n_obs, n_dyads)
    endog = design["response"].to_numpy(float)
    exog = np.column_stack([np.ones(n_obs), design["own_lag_c"], design["partner_lag_c"]])
    groups = pd.factorize(design[CONVERSATION])[0]
    reason = None
    result = None
    if random_slope:
        try:
            result, messages = _fit(endog, exog, groups, exog[:, [0, 2]])
            cov = np.asarray(result.cov_re)
            slope_var = cov[1, 1]
            corr = cov[0, 1] / np.sqrt(cov[0, 0] * cov[1, 1]) if cov[0, 0] > 0 and cov[1, 1] > 0 else np.nan
            if not result.converged:
                reason = "random-slope model did not converge"
            elif cov[0, 0] <= 1e-6 * result.scale:
                reason = "random intercept variance estimated at ~0 in the slope model (singular fit)"
            elif slope_var <= 1e-6 * result.scale:
                reason = "random partner-lag slope variance estimated at ~0 (singular fit)"
            elif np.isfinite(corr) and abs(corr) > 0.99:
                reason = f"random intercept/slope correlation {corr:.3f} at the boundary (singular fit)"
            elif not np.all(np.isfinite(result.bse_fe)):
                reason = "random-slope model has undefined standard errors"
            elif messages:
                reason = "random-slope model: " + "; ".join(sorted(set(messages)))[:300]
        except (np.linalg.LinAlgError, ValueError) as error:
            reason = f"random-slope model failed: {error}"
        if reason is not None:
            result = None
    else:
        reason = "random slope not requested"
    if result is None:
        try:
            result, messages = _fit(endog, exog, groups, exog[:, [0]])
        except (np.linalg.LinAlgError, ValueError) as error:
            return _empty(f"{reason}; random-intercept model failed: {error}", n_obs, n_dyads)
    slope_kept = np.asarray(result.cov_re).shape[0] == 2
    cov = np.asarray(result.cov_re)
    fe = np.asarray(result.fe_params)
    se = np.asarray(result.bse_fe)
    ols = False
    if not slope_kept and (cov[0, 0] <= 1e-6 * result.scale or not np.all(np.isfinite(se))
                           or not np.isfinite(result.llf)):
        # Boundary: var(u_dyad) = 0, the REML fit degenerates to OLS (and its Hessian is singular).
        import statsmodels.api as sm

        ols_fit = sm.OLS(endog, exog).fit(cov_type="cluster", cov_kwds={"groups": groups})
        fe, se = np.asarray(ols_fit.params), np.asarray(ols_fit.bse)
        reason = (reason + "; " if reason else "") + \
            "random intercept variance ~0: fixed effects by OLS with dyad-clustered standard errors"
        ols = True
    crit = stats.norm.ppf(0.5 + level / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = fe / se
    fixed = pd.DataFrame({
        "term": FIXED_NAMES, "kind": "fixed", "estimate": fe, "std_error": se, "z": z,
        "p_value": 2 * stats.norm.sf(np.abs(z)), "ci_low": fe - crit * se, "ci_high": fe + crit * se,
    })
    random_rows = [("var(u_dyad intercept)", cov[0, 0])]
    if slope_kept:
        random_rows += [("var(u_dyad partner_lag slope)", cov[1, 1]), ("cov(intercept, slope)", cov[0, 1])]
    random_rows.append(("residual variance", float(result.scale)))
    random = pd.DataFrame({"term": [r[0] for r in random_rows], "kind": "random",
                           "estimate": [float(r[1]) for r in random_rows]})
    params = pd.concat([fixed, random.reindex(columns=PARAM_COLUMNS)], ignore_index=True)

    labels = pd.factorize(design[CONVERSATION])[1]
    slope = np.full(len(labels), fe[2])
    if slope_kept:
        try:
            blups = pd.DataFrame(result.random_effects).T.reindex(range(len(labels)))  # rows: dyads; (intercept, slope)
            slope = fe[2] + blups.iloc[:, 1].to_numpy(float)
        except (ValueError, np.linalg.LinAlgError):
            pass
    dyad_effects = pd.DataFrame({CONVERSATION: np.asarray(labels), "partner_slope_blup": slope})
    fit = {
        "n_obs": n_obs,
        "n_dyads": n_dyads,
        "random_effects": "intercept + partner_lag slope" if slope_kept else ("none (OLS)" if ols else "intercept"),
        "fallback_reason": reason,
        "converged": bool(result.converged),
        "method": "reml",
        "loglik_reml": float(result.llf) if np.isfinite(result.llf) else float("nan"),
        "centring": "lags centred on the responder's (conversation x speaker) mean",
        "boundary": "random intercept variance ~0" if cov[0, 0] <= 1e-6 * result.scale else None,
    }
    return MultilevelResult(params, fit, dyad_effects)
