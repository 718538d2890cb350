"""Parameter recovery for the simulator's SMM fit: simulate data at random true parameters, fit, compare.

For each of N draws (default 30) from a box inside the fitting bounds, simulate ``--dyads`` conversations of
``--turns`` turns (baseline Params otherwise), fit the identifiable parameters with
:func:`reciprocity.model.fit`, and report per parameter: Pearson r(true, estimate), bias, RMSE and the coverage
of the 95% sandwich intervals. Target r >= 0.9. Writes bench/results/fit_recovery.json and prints a table.

    .venv/bin/python bench/fit_recovery.py [--draws 30] [--dyads 300] [--turns 30] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from reciprocity.model import FIT_PARAMETERS, Params, fit, simulate

#: Where true values are drawn (inside the fitting box, away from its edges).
DRAW_BOX = {
    "disclosure_bias": (-1.5, 1.5),
    "reciprocity": (0.1, 0.85),
    "pace": (0.1, 1.0),
    "depth_noise": (0.2, 1.0),
    "intimacy0": (0.0, 1.5),
}


def one(job):
    index, truth, dyads, turns, seed, options = job
    started = time.perf_counter()
    table = simulate(Params(**truth), dyads, turns, seed=seed)
    result = fit(table, seed=seed + 1000, **options)
    return {"draw": index, "true": truth, "estimate": result.estimates, "se": result.se,
            "ci95": {k: list(v) for k, v in result.ci95.items()}, "objective": result.objective,
            "seconds": time.perf_counter() - started}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=30)
    parser.add_argument("--dyads", type=int, default=300)
    parser.add_argument("--turns", type=int, default=30)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--starts", type=int, default=1, help="Nelder-Mead starts per fit")
    parser.add_argument("--max-evals", type=int, default=200, help="Nelder-Mead evaluations per start")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "fit_recovery.json")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    jobs = []
    for i in range(args.draws):
        truth = {name: float(rng.uniform(*DRAW_BOX[name])) for name in FIT_PARAMETERS}
        options = {"n_starts": args.starts, "max_evals": args.max_evals}
        jobs.append((i, truth, args.dyads, args.turns, args.seed + i, options))
    started = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool:
        runs = []
        for run in pool.map(one, jobs):
            runs.append(run)
            print(f"draw {run['draw']:2d} done in {run['seconds']:.1f}s", flush=True)
    summary = {}
    for name in FIT_PARAMETERS:
        true = np.array([r["true"][name] for r in runs])
        est = np.array([r["estimate"][name] for r in runs])
        low = np.array([r["ci95"][name][0] for r in runs])
        high = np.array([r["ci95"][name][1] for r in runs])
        summary[name] = {
            "r": float(np.corrcoef(true, est)[0, 1]),
            "bias": float(np.mean(est - true)),
            "rmse": float(np.sqrt(np.mean((est - true) ** 2))),
            "ci95_coverage": float(np.mean((true >= low) & (true <= high))),
            "meets_target_r_0.9": bool(np.corrcoef(true, est)[0, 1] >= 0.9),
        }
    report = {
        "draws": args.draws, "dyads": args.dyads, "turns": args.turns, "seed": args.seed,
        "fit_options": {"n_starts": args.starts, "max_evals": args.max_evals},
        "draw_box": DRAW_BOX, "wall_seconds": time.perf_counter() - started,
        "summary": summary, "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(f"{'parameter':<18}{'r':>7}{'bias':>8}{'rmse':>8}{'cover95':>9}")
    for name, row in summary.items():
        print(f"{name:<18}{row['r']:7.3f}{row['bias']:8.3f}{row['rmse']:8.3f}{row['ci95_coverage']:9.2f}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
