"""Simulated method of moments (SMM) for the simulator's identifiable parameters.

Estimator: theta_hat = argmin_theta (m_sim(theta) - m_data)' W (m_sim(theta) - m_data) with
``m`` the moments of :mod:`reciprocity.model.moments`, ``W = diag(1 / Var(m_data))`` (variances from a
conversation-level bootstrap) and ``m_sim`` computed on ``sim_ratio`` x as many simulated conversations as the
data has, with the data's conversation lengths, under common random numbers (a fixed seed: the simulator draws
every random number with a fixed shape whatever the parameters). Search: a Latin-hypercube screen over the
parameter box, then Nelder–Mead from the best points (SciPy), in logit-transformed coordinates.

Uncertainty: the SMM sandwich  V = (1 + 1/S) (G'WG)^-1 G'W Omega W G (G'WG)^-1  with G the Jacobian of the
simulated moments (central differences, common random numbers), Omega the bootstrap covariance of the data
moments and S = sim_ratio; 95% Wald intervals, clipped to the parameter box.
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

#: Parameters identifiable from coded conversations (checked by bench/fit_recovery.py) and their search box.
FIT_BOUNDS: dict[str, tuple[float, float]] = {
    "disclosure_bias": (-4.0, 3.0),
    "reciprocity": (0.0, 0.95),
    "pace": (0.0, 1.5),
    "depth_noise": (0.05, 1.5),
    "intimacy0": (0.0, 2.0),
}
FIT_PARAMETERS: tuple[str, ...] = tuple(FIT_BOUNDS)
_VAR_FLOOR = 1e-6


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
                 n_boot: int, min_sim: int):
        self.base, self.names, self.seed = base, tuple(names), seed
        self.low = np.array([FIT_BOUNDS[n][0] for n in names])
        self.high = np.array([FIT_BOUNDS[n][1] for n in names])
        self.m_data = moments(data)
        boot = bootstrap_moments(data, n_boot=n_boot, seed=seed)
        self.omega = np.cov(boot, rowvar=False)
        self.var = np.maximum(np.diag(self.omega), _VAR_FLOOR)
        self.weight = 1 / self.var
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
        return moments(flat_from_sim(sim, self.lengths))

    def loss(self, z: np.ndarray) -> float:
        diff = self.simulated(self.theta(z)) - self.m_data
        return float(np.sum(self.weight * diff**2))


def fit(coded_table: pd.DataFrame, base: "Params | str | None" = None, parameters: Sequence[str] = FIT_PARAMETERS, *,
        sim_ratio: int = 5, min_sim: int = 1000, seed: int = 0, n_boot: int = 300, n_screen: int = 32,
        n_starts: int = 2, max_evals: int = 250, progress: Callable[[int, int], None] | None = None) -> FitResult:
    """Fit ``parameters`` of the simulator to a coded table (``disclosure``/``depth`` codes) by SMM.

    ``base`` holds every other parameter (default :class:`Params`). Returns a :class:`FitResult`.
    """
    from reciprocity.measure import prepare_codes

    unknown = [p for p in parameters if p not in FIT_BOUNDS]
    if unknown:
        raise ValueError(f"cannot fit {unknown}; fittable parameters: {list(FIT_BOUNDS)}")
    base = resolve_params(base)
    coded = prepare_codes(coded_table)
    data = flat_from_table(coded)
    if data.n_conversations < 2:
        raise ValueError("fitting needs at least 2 coded conversations")
    problem = _Problem(data, base, parameters, sim_ratio, seed, n_boot, min_sim)
    total = n_screen + n_starts * max_evals + 2 * len(parameters) + 1
    done = [0]

    def tick():
        done[0] += 1
        if progress is not None:
            progress(min(done[0], total), total)

    def loss(z):
        tick()
        return problem.loss(z)

    k = len(parameters)
    screen = qmc.LatinHypercube(d=k, seed=seed).random(n_screen)
    screen_z = problem.z(problem.low + screen * (problem.high - problem.low))
    screen_loss = np.array([loss(z) for z in screen_z])
    best = []
    for start in screen_z[np.argsort(screen_loss)[:n_starts]]:
        result = optimize.minimize(loss, start, method="Nelder-Mead",
                                   options={"maxfev": max_evals, "xatol": 1e-3, "fatol": 1e-4, "adaptive": k > 3})
        best.append(result)
    result = min(best, key=lambda r: r.fun)
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
    table = pd.DataFrame({"moment": MOMENT_NAMES, "data": problem.m_data, "simulated": m_sim,
                          "data_se": np.sqrt(problem.var), "z": (m_sim - problem.m_data) / data_se})
    return FitResult(
        estimates=estimates, se=ses, ci95=ci, params=problem.params_at(theta), moments=table,
        objective=float(result.fun), n_conversations=data.n_conversations, n_utterances=len(data.depth),
        n_simulated=len(problem.lengths), evaluations=problem.evaluations, converged=bool(result.success),
        extra={"weighting": "diagonal inverse bootstrap variance", "sim_ratio": problem.S,
               "jacobian": {n: dict(zip(MOMENT_NAMES, map(float, gradient[:, i]))) for i, n in enumerate(parameters)}},
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
    W = np.diag(problem.weight)
    omega = problem.omega * (1 + 1 / problem.S)
    bread = G.T @ W @ G
    try:
        inverse = np.linalg.pinv(bread)
        V = inverse @ G.T @ W @ omega @ W @ G @ inverse
        se = np.sqrt(np.maximum(np.diag(V), 0))
    except np.linalg.LinAlgError:
        se = np.full(k, np.nan)
    return se, G
