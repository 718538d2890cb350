"""Benchmark of the fast-tier disclosure detector (reciprocity.detect).

Usage (from the project root):  python bench/detector.py [--data ../shared/data] [--folds 5] [--seed 0]

Reports (printed and written to bench/results/detector.json):

* k-fold stratified CV (seeded; strata = info x emo) on OffMyChest of the full pipeline: in each outer fold the
  detector is trained from scratch on the training part only (features' idf, logistic regressions, Platt
  calibration and thresholds from an *inner* CV), then ``predict`` (sentence splitting + max aggregation) is run on
  the held-out sentences. Macro-F1 per label at the learned thresholds, ECE (10 bins) per label.
* the same with folds grouped by Reddit post (StratifiedGroupKFold), so sentences of one thread never straddle
  train and test (a stricter, less optimistic figure);
* a TF-IDF (word 1-2-grams) + logistic regression baseline at the default 0.5 cut, same outer folds;
* depth: Spearman of the detector's ``depth`` and of its raw intimacy score against question intimacy
  (final_test.txt, never used for training) and against a held-out 20% slice of the English tweets, which is
  excluded from every intimacy model fitted in this run;
* throughput of ``predict`` on ~10k sentences (sentences per second, single process).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import sklearn
from scipy.stats import spearmanr
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from reciprocity.detect import data as D  # noqa: E402
from reciprocity.detect.calibration import expected_calibration_error, macro_f1  # noqa: E402
from reciprocity.detect.model import DisclosureDetector  # noqa: E402
from reciprocity.detect.train import fit_from_data  # noqa: E402

LABELS = {"info": "info_disclosure", "emo": "emo_disclosure"}


def _summ(values: list[float]) -> dict[str, float]:
    a = np.asarray(values, dtype=float)
    return {"mean": round(float(a.mean()), 4), "sd": round(float(a.std(ddof=1)) if len(a) > 1 else 0.0, 4)}


def cv_pipeline(data: Path, omc: pd.DataFrame, splits, tweet_exclude: np.ndarray, seed: int) -> dict:
    """Outer CV of the full detector; everything learned inside each training fold."""
    per_fold = {k: {"macro_f1": [], "ece": []} for k in LABELS}
    base = {k: [] for k in LABELS}
    pooled_p = {k: np.zeros(len(omc)) for k in LABELS}
    pooled_pred = {k: np.zeros(len(omc), dtype=bool) for k in LABELS}
    for fold, (tr, te) in enumerate(splits):
        t0 = time.perf_counter()
        det = fit_from_data(data, seed=seed, offmychest_rows=tr, tweet_exclude=tweet_exclude)
        out = det.predict(omc["text"].iloc[te].reset_index(drop=True))
        for k, col in LABELS.items():
            y, p = omc[k].to_numpy()[te], out[col].to_numpy()
            pred = p >= det.thresholds_[k]
            per_fold[k]["macro_f1"].append(macro_f1(y, pred))
            per_fold[k]["ece"].append(expected_calibration_error(y, p))
            pooled_p[k][te], pooled_pred[k][te] = p, pred
        # baseline: TF-IDF word 1-2-grams + default logistic regression, 0.5 cut
        vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
        xtr, xte = vec.fit_transform(omc["text"].iloc[tr]), vec.transform(omc["text"].iloc[te])
        for k in LABELS:
            y = omc[k].to_numpy()
            lr = LogisticRegression(max_iter=2000).fit(xtr, y[tr])
            base[k].append(macro_f1(y[te], lr.predict(xte)))
        print(
            f"  fold {fold}: info F1 {per_fold['info']['macro_f1'][-1]:.3f}  emo F1 {per_fold['emo']['macro_f1'][-1]:.3f}"
            f"  (baseline {base['info'][-1]:.3f} / {base['emo'][-1]:.3f})  {time.perf_counter() - t0:.0f}s",
            flush=True,
        )
    res = {}
    for k in LABELS:
        y = omc[k].to_numpy()
        res[k] = {
            "macro_f1": _summ(per_fold[k]["macro_f1"]),
            "ece": _summ(per_fold[k]["ece"]),
            "macro_f1_pooled": round(macro_f1(y, pooled_pred[k]), 4),
            "ece_pooled": round(expected_calibration_error(y, pooled_p[k]), 4),
            "per_fold_macro_f1": [round(v, 4) for v in per_fold[k]["macro_f1"]],
            "baseline_tfidf_lr_macro_f1": _summ(base[k]),
        }
    return res


def depth_eval(det: DisclosureDetector, texts: pd.Series, target: pd.Series) -> dict:
    out = det.predict(texts.reset_index(drop=True))
    sent = det.score_sentences(texts.reset_index(drop=True))  # units are single questions / tweets
    return {
        "n": int(len(texts)),
        "spearman_depth": round(float(spearmanr(out["depth"], target).statistic), 4),
        "spearman_intimacy_component": round(float(spearmanr(sent["intimacy"], target).statistic), 4),
    }


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "detector.json")
    ap.add_argument("--no-grouped", action="store_true", help="skip the post-grouped CV")
    args = ap.parse_args(argv)
    t_start = time.perf_counter()
    for rel in (*D.TRAINING_FILES, D.QUESTION_TEST):
        D._require(args.data, rel)

    omc = D.load_offmychest(args.data)
    tweets = D.load_tweets(args.data)
    holdout = D.tweet_holdout_mask(len(tweets), 0.2, args.seed)
    strata = omc["info"].to_numpy() * 2 + omc["emo"].to_numpy()
    result: dict = {
        "seed": args.seed,
        "folds": args.folds,
        "n_sentences": int(len(omc)),
        "positive_rate": {k: round(float(omc[k].mean()), 4) for k in LABELS},
    }

    print(f"[1] {args.folds}-fold stratified CV of the full pipeline (inner CV for calibration/thresholds)")
    skf = StratifiedKFold(args.folds, shuffle=True, random_state=args.seed)
    result["cv_stratified"] = cv_pipeline(args.data, omc, skf.split(omc, strata), holdout, args.seed)
    if not args.no_grouped:
        print(f"[2] {args.folds}-fold CV grouped by Reddit post (no thread in both train and test)")
        sgkf = StratifiedGroupKFold(args.folds, shuffle=True, random_state=args.seed)
        result["cv_grouped_by_post"] = cv_pipeline(args.data, omc, sgkf.split(omc, strata, omc["group"]), holdout, args.seed)

    print("[3] depth / intimacy (model trained on all OffMyChest, question train, tweets minus the 20% slice)")
    det = fit_from_data(args.data, seed=args.seed, tweet_exclude=holdout)
    qt = D.load_questions(args.data, D.QUESTION_TEST)
    result["depth"] = {
        "question_intimacy_test": depth_eval(det, qt["text"], qt["target"]),
        "tweet_intimacy_en_holdout20": depth_eval(det, tweets["text"][holdout], tweets["target"][holdout]),
    }

    print("[4] throughput")
    rng = np.random.default_rng(args.seed)
    texts = omc["text"].iloc[rng.choice(len(omc), 10_000, replace=False)].reset_index(drop=True)
    det.predict(texts.iloc[:200])  # warm-up
    t0 = time.perf_counter()
    out = det.predict(texts)
    dt = time.perf_counter() - t0
    result["throughput"] = {"n_inputs": int(len(texts)), "seconds": round(dt, 2), "sentences_per_second": round(len(texts) / dt, 1)}
    result["layer_distribution_offmychest_sample"] = {
        str(k): round(float(v), 4) for k, v in out["layer"].value_counts(normalize=True).sort_index().items()
    }
    result["environment"] = {
        "python": platform.python_version(), "numpy": np.__version__, "pandas": pd.__version__,
        "scikit_learn": sklearn.__version__, "platform": platform.platform(),
    }
    result["runtime_seconds"] = round(time.perf_counter() - t_start, 1)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    print(f"written {args.out}")
    return result


if __name__ == "__main__":
    main()
