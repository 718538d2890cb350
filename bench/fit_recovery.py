"""Parameter recovery for the simulator's SMM fit: simulate data at random true parameters, fit, compare.

For each of N draws (default 30) from a box inside the fitting bounds, simulate ``--dyads`` conversations of
``--turns`` turns (baseline Params otherwise), fit the drawn parameters (default: ``FIT_PARAMETERS``, the ones
fitted by default) with :func:`reciprocity.model.fit`, and report per parameter: Pearson r(true, estimate), bias,
RMSE, the coverage of the 95% sandwich intervals, the median reported SE and r over the draws whose reported SE is
below half the draw box's SD. Target r >= 0.9. Writes bench/results/fit_recovery.json and prints a table.
``--replicate-draw D``: refit ``--replicates`` independent data sets at draw D's true values instead (the
sampling distribution of the estimates at one point).

    .venv/bin/python bench/fit_recovery.py [--draws 30] [--dyads 300] [--turns 30] [--workers 2]
    .venv/bin/python bench/fit_recovery.py --parameters disclosure_bias,reciprocity,pace,depth_noise,intimacy0 \
        --out bench/results/fit_recovery_5params.json                      # with the weakly identified pace
    .venv/bin/python bench/fit_recovery.py --parameters disclosure_bias,reciprocity,pace,depth_noise,intimacy0 \
        --replicate-draw 4 --replicates 8 --out bench/results/fit_replicates_pace.json
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from reciprocity.model import FIT_PARAMETERS, Params, fit, simulate
from reciprocity.model.fit import FIT_BOUNDS

#: Where true values are drawn (inside the fitting box, away from its edges).
DRAW_BOX = {
    "disclosure_bias": (-1.5, 1.5),
    "reciprocity": (0.1, 0.85),
    "pace": (0.1, 1.0),
    "depth_noise": (0.2, 1.0),
    "intimacy0": (0.0, 1.5),
}


def one(job):
    index, truth, nuisance, dyads, turns, seed, options = job
    started = time.perf_counter()
    table = simulate(Params(**truth, **nuisance), dyads, turns, seed=seed)
    result = fit(table, parameters=tuple(truth), seed=seed + 1000, **options)
    return {"draw": index, "true": truth, "nuisance": nuisance, "estimate": result.estimates, "se": result.se,
            "evaluations": result.evaluations, "converged": result.converged,
            "ci95": {k: list(v) for k, v in result.ci95.items()}, "objective": result.objective,
            "seconds": time.perf_counter() - started}


def summarise(runs: list[dict]) -> dict:
    """Per parameter: r, bias, RMSE, CI coverage, and r over the draws whose *reported* SE is below half the
    draw box's SD (a diagnostic that uses only what a fit reports, never the truth, to flag weak identification)."""
    summary = {}
    for name in runs[0]["true"]:
        true = np.array([r["true"][name] for r in runs])
        est = np.array([r["estimate"][name] for r in runs])
        se = np.array([r["se"][name] for r in runs])
        low = np.array([r["ci95"][name][0] for r in runs])
        high = np.array([r["ci95"][name][1] for r in runs])
        r_all = float(np.corrcoef(true, est)[0, 1])
        box_sd = (DRAW_BOX[name][1] - DRAW_BOX[name][0]) / np.sqrt(12)
        precise = se < box_sd / 2
        summary[name] = {
            "r": r_all,
            "bias": float(np.mean(est - true)),
            "rmse": float(np.sqrt(np.mean((est - true) ** 2))),
            "ci95_coverage": float(np.mean((true >= low) & (true <= high))),
            "median_se": float(np.median(se)),
            "meets_target_r_0.9": bool(r_all >= 0.9),
            "precise_draws": int(precise.sum()),
            "r_precise_draws": float(np.corrcoef(true[precise], est[precise])[0, 1]) if precise.sum() > 2 else None,
        }
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=30)
    parser.add_argument("--dyads", type=int, default=300)
    parser.add_argument("--turns", type=int, default=30)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--starts", type=int, default=3, help="local searches per fit (from the best screen points)")
    parser.add_argument("--max-evals", type=int, default=120, help="evaluations per local search")
    parser.add_argument("--screen", type=int, default=64, help="Latin-hypercube screen points per fit")
    parser.add_argument("--weighting", choices=("optimal", "diagonal"), default="optimal")
    parser.add_argument("--sim-ratio", type=int, default=10)
    parser.add_argument("--min-sim", type=int, default=3000)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "fit_recovery.json")
    parser.add_argument("--parameters", default=",".join(FIT_PARAMETERS),
                        help="comma-separated parameters to draw and fit (others stay at Params() defaults)")
    parser.add_argument("--misspecify", default="",
                        help="comma-separated parameters drawn for the data but held at their defaults by the fit "
                             "(robustness to a wrong fixed value)")
    parser.add_argument("--replicate-draw", type=int, default=None,
                        help="instead: refit --replicates independent data sets at this draw's true values")
    parser.add_argument("--replicates", type=int, default=8)
    parser.add_argument("--resummarise", action="store_true", help="recompute the summary of --out's runs and exit")
    args = parser.parse_args()
    if args.resummarise:
        report = json.loads(args.out.read_text(encoding="utf-8"))
        report["summary"] = summarise(report["runs"])
        args.out.write_text(json.dumps(report, indent=2), encoding="utf-8")
        _print(report["summary"], args.out)
        return
    names = tuple(n.strip() for n in args.parameters.split(","))
    unknown = [n for n in names if n not in FIT_BOUNDS]
    if unknown:
        parser.error(f"unknown parameters {unknown}; choose from {list(FIT_BOUNDS)}")
    rng = np.random.default_rng(args.seed)
    extra = tuple(n.strip() for n in args.misspecify.split(",") if n.strip())
    truths = [{name: float(rng.uniform(*DRAW_BOX[name])) for name in names} for _ in range(args.draws)]
    nuisances = [{name: float(rng.uniform(*DRAW_BOX[name])) for name in extra} for _ in range(args.draws)]
    if args.replicate_draw is not None:
        truths = [truths[args.replicate_draw]] * args.replicates
        nuisances = [nuisances[args.replicate_draw]] * args.replicates
    jobs = []
    for i, truth in enumerate(truths):
        options = {"n_starts": args.starts, "max_evals": args.max_evals, "n_screen": args.screen,
                   "weighting": args.weighting, "sim_ratio": args.sim_ratio, "min_sim": args.min_sim}
        seed = args.seed + i if args.replicate_draw is None else 10_000 + i
        jobs.append((i, truth, nuisances[i], args.dyads, args.turns, seed, options))
    started = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool:
        runs = []
        for run in pool.map(one, jobs):
            runs.append(run)
            print(f"draw {run['draw']:2d} done in {run['seconds']:.1f}s", flush=True)
    summary = summarise(runs) if args.replicate_draw is None else replicate_summary(runs)
    report = {
        "parameters": list(names),
        "misspecified": list(extra),
        "replicate_draw": args.replicate_draw,
        "draws": len(truths), "dyads": args.dyads, "turns": args.turns, "seed": args.seed,
        "fit_options": jobs[0][6] if jobs else {},
        "draw_box": DRAW_BOX, "wall_seconds": time.perf_counter() - started,
        "summary": summary, "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2), encoding="utf-8")
    if args.replicate_draw is None:
        _print(summary, args.out)
    else:
        print(json.dumps(summary, indent=2))


def replicate_summary(runs: list[dict]) -> dict:
    """Spread of the estimates over independent data sets at one true value (the sampling distribution)."""
    out = {}
    for name in runs[0]["true"]:
        est = np.array([r["estimate"][name] for r in runs])
        se = np.array([r["se"][name] for r in runs])
        low = np.array([r["ci95"][name][0] for r in runs])
        high = np.array([r["ci95"][name][1] for r in runs])
        true = runs[0]["true"][name]
        out[name] = {"true": true, "mean": float(est.mean()), "sd": float(est.std(ddof=1)),
                     "min": float(est.min()), "max": float(est.max()), "median_se": float(np.median(se)),
                     "ci95_coverage": float(np.mean((true >= low) & (true <= high)))}
    return out


def _print(summary: dict, out: Path) -> None:
    print(f"{'parameter':<18}{'r':>7}{'bias':>8}{'rmse':>8}{'cover95':>9}{'med SE':>8}{'r|SE<sd/2 (n)':>16}")
    for name, row in summary.items():
        rp = "-" if row["r_precise_draws"] is None else f"{row['r_precise_draws']:.3f}"
        print(f"{name:<18}{row['r']:7.3f}{row['bias']:8.3f}{row['rmse']:8.3f}{row['ci95_coverage']:9.2f}"
              f"{row['median_se']:8.3f}{rp:>10} ({row['precise_draws']})")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
