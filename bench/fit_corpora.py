"""Fit the simulator to real corpora (ESConv, CaSiNo, Topical-Chat) coded by the bundled detector.

For each corpus: load it with :mod:`reciprocity.datasets`, drop empty-text rows, take up to ``--max-conversations``
conversations (a seeded random sample; all when fewer), code every utterance with :func:`reciprocity.detect.detect`,
fit the identifiable parameters by simulated method of moments (:func:`reciprocity.model.fit`) and record the
estimates, sandwich 95% CIs and the moment-by-moment fit (data vs simulated, z). Skips gracefully when the shared
data folder or the detector is missing. Writes bench/results/fit_corpora.json and prints a summary.

    .venv/bin/python bench/fit_corpora.py [--data ../shared/data] [--max-conversations 300]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
CORPORA = {"esconv": "load_esconv", "casino": "load_casino", "topical_chat": "load_topical_chat"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=HERE.parent.parent / "shared" / "data")
    parser.add_argument("--max-conversations", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-evals", type=int, default=120, help="evaluations per local search")
    parser.add_argument("--starts", type=int, default=3, help="local searches per fit")
    parser.add_argument("--weighting", choices=("optimal", "diagonal"), default="optimal")
    parser.add_argument("--parameters", default=None,
                        help="comma-separated parameters to fit (default: FIT_PARAMETERS, pace held at 0.6)")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "fit_corpora.json")
    args = parser.parse_args()
    if not args.data.is_dir():
        print(f"skipped: no shared data folder at {args.data}")
        return
    try:
        from reciprocity.detect import detect
    except ImportError as error:
        print(f"skipped: detector not importable ({error})")
        return
    import reciprocity.datasets as datasets
    from reciprocity.model import FIT_PARAMETERS, fit

    report = {"data": str(args.data), "max_conversations": args.max_conversations, "seed": args.seed,
              "weighting": args.weighting, "parameters": args.parameters or ",".join(FIT_PARAMETERS), "corpora": {}}
    for name, loader in CORPORA.items():
        started = time.perf_counter()
        try:
            table = getattr(datasets, loader)(args.data)
        except (FileNotFoundError, OSError) as error:
            report["corpora"][name] = {"skipped": str(error)}
            print(f"{name}: skipped ({error})")
            continue
        if "empty_text" in table.columns:
            table = table[~table["empty_text"].astype(bool)]
        ids = table["conversation_id"].unique()
        if len(ids) > args.max_conversations:
            ids = np.random.default_rng(args.seed).choice(ids, args.max_conversations, replace=False)
            table = table[table["conversation_id"].isin(set(ids))]
        table = table.sort_values(["conversation_id", "turn"]).reset_index(drop=True)
        codes = detect(table["text"].astype(str))
        coded = table.drop(columns=[c for c in codes.columns if c in table.columns])
        coded = coded.join(codes.set_index(coded.index))
        coding_seconds = time.perf_counter() - started
        names = tuple(n.strip() for n in args.parameters.split(",")) if args.parameters else FIT_PARAMETERS
        result = fit(coded, parameters=names, seed=args.seed, n_starts=args.starts, max_evals=args.max_evals,
                     weighting=args.weighting)
        lengths = coded.groupby("conversation_id").size()
        entry = {
            "n_conversations": result.n_conversations,
            "n_utterances": result.n_utterances,
            "median_turns": float(lengths.median()),
            "estimates": result.estimates,
            "se": result.se,
            "ci95": {k: list(v) for k, v in result.ci95.items()},
            "objective": result.objective,
            "moments": result.moments.to_dict(orient="records"),
            "max_abs_z": float(result.moments["z"].abs().max()),
            "coding_seconds": coding_seconds,
            "fit_seconds": time.perf_counter() - started - coding_seconds,
        }
        report["corpora"][name] = entry
        print(f"{name}: {entry['n_conversations']} conversations, objective {entry['objective']:.1f}, "
              f"max |z| {entry['max_abs_z']:.1f}")
        for key, value in result.estimates.items():
            low, high = result.ci95[key]
            print(f"  {key:<18}{value:8.3f}  [{low:.3f}, {high:.3f}]")
        sys.stdout.flush()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, default=float), encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
