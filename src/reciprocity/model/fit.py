"""Simulated method of moments (SMM) for the simulator's identifiable parameters.

Estimator: theta_hat = argmin_theta (m_sim(theta) - m_data)' W (m_sim(theta) - m_data) with ``m`` the 23
moments of :mod:`reciprocity.model.moments`. ``W`` (``weighting="optimal"``, default) is the inverse of the
conversation-level bootstrap covariance Omega of the data moments with its correlations shrunk by 10% toward 0
(``"diagonal"``: 1 / Var). ``m_sim`` is computed on ``S = max(sim_ratio, ceil(min_sim / C))`` copies of the data's
C conversation lengths under common random numbers (a fixed seed; both simulator engines address every random
draw independently of the parameters). Search, in logit coordinates of the box ``FIT_BOUNDS``: a Latin-hypercube
screen, then SciPy's trust-region least squares on the whitened residuals W^(1/2) (m_sim - m_data) (finite
differences with a 2% step, large enough to see through the common-random-number discontinuities) from the best
``n_starts`` screen points; the best end point wins.

Uncertainty: the SMM sandwich  V = (1 + 1/S) (G'WG)^-1 G'W Omega W G (G'WG)^-1  with G the Jacobian of the
simulated moments (central differences, common random numbers); 95% Wald intervals, clipped to the parameter box.
``bench/fit_recovery.py`` checks r(true, estimate) and the intervals' coverage on simulated data.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import optimize
from scipy.stats import qmc

from reciprocity.model.moments import MOMENT_NAMES, Flat, bootstrap_moments, flat_from_sim, flat_from_table, moments
from reciprocity.model.params import Params, resolve_params
from reciprocity.model.simulate import simulate_arrays

#: Parameters that can be fitted and their search box.
FIT_BOUNDS: dict[str, tuple[float, float]] = {
    "disclosure_bias": (-4.0, 3.0),
    "reciprocity": (0.0, 0.95),
    "pace": (0.0, 1.5),
    "depth_noise": (0.05, 1.5),
    "intimacy0": (0.0, 2.0),
}
#: Parameters only weakly identified by the moments: fittable on request (``parameters=...``), but not by default.
#: ``pace`` trades off against ``intimacy0`` (start deep with slow trust-driven growth, or shallow with fast growth)
#: over much of the parameter space: r(true, estimate) 0.69 over 30 random draws of all five (300 dyads x 30 turns),
#: 0.75 with 1000 x 40, and a wide sampling spread at one true value (bench/fit_recovery.py; docs/simulator.md).
#: It is held at the base value (``Params().pace`` = 0.6, or the ``base`` scenario's) unless asked for.
WEAKLY_IDENTIFIED: tuple[str, ...] = ("pace",)
#: Parameters fitted by default: those recovered with r >= 0.9 (checked by bench/fit_recovery.py).
FIT_PARAMETERS: tuple[str, ...] = tuple(n for n in FIT_BOUNDS if n not in WEAKLY_IDENTIFIED)
_VAR_FLOOR = 1e-6
_SHRINK = 0.1   # shrinkage of the bootstrap moment correlations toward 0 in the optimal weight


@dataclass
class FitResult:
    """Estimates, standard errors, 95% CIs, the fitted Params and the moment-by-moment fit quality."""

    estimates: dict[str, float]
    se: dict[str, float]
    ci95: dict[str, tuple[float, float]]
    params: Params
    moments: pd.DataFrame          # moment, data, simulated, data_se, z
    objective: float
    n_conversations: int
    n_utterances: int
    n_simulated: int
    evaluations: int
    converged: bool
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "estimates": self.estimates,
            "se": self.se,
            "ci95": {k: list(v) for k, v in self.ci95.items()},
            "objective": self.objective,
            "n_conversations": self.n_conversations,
            "n_utterances": self.n_utterances,
            "n_simulated": self.n_simulated,
            "evaluations": self.evaluations,
            "converged": self.converged,
            "moments": self.moments.to_dict(orient="records"),
            "params": self.params.to_dict(),
            **self.extra,
        }

    def save(self, out_dir: str | Path) -> dict[str, Path]:
        """Write ``params.json`` (full fitted parameter set) and ``fit.json`` (estimates, SEs, fit quality)."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = {"params": out / "params.json", "fit": out / "fit.json"}
        paths["params"].write_text(json.dumps(self.params.to_dict(), indent=2), encoding="utf-8")
        paths["fit"].write_text(json.dumps(_jsonable(self.to_dict()), indent=2), encoding="utf-8")
        return paths


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return None if not np.isfinite(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


class _Problem:
    """Objective in transformed coordinates z (logit of the position in each parameter's box)."""

    def __init__(self, data: Flat, base: Params, names: Sequence[str], sim_ratio: int, seed: int,
                 n_boot: int, min_sim: int, weighting: str = "optimal", drop: Sequence[str] = ()):
        self.base, self.names, self.seed = base, tuple(names), seed
        self.low = np.array([FIT_BOUNDS[n][0] for n in names])
        self.high = np.array([FIT_BOUNDS[n][1] for n in names])
        #: the moments matched (``drop``: moments the data cannot inform, e.g. breadth without topic codes)
        self.used = np.array([m not in drop for m in MOMENT_NAMES])
        self.moment_names = tuple(m for m in MOMENT_NAMES if m not in drop)
        self.m_data = moments(data)[self.used]
        boot = bootstrap_moments(data, n_boot=n_boot, seed=seed)[:, self.used]
        omega = np.cov(boot, rowvar=False)
        self.var = np.maximum(np.diag(omega), _VAR_FLOOR)
        np.fill_diagonal(omega, self.var)
        self.omega = omega
        if weighting == "optimal":
            # inverse bootstrap covariance, shrunk toward its diagonal (the bootstrap covariance of 17 moments
            # from a few hundred replicates is noisy), via the Cholesky factor: loss = |C^-1 d|^2
            sd = np.sqrt(self.var)
            corr = omega / np.outer(sd, sd)
            shrunk = (1 - _SHRINK) * corr + _SHRINK * np.eye(len(sd))
            chol = np.linalg.cholesky(shrunk * np.outer(sd, sd))
            self.root_weight = np.linalg.inv(chol)
            self.weighting_label = f"optimal: inverse bootstrap covariance, correlations shrunk by {_SHRINK}"
        else:
            self.root_weight = np.diag(1 / np.sqrt(self.var))
            self.weighting_label = "diagonal inverse bootstrap variance"
        self.weight = self.root_weight.T @ self.root_weight
        lengths = data.lengths()
        reps = max(sim_ratio, -(-min_sim // max(len(lengths), 1)))
        self.lengths = np.tile(lengths, reps)
        self.n_turns = int(lengths.max())
        self.S = reps
        self.evaluations = 0

    def params_at(self, theta: np.ndarray) -> Params:
        return self.base.replace(**{n: float(v) for n, v in zip(self.names, theta)})

    def theta(self, z: np.ndarray) -> np.ndarray:
        return self.low + (self.high - self.low) / (1 + np.exp(-np.asarray(z)))

    def z(self, theta: np.ndarray) -> np.ndarray:
        u = np.clip((np.asarray(theta) - self.low) / (self.high - self.low), 1e-6, 1 - 1e-6)
        return np.log(u / (1 - u))

    def simulated(self, theta: np.ndarray) -> np.ndarray:
        self.evaluations += 1
        sim = simulate_arrays(self.params_at(theta), len(self.lengths), self.n_turns, self.seed + 1)
        return moments(flat_from_sim(sim, self.lengths))[self.used]

    def residuals(self, z: np.ndarray) -> np.ndarray:
        """Weighted moment discrepancies: W^(1/2) (m_sim - m_data), so the loss is their sum of squares."""
        return self.root_weight @ (self.simulated(self.theta(z)) - self.m_data)

    def loss(self, z: np.ndarray) -> float:
        return float(np.sum(self.residuals(z) ** 2))


def fit(coded_table: pd.DataFrame, base: "Params | str | None" = None, parameters: Sequence[str] = FIT_PARAMETERS, *,
        sim_ratio: int = 10, min_sim: int = 3000, seed: int = 0, n_boot: int = 400, n_screen: int = 64,
        n_starts: int = 3, max_evals: int = 120, weighting: str = "optimal",
        progress: Callable[[int, int], None] | None = None) -> FitResult:
    """Fit ``parameters`` of the simulator to a coded table (``disclosure``/``depth`` codes) by SMM.

    ``base`` holds every other parameter (default :class:`Params`). ``weighting``: ``"optimal"`` (inverse of
    the bootstrap covariance of the data moments, shrunk toward its diagonal) or ``"diagonal"``.
    Search: a Latin-hypercube screen of ``n_screen`` points, then a trust-region least-squares
    (Levenberg–Marquardt-like, finite differences under common random numbers) from the best ``n_starts``
    points, at most ``max_evals`` evaluations each. Returns a :class:`FitResult`. A table without a ``topics``
    column is fitted without the ``breadth`` moment (listed in ``extra["moments_left_out"]``).
    """
    from reciprocity.measure import prepare_codes

    unknown = [p for p in parameters if p not in FIT_BOUNDS]
    if unknown:
        raise ValueError(f"cannot fit {unknown}; fittable parameters: {list(FIT_BOUNDS)}")
    if weighting not in ("optimal", "diagonal"):
        raise ValueError(f"weighting must be 'optimal' or 'diagonal', got {weighting!r}")
    base = resolve_params(base)
    # without topic codes every conversation would have breadth 0: the breadth moment is left out, not matched
    dropped = () if "topics" in coded_table.columns else ("breadth",)
    coded = prepare_codes(coded_table)
    data = flat_from_table(coded)
    if data.n_conversations < 2:
        raise ValueError("fitting needs at least 2 coded conversations")
    if not np.any(data.disclosed):
        raise ValueError("the coded table has no disclosures: the disclosure, depth and reciprocity moments are "
                         "undefined, so there is nothing to fit")
    problem = _Problem(data, base, parameters, sim_ratio, seed, n_boot, min_sim, weighting, dropped)
    k = len(parameters)
    total = n_screen + n_starts * (max_evals + 1) + 2 * k + 1
    done = [0]

    def tick():
        done[0] += 1
        if progress is not None:
            progress(min(done[0], total), total)

    cache: dict[bytes, np.ndarray] = {}

    def residuals(z):
        z = np.asarray(z, float)
        key = z.tobytes()
        if key not in cache:
            tick()
            cache[key] = problem.residuals(z)
        return cache[key]

    screen = qmc.LatinHypercube(d=k, seed=seed).random(n_screen)
    screen_z = problem.z(problem.low + screen * (problem.high - problem.low))
    screen_loss = np.array([np.sum(residuals(z) ** 2) for z in screen_z])
    best = None
    for start in screen_z[np.argsort(screen_loss)[:n_starts]]:
        result = optimize.least_squares(residuals, start, method="trf", diff_step=0.02, max_nfev=max_evals,
                                        x_scale=1.0, xtol=1e-4, ftol=1e-6)
        loss = float(np.sum(result.fun ** 2))
        if best is None or loss < best[0]:
            best = (loss, result)
    loss, result = best
    theta = problem.theta(result.x)
    m_sim = problem.simulated(theta)
    tick()
    se, gradient = _sandwich(problem, theta, tick)
    z95 = 1.959963984540054
    estimates = {n: float(v) for n, v in zip(parameters, theta)}
    ses = {n: float(s) for n, s in zip(parameters, se)}
    ci = {n: (float(max(v - z95 * s, FIT_BOUNDS[n][0])), float(min(v + z95 * s, FIT_BOUNDS[n][1])))
          for (n, v), s in zip(estimates.items(), se)}
    data_se = np.sqrt(problem.var * (1 + 1 / problem.S))
    table = pd.DataFrame({"moment": problem.moment_names, "data": problem.m_data, "simulated": m_sim,
                          "data_se": np.sqrt(problem.var), "z": (m_sim - problem.m_data) / data_se})
    return FitResult(
        estimates=estimates, se=ses, ci95=ci, params=problem.params_at(theta), moments=table,
        objective=loss, n_conversations=data.n_conversations, n_utterances=len(data.depth),
        n_simulated=len(problem.lengths), evaluations=problem.evaluations, converged=bool(result.success),
        extra={"weighting": problem.weighting_label, "sim_ratio": problem.S, "moments_left_out": list(dropped),
               "jacobian": {n: dict(zip(problem.moment_names, map(float, gradient[:, i])))
                            for i, n in enumerate(parameters)}},
    )


def _sandwich(problem: _Problem, theta: np.ndarray, tick) -> tuple[np.ndarray, np.ndarray]:
    """SMM sandwich standard errors (natural units) and the moment Jacobian G (M x k)."""
    k = len(theta)
    G = np.zeros((len(problem.m_data), k))
    for i in range(k):
        h = 0.02 * (problem.high[i] - problem.low[i])
        up, down = theta.copy(), theta.copy()
        up[i] = min(theta[i] + h, problem.high[i])
        down[i] = max(theta[i] - h, problem.low[i])
        G[:, i] = (problem.simulated(up) - problem.simulated(down)) / (up[i] - down[i])
        tick(); tick()
    W = problem.weight
    omega = problem.omega * (1 + 1 / problem.S)
    bread = G.T @ W @ G
    try:
        inverse = np.linalg.pinv(bread)
        V = inverse @ G.T @ W @ omega @ W @ G @ inverse
        se = np.sqrt(np.maximum(np.diag(V), 0))
    except np.linalg.LinAlgError:
        se = np.full(k, np.nan)
    return se, G
