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
* :func:`lagged_multilevel` — REML linear mixed model, fitted exactly from per-dyad sufficient
  statistics (:func:`reml_fit`: profiled REML likelihood, 3 variance parameters, analytic
  gradient, vectorised over dyads; statsmodels ``MixedLM`` is the reference, ``engine="statsmodels"``,
  and the tests check the two agree):
  d_{B,t} = beta_0 + beta_s own_lag_c + beta_p partner_lag_c + u_0,dyad + u_p,dyad partner_lag_c + e,
  random intercept and random partner-lag slope per conversation; falls back to a random
  intercept only (reason recorded) when the slope model fails, does not converge, or is singular
  (slope or intercept variance ~ 0 or |corr(u_0, u_p)| ~ 1). If the random intercept variance is
  itself ~ 0 the REML fit degenerates to OLS (singular Hessian), so the fixed effects are then
  taken from OLS with dyad-clustered (sandwich) SEs, again with the reason recorded. Wald
  (normal) CIs and p-values for the fixed effects; their SEs come from the fixed-effect block of
  the information, sigma^2 (X'V^{-1}X)^{-1} (as lme4/nlme), which differs from statsmodels'
  observed-Hessian SEs by a few per cent at most. "Singular" keeps statsmodels' boundary rule: the
  slope model is also dropped when a random-effect variance is below ``BOUNDARY_VARIANCE`` (0.01).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize, stats

from reciprocity.measure.pairs import positional, sorted_codes
from reciprocity.schema import CONVERSATION, SPEAKER


def lag_design(coded: pd.DataFrame, pairs: pd.DataFrame, value: str = "depth") -> pd.DataFrame:
    """The model frame: response, own/partner lags (raw and person-mean-centred), ids (vectorised)."""
    coded = positional(coded)
    depth = coded[value].to_numpy(float)
    # (conversation, speaker) group of every row, and the previous row of the same group (row order)
    conversation_code = pd.factorize(coded[CONVERSATION])[0].astype(np.int64)
    speaker_code = pd.factorize(coded[SPEAKER])[0].astype(np.int64)
    group = pd.factorize(conversation_code * (int(speaker_code.max()) + 1 if len(coded) else 1) + speaker_code)[0]
    order = np.argsort(group, kind="stable")
    previous_row = np.full(len(coded), -1, dtype=np.int64)
    same = group[order][1:] == group[order][:-1]
    previous_row[order[1:][same]] = order[:-1][same]
    prev, nxt = pairs["prev"].to_numpy(), pairs["next"].to_numpy()
    keep = previous_row[nxt] >= 0                      # the responder has an own lag ...
    keep[keep] = ~np.isnan(depth[previous_row[nxt[keep]]])   # ... that is not missing
    prev, nxt = prev[keep], nxt[keep]
    conversation = coded[CONVERSATION].to_numpy()
    speaker = coded[SPEAKER].to_numpy()
    columns = {
        CONVERSATION: conversation[nxt],
        "responder": speaker[nxt],
        "partner": speaker[prev],
        "row": nxt,
        "response": depth[nxt],
        "own_lag": depth[previous_row[nxt]],
        "partner_lag": depth[prev],
    }
    # person = (conversation, responder), numbered in order of first appearance; centring by person means
    person = pd.factorize(group[nxt])[0] if len(nxt) else np.zeros(0, dtype=np.int64)
    counts = np.bincount(person).astype(float)
    for column, centred in (("own_lag", "own_lag_c"), ("partner_lag", "partner_lag_c"), ("response", "response_c")):
        values = columns[column]
        columns[centred] = values - (np.bincount(person, weights=values, minlength=len(counts)) / counts)[person]
    columns["person"] = person
    return pd.DataFrame(columns, copy=False)   # one array per column: no consolidated copy of the frame


def _people_per_group(person: np.ndarray, group: np.ndarray, n_groups: int) -> np.ndarray:
    """Number of distinct ``person`` codes in each group (as ``groupby(group)[person].nunique()``), as floats.

    Persons are nested in dyads (a person is a conversation x speaker), so each person's group is read off any
    of its rows and counted once; a design where that does not hold falls back to the groupby.
    """
    if len(person) == 0:
        return np.zeros(n_groups)
    person = person.astype(np.int64, copy=False)
    home = np.zeros(int(person.max()) + 1 if person.min() >= 0 else 0, dtype=np.int64)
    if len(home):
        home[person] = group
    if len(home) and np.array_equal(home[person], group):
        seen = np.zeros(len(home), dtype=bool)
        seen[person] = True
        return np.bincount(home[seen], minlength=n_groups).astype(float)
    return pd.Series(person).groupby(group).nunique().reindex(range(n_groups)).to_numpy(float)


def dyad_slopes(design: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Per-dyad within-responder OLS of the reply on own and partner lag (all dyads at once)."""
    conversations, group = sorted_codes(design[CONVERSATION])
    g = len(conversations)

    def total(values: np.ndarray) -> np.ndarray:
        return np.bincount(group, weights=values, minlength=g)

    x1, x2, y = (design[c].to_numpy(float) for c in ("own_lag_c", "partner_lag_c", "response_c"))
    n = np.bincount(group, minlength=g).astype(float)
    n_people = _people_per_group(design["person"].to_numpy(), group, g)
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


# ----------------------------------------------------------------------------------------------- exact REML
#
# The model  y_i = X_i beta + Z_i b_i + e_i,  b_i ~ N(0, sigma^2 Psi),  e_i ~ N(0, sigma^2 I)  (one block i per
# dyad, Z_i = a subset of the columns of X_i) only enters the REML likelihood through per-dyad cross-products
# S_i = [X_i y_i]'[X_i y_i]. With A_i = Z_i'Z_i, T_i = Z_i'[X_i y_i], P_i = (I + Psi A_i)^{-1} and
# K_i = P_i Psi (= Psi - Psi Z_i' V_i^{-1} Z_i Psi, Woodbury):
#
#     Q = sum_i S_i - T_i' K_i T_i = [X y]' V^{-1} [X y],   V = blockdiag(I + Z_i Psi Z_i'),
#     beta = Qxx^{-1} Qxy,   r'V^{-1}r = Qyy - Qxy' beta,   sigma^2 = r'V^{-1}r / (N - p),
#     -2 loglik_REML = (N - p)(log sigma^2 + 1 + log 2 pi) + sum_i log det(I + Psi A_i) + log det Qxx,
#
# i.e. exactly the REML criterion statsmodels' MixedLM maximises, profiled over sigma^2 and beta. It is
# minimised over the Cholesky factor L of Psi = L L' (q(q+1)/2 parameters, diag(L) >= 0 so boundary fits are
# representable) with L-BFGS-B and the analytic gradient
#     d(-2 l)/dPsi = sum_i A_i P_i - sum_i R_ix Qxx^{-1} R_ix' - (N - p) / r'V^{-1}r sum_i (R_i e)(R_i e)',
# R_i = P_i' T_i, e = (-beta, 1); d/dL = 2 H L. Every per-dyad quantity is a q x q (q <= 2) array
# operation vectorised over dyads, so a fit costs O(n_dyads) per evaluation after one pass over the rows.
# Standard errors of beta: sqrt(diag(sigma^2 Qxx^{-1})) (the fixed-effect block of the information, as lme4;
# statsmodels' observed-Hessian SEs differ from it only in the O(1/N) fixed/random cross terms). BLUPs:
# b_i = K_i T_i e.


@dataclass
class REMLFit:
    """A fitted REML model (the attributes :func:`lagged_multilevel` reads, named as in statsmodels)."""

    fe_params: np.ndarray
    bse_fe: np.ndarray
    cov_re: np.ndarray          # absolute (sigma^2 Psi)
    scale: float
    llf: float
    converged: bool
    random_effects: np.ndarray  # (n_groups, q) BLUPs
    n_iterations: int = 0
    message: str = ""


def group_crossproducts(exog: np.ndarray, endog: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
    """Per-group cross-products [X y]'[X y] as an (n_groups, p+1, p+1) array (one bincount per cell).

    ``exog``: the (n, p) design matrix, or its p columns as a list of 1-D arrays (no stacked copy needed).
    """
    if isinstance(exog, (list, tuple)):
        columns = [np.asarray(column, dtype=float) for column in exog]
    else:
        exog = np.asarray(exog)
        columns = [np.asarray(exog[:, j], dtype=float) for j in range(exog.shape[1])]
    # the columns of [X y] one at a time (no stacked (n, p+1) copy: lower peak memory, same values)
    u = columns + [np.asarray(endog, dtype=float)]
    k = len(u)
    out = np.empty((n_groups, k, k))
    for a in range(k):
        for b in range(a, k):
            out[:, a, b] = out[:, b, a] = np.bincount(groups, weights=u[a] * u[b], minlength=n_groups)
    return out


# Per-dyad arrays inside the criterion are stored dyad-last: (rows, columns, g) C-contiguous, so every per-dyad
# matrix operation below is a handful of elementwise loops over contiguous memory (numpy's stacked ``matmul``
# calls BLAS once per 2 x 2 block, which costs far more than the arithmetic). Unstacked matrices get a trailing
# axis of length 1 and broadcast.


def _dyad_last(stack: np.ndarray) -> np.ndarray:
    """A (g, a, b) stack as an (a, b, g) C-contiguous array (same values)."""
    return np.ascontiguousarray(np.moveaxis(stack, 0, -1))


def _matmul_last(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``x_i @ y_i`` for every dyad i of dyad-last stacks ((a, b, g) @ (b, c, g); g may be 1 for either)."""
    out = x[:, 0, None] * y[None, 0]
    for k in range(1, x.shape[1]):
        out += x[:, k, None] * y[None, k]
    return out


def _small_inverse(m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inverse and log-determinant of a dyad-last stack of q x q matrices (q, q, g) (closed form for q <= 2)."""
    q = m.shape[0]
    if q == 1:
        return 1.0 / m, np.log(m[0, 0])
    if q == 2:
        a, b, c, d = m[0, 0], m[0, 1], m[1, 0], m[1, 1]
        det = a * d - b * c
        inv = np.empty_like(m)
        inv[0, 0], inv[0, 1], inv[1, 0], inv[1, 1] = d / det, -b / det, -c / det, a / det
        return inv, np.log(det)
    inv = np.linalg.inv(np.moveaxis(m, -1, 0))
    return _dyad_last(inv), np.linalg.slogdet(np.moveaxis(m, -1, 0))[1]


class _REMLCriterion:
    """-2 log L_REML (profiled over beta and sigma^2) and its gradient in the Cholesky factor of Psi.

    ``A`` (q, q, g) and ``T`` (q, p+1, g) hold Z_i'Z_i and Z_i'[X_i y_i] dyad-last (see :func:`_matmul_last`).
    """

    def __init__(self, cross: np.ndarray, n_obs: int, z_index: list[int]):
        self.S = cross
        self.total = cross.sum(axis=0)
        self.p = cross.shape[1] - 1
        self.n = n_obs
        self.z = list(z_index)
        self.q = len(self.z)
        self.A = _dyad_last(cross[:, self.z][:, :, self.z])       # Z_i'Z_i
        self.T = _dyad_last(cross[:, self.z, :])                   # Z_i'[X_i y_i]
        self.tril = np.tril_indices(self.q)

    def cholesky(self, theta: np.ndarray) -> np.ndarray:
        factor = np.zeros((self.q, self.q))
        factor[self.tril] = theta
        return factor

    def parts(self, psi: np.ndarray) -> dict:
        """Per-dyad P_i, K_i (dyad-last) and the profiled quantities at Psi = ``psi``."""
        q, p = self.q, self.p
        P, logdet = _small_inverse(np.eye(q)[:, :, None] + _matmul_last(psi[:, :, None], self.A))
        K = _matmul_last(P, psi[:, :, None])                                  # (q, q, g), symmetric
        KT = _matmul_last(K, self.T)                                          # (q, p+1, g)
        Q = self.total - np.einsum("akg,alg->kl", self.T, KT)                 # sum_i T_i' K_i T_i
        Q = (Q + Q.T) / 2
        qxx, qxy = Q[:p, :p], Q[:p, p]
        qxx_inv = np.linalg.inv(qxx)
        beta = qxx_inv @ qxy
        rvr = float(Q[p, p] - qxy @ beta)
        sign, logdet_qxx = np.linalg.slogdet(qxx)
        value = (self.n - p) * np.log(rvr) + logdet.sum() + logdet_qxx if rvr > 0 and sign > 0 else np.inf
        return {"P": P, "K": K, "Q": Q, "qxx_inv": qxx_inv, "beta": beta, "rvr": rvr, "value": value,
                "logdet": logdet.sum() + logdet_qxx}

    def __call__(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        factor = self.cholesky(theta)
        psi = factor @ factor.T
        parts = self.parts(psi)
        if not np.isfinite(parts["value"]):
            return np.inf, np.zeros_like(theta)
        p = self.p
        P, beta, rvr = parts["P"], parts["beta"], parts["rvr"]
        R = _matmul_last(np.swapaxes(P, 0, 1), self.T)                       # P_i' T_i, (q, p+1, g)
        e = np.r_[-beta, 1.0]
        Re = np.einsum("akg,k->ag", R, e)                                     # R_i e, (q, g)
        Rx = R[:, :p]
        H = np.einsum("abg,bcg->ac", self.A, P)                               # sum_i A_i P_i
        H -= np.einsum("arg,brg->ab", _matmul_last(Rx, parts["qxx_inv"][:, :, None]), Rx)  # sum_i R_ix Qxx^-1 R_ix'
        H -= (self.n - p) / rvr * np.einsum("ag,bg->ab", Re, Re)
        H = (H + H.T) / 2
        grad = (2 * H @ factor)[self.tril]
        return parts["value"] / self.n, grad / self.n


def reml_fit(cross: np.ndarray, n_obs: int, z_index: list[int], *, start: np.ndarray | None = None,
             tol: float = 1e-10, max_iter: int = 500) -> REMLFit:
    """Exact REML fit from per-group cross-products (see the comment block above)."""
    criterion = _REMLCriterion(cross, n_obs, z_index)
    p = criterion.p
    diagonal = [i == j for i, j in zip(*criterion.tril)]
    bounds = [(0.0, None) if d else (None, None) for d in diagonal]
    starts = [start] if start is not None else [np.where(diagonal, 1.0, 0.0), np.where(diagonal, 0.1, 0.0)]
    best = None
    for theta0 in starts:
        result = optimize.minimize(criterion, np.asarray(theta0, float), jac=True, method="L-BFGS-B",
                                   bounds=bounds, options={"ftol": tol * 1e-3, "gtol": tol, "maxiter": max_iter})
        if best is None or result.fun < best.fun - 1e-12:
            best = result
    factor = criterion.cholesky(best.x)
    psi = factor @ factor.T
    parts = criterion.parts(psi)
    _, grad = criterion(best.x)
    # projected gradient: components pushing against a bound at 0 do not count
    projected = np.where(np.array(diagonal) & (best.x <= 0) & (grad > 0), 0.0, grad)
    converged = bool(best.success or np.max(np.abs(projected)) < 1e-6)
    n_free = n_obs - p
    scale = parts["rvr"] / n_free
    beta = parts["beta"]
    llf = -0.5 * (n_free * (np.log(scale) + 1 + np.log(2 * np.pi)) + parts["logdet"])
    blups = np.einsum("abg,bg->ga", parts["K"], np.einsum("bkg,k->bg", criterion.T, np.r_[-beta, 1.0]))
    return REMLFit(
        fe_params=beta,
        bse_fe=np.sqrt(np.maximum(np.diag(parts["qxx_inv"]) * scale, 0.0)),
        cov_re=scale * psi,
        scale=float(scale),
        llf=float(llf),
        converged=converged,
        random_effects=blups,
        n_iterations=int(best.nit),
        message=str(best.message),
    )


def _fit_statsmodels(endog, exog, groups, exog_re):
    """Reference fit with statsmodels' MixedLM (``engine="statsmodels"``; slow on large corpora)."""
    from statsmodels.regression.mixed_linear_model import MixedLM

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = MixedLM(endog, exog, groups=groups, exog_re=exog_re)
        result = model.fit(reml=True, method=["lbfgs", "powell"])
    messages = [str(w.message) for w in caught
                if "Convergence" in type(w.message).__name__ or "singular" in str(w.message).lower()
                or "boundary" in str(w.message).lower() or "converge" in str(w.message).lower()]
    return result, messages


#: statsmodels warns "the MLE may be on the boundary" when a random-effect variance is below this (absolute)
#: value; the slope model has always been dropped then, and the exact fitter keeps that rule.
BOUNDARY_VARIANCE = 0.01


def _fit_exact(cross, n_obs, z_index):
    """:func:`reml_fit` of per-dyad cross-products, with statsmodels-style warning messages."""
    result = reml_fit(cross, n_obs, z_index)
    messages = []
    if np.min(np.diag(result.cov_re)) < BOUNDARY_VARIANCE:
        messages.append("The MLE may be on the boundary of the parameter space.")
    if not result.converged:
        messages.append(f"REML optimisation did not converge: {result.message}")
    return result, messages


def lagged_multilevel(coded: pd.DataFrame, pairs: pd.DataFrame, *, value: str = "depth",
                      random_slope: bool = True, level: float = 0.95, engine: str = "exact",
                      design: pd.DataFrame | None = None) -> MultilevelResult:
    """Fit d_{B,t} = b0 + b_s own_lag + b_p partner_lag + u_dyad (+ random partner-lag slope).

    See the module docstring for the design and the fallback rule. Returns a
    :class:`MultilevelResult` with a tidy ``params`` table. ``engine="exact"`` (default) maximises
    the REML likelihood from per-dyad sufficient statistics (:func:`reml_fit`); ``"statsmodels"``
    fits the same model with statsmodels' ``MixedLM`` (the reference; much slower). ``design``
    (optional): :func:`lag_design` of ``coded``, ``pairs`` and ``value``, when the caller has it already.
    """
    if engine not in {"exact", "statsmodels"}:
        raise ValueError(f"unknown engine {engine!r}")
    if design is None:
        design = lag_design(coded, pairs, value)
    groups, labels = pd.factorize(design[CONVERSATION])      # dyad codes (NaN ids, if any, are not counted)
    n_obs, n_dyads = len(design), len(labels)
    if n_dyads < 2 or n_obs < 10:
        return _empty("too few dyads or lagged pairs for a multilevel model", n_obs, n_dyads)
    if design["partner_lag_c"].var() <= 0 or design["own_lag_c"].var() <= 0:
        return _empty("no within-person variation in the lags", n_obs, n_dyads)
    endog = design["response"].to_numpy(float)
    # the design matrix [1, own_lag_c, partner_lag_c] by columns; stacked only where statsmodels needs it
    columns = [np.ones(n_obs), design["own_lag_c"].to_numpy(float), design["partner_lag_c"].to_numpy(float)]
    n_groups = len(labels)
    cross = []            # the per-dyad cross-products, computed once for both fits (exact engine)

    def _fit(endog, groups, z_index):
        if engine == "statsmodels":
            exog = np.column_stack(columns)
            return _fit_statsmodels(endog, exog, groups, exog[:, z_index])
        if not cross:
            cross.append(group_crossproducts(columns, endog, groups, n_groups))
        return _fit_exact(cross[0], len(endog), z_index)

    reason = None
    result = None
    if random_slope:
        try:
            result, messages = _fit(endog, groups, [0, 2])
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
            result, messages = _fit(endog, groups, [0])
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

        ols_fit = sm.OLS(endog, np.column_stack(columns)).fit(cov_type="cluster", cov_kwds={"groups": groups})
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

    slope = np.full(len(labels), fe[2])
    if slope_kept:
        try:
            if isinstance(result, REMLFit):
                blups = result.random_effects                      # (n_dyads, 2): intercept, slope
            else:
                blups = pd.DataFrame(result.random_effects).T.reindex(range(len(labels))).to_numpy(float)
            slope = fe[2] + blups[:, 1]
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
        "engine": "exact REML from per-dyad sufficient statistics" if engine == "exact" else "statsmodels MixedLM",
        "loglik_reml": float(result.llf) if np.isfinite(result.llf) else float("nan"),
        "centring": "lags centred on the responder's (conversation x speaker) mean",
        "boundary": "random intercept variance ~0" if cov[0, 0] <= 1e-6 * result.scale else None,
    }
    return MultilevelResult(params, fit, dyad_effects)
