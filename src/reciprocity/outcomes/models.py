"""Relating reciprocity measures to outcomes: dyad-level OLS and person-level APIM (statsmodels).

``relate_outcomes``
    One OLS model per (outcome, focal predictor) — or one joint model with all predictors — each with the given
    covariates, fitted with ``statsmodels.formula.api.ols`` and **HC3** heteroskedasticity-robust standard errors
    (MacKinnon & White 1985; recommended for small samples, Long & Ervin 2000). Rows with a missing value in the
    model's columns are dropped (listwise); ``n`` is the number used. ``standardize=True`` z-scores the outcome
    and the numeric predictors/covariates within each model's complete cases, so slopes are standardised betas.

``apim``
    Actor–Partner Interdependence Model (Kenny, Kashy & Cook 2006) for a person-level outcome of dyad members:
    ``y_i = b0 + a·x_i + p·x_partner(i) + covariates + e``. The partner's predictor is the other member's value
    (dyads without exactly two members are dropped and counted). Predictors are grand-mean centred by default.

    * indistinguishable members (default): one actor and one partner effect;
    * distinguishable members (``role_col``): the two-intercept model ``0 + role + role:actor + role:partner``,
      i.e. separate actor and partner effects for each role.

    Estimation (``method``):

    * ``"gls"`` (default): GEE with an *exchangeable* working correlation within dyads — feasible GLS that
      estimates the within-dyad residual correlation (which, unlike a random intercept, may be negative) — with
      robust sandwich SEs clustered by dyad (Liang & Zeger 1986). The estimated correlation is in
      ``result.attrs["nonindependence"]``;
    * ``"mixed"``: ``MixedLM`` with a random intercept per dyad (REML). It cannot represent negative
      nonindependence; with distinguishable members it assumes equal residual variances across roles.

    ``result.attrs["k"]`` holds the ratio partner/actor effect per role (Kenny & Ledermann 2010: k ≈ 1 couple
    pattern, k ≈ 0 actor-only, k ≈ −1 contrast pattern).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

DEFAULT_PREDICTORS: tuple[str, ...] = (
    "lagged_matching",
    "matching_index",
    "conditional_reciprocity",
    "balance_index",
    "disclosure_rate",
    "mean_depth",
    "breadth",
    "depth_slope",
)

TIDY_COLUMNS = ["outcome", "model", "term", "estimate", "se", "ci_low", "ci_high", "p", "n", "r2", "note"]
APIM_COLUMNS = ["term", "effect", "role", "estimate", "se", "ci_low", "ci_high", "p", "n", "n_dyads", "method"]


def _smf():
    try:
        import statsmodels.formula.api as smf
    except ImportError as exc:  # pragma: no cover - statsmodels is a project dependency
        raise ImportError("reciprocity.outcomes needs statsmodels (pip install statsmodels)") from exc
    return smf


def _is_categorical(series: pd.Series) -> bool:
    return (isinstance(series.dtype, pd.CategoricalDtype) or pd.api.types.is_object_dtype(series)
            or pd.api.types.is_bool_dtype(series) or pd.api.types.is_string_dtype(series))


def _zscore(values: pd.Series) -> pd.Series:
    sd = values.std(ddof=1)
    return (values - values.mean()) / sd if sd and np.isfinite(sd) and sd > 0 else values - values.mean()


def _safe_frame(data: pd.DataFrame, columns: Sequence[str]) -> tuple[pd.DataFrame, dict[str, str]]:
    """Copy of the columns under formula-safe names v0, v1, …; returns the frame and safe → original names."""
    names = {f"v{i}": column for i, column in enumerate(columns)}
    frame = pd.DataFrame({safe: data[column] for safe, column in names.items()})
    for safe in frame.columns:
        if not _is_categorical(frame[safe]):
            frame[safe] = pd.to_numeric(frame[safe], errors="coerce").astype(float)
    return frame, names


def _rename_term(term: str, names: dict[str, str]) -> str:
    for safe in sorted(names, key=len, reverse=True):
        term = term.replace(f"C({safe})", names[safe]).replace(safe, names[safe])
    return term


def _tidy(fit, names: dict[str, str], alpha: float) -> pd.DataFrame:
    ci = np.asarray(fit.conf_int(alpha=alpha))
    params = fit.params
    return pd.DataFrame({
        "term": [_rename_term(str(t), names) for t in params.index],
        "estimate": params.to_numpy(float),
        "se": np.asarray(fit.bse, dtype=float),
        "ci_low": ci[:, 0],
        "ci_high": ci[:, 1],
        "p": np.asarray(fit.pvalues, dtype=float),
    })


def relate_outcomes(
    dyad_metrics: pd.DataFrame,
    outcome_columns: Sequence[str] | str,
    predictors: Sequence[str] | None = None,
    covariates: Sequence[str] = (),
    *,
    joint: bool = False,
    standardize: bool = False,
    alpha: float = 0.05,
    cov_type: str = "HC3",
) -> pd.DataFrame:
    """OLS of each outcome on each reciprocity measure (plus covariates) with robust SEs; a tidy table.

    ``predictors`` defaults to the measures of :data:`DEFAULT_PREDICTORS` present in ``dyad_metrics``.
    Returns one row per model term with ``outcome``, ``model`` (the focal predictor, or ``"joint"``),
    ``term``, ``estimate``, ``se``, ``ci_low``, ``ci_high`` (``1 − alpha`` interval), ``p``, ``n``, ``r2`` and
    ``note`` (why a model could not be fitted, else empty).
    """
    smf = _smf()
    outcomes = [outcome_columns] if isinstance(outcome_columns, str) else list(outcome_columns)
    covariates = list(covariates)
    if predictors is None:
        predictors = [c for c in DEFAULT_PREDICTORS if c in dyad_metrics.columns and c not in outcomes]
    predictors = list(predictors)
    missing = [c for c in outcomes + predictors + covariates if c not in dyad_metrics.columns]
    if missing:
        raise KeyError(f"columns not in dyad_metrics: {missing}")
    not_numeric = [c for c in outcomes if not pd.api.types.is_numeric_dtype(dyad_metrics[c])]
    if not_numeric:
        raise TypeError(f"outcome column(s) {not_numeric} are not numeric (convert them, e.g. pd.to_numeric)")
    models = [("joint", predictors)] if joint else [(p, [p]) for p in predictors]
    rows = []
    for outcome in outcomes:
        for label, focal in models:
            columns = [outcome, *focal, *[c for c in covariates if c not in focal]]
            frame, names = _safe_frame(dyad_metrics, columns)
            frame = frame.dropna()
            safe = {v: k for k, v in names.items()}
            numeric = [s for s in frame.columns if not _is_categorical(frame[s])]
            if standardize:
                frame[numeric] = frame[numeric].apply(_zscore)
            rhs = " + ".join(f"C({safe[c]})" if _is_categorical(frame[safe[c]]) else safe[c] for c in columns[1:])
            formula = f"{safe[outcome]} ~ {rhs or '1'}"
            note = ""
            if len(frame) < len(columns) + 2:
                note = f"too few complete rows ({len(frame)})"
            elif frame[safe[outcome]].nunique() < 2:
                note = "outcome is constant"
            elif any(frame[safe[c]].nunique() < 2 for c in focal):
                note = "focal predictor is constant"
            if note:
                rows.append(pd.DataFrame({"term": [label], "estimate": [np.nan], "se": [np.nan], "ci_low": [np.nan],
                                          "ci_high": [np.nan], "p": [np.nan]}).assign(
                    outcome=outcome, model=label, n=len(frame), r2=np.nan, note=note))
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit = smf.ols(formula, data=frame).fit(cov_type=cov_type)
            rows.append(_tidy(fit, names, alpha).assign(outcome=outcome, model=label, n=int(fit.nobs),
                                                        r2=float(fit.rsquared), note=""))
    if not rows:
        return pd.DataFrame(columns=TIDY_COLUMNS)
    return pd.concat(rows, ignore_index=True)[TIDY_COLUMNS]


def partner_values(person_table: pd.DataFrame, column: str, dyad_col: str) -> pd.Series:
    """The other dyad member's value of ``column`` (NaN where the dyad does not have exactly two members or the
    other member's value is missing)."""
    values = pd.to_numeric(person_table[column], errors="coerce").astype(float)
    groups = person_table[dyad_col]
    size = groups.map(groups.value_counts())
    given = values.notna()
    total = values.groupby(groups).transform("sum")  # sum of the dyad's non-missing values
    partner_given = given.groupby(groups).transform("sum") - given
    return (total - values.fillna(0.0)).where((size == 2) & (partner_given == 1))


def apim(
    person_table: pd.DataFrame,
    outcome: str,
    predictor: str,
    dyad_col: str,
    *,
    role_col: str | None = None,
    distinguishable: bool | None = None,
    covariates: Sequence[str] = (),
    method: str = "gls",
    center: bool = True,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Actor–Partner Interdependence Model for a person-level outcome; a tidy table of effects.

    ``person_table`` has one row per person with ``dyad_col``, ``outcome``, ``predictor`` (and ``role_col``
    for distinguishable members; ``distinguishable`` defaults to ``role_col is not None``). ``method`` is
    ``"gls"`` (GEE, exchangeable working correlation, dyad-clustered robust SEs) or ``"mixed"`` (random
    intercept MixedLM). Rows: ``term`` (``intercept``/``actor``/``partner`` or ``<effect>[<role>]``, covariate
    names), ``effect``, ``role``, ``estimate``, ``se``, ``ci_low``, ``ci_high``, ``p``, ``n`` (persons),
    ``n_dyads``, ``method``. ``attrs``: ``k`` (partner/actor per role), ``dropped_dyads``, ``nonindependence``.
    """
    import statsmodels.api as sm

    smf = _smf()
    if method not in ("gls", "mixed"):
        raise ValueError("method must be 'gls' or 'mixed'")
    if distinguishable is None:
        distinguishable = role_col is not None
    if distinguishable and role_col is None:
        raise ValueError("distinguishable=True needs role_col")
    data = person_table.copy()
    size = data[dyad_col].map(data[dyad_col].value_counts())
    dropped = int(data.loc[size != 2, dyad_col].nunique())
    data = data.loc[size == 2]
    frame = pd.DataFrame({
        "y": pd.to_numeric(data[outcome], errors="coerce").astype(float),
        "actor": pd.to_numeric(data[predictor], errors="coerce").astype(float),
        "dyad": pd.factorize(data[dyad_col])[0],
    }, index=data.index)
    frame["partner"] = partner_values(data.assign(_x=frame["actor"]), "_x", dyad_col)
    cov_names = {f"c{i}": c for i, c in enumerate(covariates)}
    for safe, column in cov_names.items():
        frame[safe] = data[column] if _is_categorical(data[column]) else pd.to_numeric(data[column], errors="coerce")
    if distinguishable:
        frame["role"] = data[role_col].astype(str)
    # complete dyads only: both members need outcome, predictor and covariates
    complete = frame.drop(columns="dyad").notna().all(axis=1)
    complete = complete.groupby(frame["dyad"]).transform("all")
    frame = frame.loc[complete]
    if frame["dyad"].nunique() < 2:
        raise ValueError(f"the APIM needs at least 2 complete dyads (both members with {outcome!r}, {predictor!r} "
                         f"and the covariates); found {frame['dyad'].nunique()}")
    if center:
        mean = frame["actor"].mean()
        frame["actor"] -= mean
        frame["partner"] -= mean
    if distinguishable and frame.groupby("dyad")["role"].nunique().min() < 2:
        raise ValueError(f"distinguishable dyads need one member of each role in {role_col!r}")
    cov_terms = " + ".join(f"C({s})" if _is_categorical(frame[s]) else s for s in cov_names)
    if distinguishable:
        formula = "y ~ 0 + C(role) + C(role):actor + C(role):partner"
    else:
        formula = "y ~ actor + partner"
    if cov_terms:
        formula += " + " + cov_terms
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if method == "gls":
            model = smf.gee(formula, groups="dyad", data=frame, cov_struct=sm.cov_struct.Exchangeable(),
                            family=sm.families.Gaussian())
            fit = model.fit()
            nonindependence = float(model.cov_struct.dep_params)
        else:
            fit = smf.mixedlm(formula, data=frame, groups="dyad").fit(reml=True)
            var_dyad = float(np.asarray(fit.cov_re)[0, 0])
            nonindependence = var_dyad / (var_dyad + float(fit.scale))
    params = fit.params
    if method == "mixed":
        params = params.drop(labels=[t for t in params.index if t.endswith(" Var")], errors="ignore")
    ci = np.asarray(fit.conf_int(alpha=alpha).loc[params.index])
    terms, effects, roles = [], [], []
    for name in params.index:
        role = None
        effect = name
        if name.startswith("C(role)"):
            role = name.split("[", 1)[1].split("]", 1)[0]
            effect = name.split(":", 1)[1] if ":" in name else "intercept"
        elif name == "Intercept":
            effect = "intercept"
        else:
            effect = _rename_term(name, cov_names)
        effects.append(effect)
        roles.append(role)
        terms.append(f"{effect}[{role}]" if role is not None else effect)
    out = pd.DataFrame({
        "term": terms,
        "effect": effects,
        "role": roles,
        "estimate": params.to_numpy(float),
        "se": np.asarray(fit.bse.loc[params.index], dtype=float),
        "ci_low": ci[:, 0],
        "ci_high": ci[:, 1],
        "p": np.asarray(fit.pvalues.loc[params.index], dtype=float),
        "n": len(frame),
        "n_dyads": int(frame["dyad"].nunique()),
        "method": method,
    })
    k = {}
    for role in (pd.unique(out["role"].dropna()) if distinguishable else [None]):
        sel = out["role"].isna() if role is None else out["role"] == role
        a = out.loc[sel & (out["effect"] == "actor"), "estimate"]
        p = out.loc[sel & (out["effect"] == "partner"), "estimate"]
        if len(a) and len(p) and a.iloc[0] != 0:
            k["all" if role is None else role] = float(p.iloc[0] / a.iloc[0])
    out.attrs = {"k": k, "dropped_dyads": dropped, "nonindependence": nonindependence,
                 "outcome": outcome, "predictor": predictor, "distinguishable": bool(distinguishable)}
    return out[APIM_COLUMNS]
