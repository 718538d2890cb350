"""Benchmark of the fast-tier disclosure detector (reciprocity.detect).

Usage (from the project root):  python bench/detector.py [--data ../shared/data] [--folds 5] [--seed 0] [--quick]
                                                          [--grouped] [--speed-only REPS]

Reports (printed and written to bench/results/detector.json):

* k-fold stratified CV (seeded; strata = info x emo) on OffMyChest of the full pipeline: in each outer fold the
  detector is trained from scratch on the training part only (features' idf, logistic regressions, Platt
  calibration and thresholds from an *inner* CV), then ``predict`` (sentence splitting + max aggregation) is run on
  the held-out sentences. Macro-F1 per label at the learned thresholds, ECE (10 bins) per label. As shipped, fold k
  is distilled from the accurate tier's fold-k teacher (fine-tuned without fold k, calibrated on the other folds'
  out-of-fold logits; ``reciprocity.detect.distill``); the same CV without distillation is reported as an ablation.
* the same with folds grouped by Reddit post (StratifiedGroupKFold), so sentences of one thread never straddle
  train and test (a stricter, less optimistic figure);
* a TF-IDF (word 1-2-grams) + logistic regression baseline at the default 0.5 cut, same outer folds;
* depth: Spearman of the detector's ``depth`` and of its raw intimacy score against question intimacy
  (final_test.txt, never used for training) and against a held-out 20% slice of the English tweets, which is
  excluded from every intimacy model fitted in this run;
* depth/layer/topics against the depth development set (bench/data/depth_dev.csv): out-of-fold (5-fold, each
  sentence its own group, so no evaluated sentence is ever in the training part) and on a frozen 30 % test split
  drawn before any tuning (model fitted on the other 70 %); the format-1 rule (theory-driven depth, lexicon topics)
  for comparison;
* ESConv supporter turns: depth vs the binary "Self-disclosure" strategy (Spearman, point-biserial, AUC);
* throughput of the fast tier's ``predict`` on ~10k sentences (sentences per second, single process), and a
  same-run speed comparison on one 10,000-sentence sample, repetitions interleaved, best repetition kept: fast tier
  (one process, and ``n_jobs=2`` worker processes — the plain encoder also uses both cores), format-1 rule, the TF-IDF+LR baseline, the accurate tier (int8 ONNX) and the plain all-MiniLM-L6-v2 fp32
  sentence-transformers encoder (torch, in ``training/.venv``, run as a subprocess; skipped when that venv is absent);
* the accurate tier's CV figures, taken from bench/results/accurate.json (bench/encoder_speed.py) when it exists,
  and recomputed in this run from the committed out-of-fold logits of its fold fine-tunes (``cv_from_oof``);
* reliability-curve bins (pooled out-of-fold) in the JSON and as docs/reliability.svg.

``--quick``: 2 folds on a 3,000-sentence OffMyChest subsample, 2,000 sentences for throughput; a sanity run, not
for reporting.
"""

from __future__ import annotations

import argparse
import copy
import json
import datetime
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import sklearn
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support, roc_auc_score
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from reciprocity.detect import data as D  # noqa: E402
from reciprocity.detect.accurate.train import cv_folds  # noqa: E402
from reciprocity.detect.calibration import expected_calibration_error, macro_f1  # noqa: E402
from reciprocity.detect.model import DisclosureDetector  # noqa: E402
from reciprocity.detect.train import fit_from_data  # noqa: E402
from reciprocity.schema import TOPICS  # noqa: E402

LABELS = {"info": "info_disclosure", "emo": "emo_disclosure"}


def _summ(values: list[float]) -> dict[str, float]:
    a = np.asarray(values, dtype=float)
    return {"mean": round(float(a.mean()), 4), "sd": round(float(a.std(ddof=1)) if len(a) > 1 else 0.0, 4)}


def cv_pipeline(data: Path, omc: pd.DataFrame, splits, tweet_exclude: np.ndarray, seed: int, rows_map: np.ndarray,
                distill: bool = False) -> dict:
    """Outer CV of the full detector; everything learned inside each training fold. ``distill``: fold k learns
    from the accurate tier's fold-k teacher (fine-tuned without fold k; the splits must be ``cv_folds``')."""
    per_fold = {k: {"macro_f1": [], "ece": []} for k in LABELS}
    base = {k: [] for k in LABELS}
    pooled_p = {k: np.zeros(len(omc)) for k in LABELS}
    pooled_pred = {k: np.zeros(len(omc), dtype=bool) for k in LABELS}
    for fold, (tr, te) in enumerate(splits):
        t0 = time.perf_counter()
        det = fit_from_data(data, seed=seed, offmychest_rows=rows_map[tr], tweet_exclude=tweet_exclude,
                            teacher=f"fold{fold}" if distill else None)
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
            "reliability_bins": reliability_bins(y, pooled_p[k]),
        }
    return res


def reliability_bins(y: np.ndarray, p: np.ndarray, n_bins: int = 10) -> list[dict]:
    b = np.minimum((p * n_bins).astype(int), n_bins - 1)
    out = []
    for i in range(n_bins):
        m = b == i
        if m.any():
            out.append({"lo": i / n_bins, "hi": (i + 1) / n_bins, "n": int(m.sum()),
                        "mean_p": round(float(p[m].mean()), 4), "frac_pos": round(float(y[m].mean()), 4)})
    return out


def reliability_svg(curves: dict[str, list[dict]], path: Path, title: str) -> None:
    """Hand-drawn SVG reliability diagram (no plotting library needed)."""
    W, H, pad = 360, 360, 50
    sx = lambda v: pad + v * (W - 2 * pad)  # noqa: E731
    sy = lambda v: H - pad - v * (H - 2 * pad)  # noqa: E731
    colours = ["#1f77b4", "#d62728", "#2ca02c"]
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="11">',
             f'<rect width="{W}" height="{H}" fill="white"/>',
             f'<text x="{W / 2}" y="18" text-anchor="middle" font-size="12">{title}</text>',
             f'<rect x="{pad}" y="{pad}" width="{W - 2 * pad}" height="{H - 2 * pad}" fill="none" stroke="#888"/>',
             f'<line x1="{sx(0)}" y1="{sy(0)}" x2="{sx(1)}" y2="{sy(1)}" stroke="#aaa" stroke-dasharray="4 3"/>']
    for v in (0, 0.25, 0.5, 0.75, 1.0):
        parts.append(f'<text x="{sx(v)}" y="{H - pad + 14}" text-anchor="middle">{v:g}</text>')
        parts.append(f'<text x="{pad - 6}" y="{sy(v) + 4}" text-anchor="end">{v:g}</text>')
    parts.append(f'<text x="{W / 2}" y="{H - 12}" text-anchor="middle">mean predicted probability (bin)</text>')
    parts.append(f'<text x="14" y="{H / 2}" text-anchor="middle" transform="rotate(-90 14 {H / 2})">observed fraction positive</text>')
    for i, (name, bins) in enumerate(curves.items()):
        c = colours[i % len(colours)]
        pts = " ".join(f"{sx(b['mean_p']):.1f},{sy(b['frac_pos']):.1f}" for b in bins)
        parts.append(f'<polyline points="{pts}" fill="none" stroke="{c}" stroke-width="2"/>')
        parts += [f'<circle cx="{sx(b["mean_p"]):.1f}" cy="{sy(b["frac_pos"]):.1f}" r="3" fill="{c}"/>' for b in bins]
        parts.append(f'<text x="{pad + 8}" y="{pad + 16 + 14 * i}" fill="{c}">{name}</text>')
    parts.append("</svg>")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts) + "\n", encoding="utf-8")


def depth_eval(det: DisclosureDetector, texts: pd.Series, target: pd.Series, rule: DisclosureDetector | None = None) -> dict:
    out = det.predict(texts.reset_index(drop=True))
    sent = det.score_sentences(texts.reset_index(drop=True))  # units are single questions / tweets
    res = {
        "n": int(len(texts)),
        "spearman_depth": round(float(spearmanr(out["depth"], target).statistic), 4),
        "spearman_intimacy_component": round(float(spearmanr(sent["intimacy"], target).statistic), 4),
        "layer_distribution": {str(k): int(v) for k, v in out["layer"].value_counts().sort_index().items()},
    }
    if rule is not None:
        res["spearman_depth_format1_rule"] = round(float(spearmanr(rule.predict(texts.reset_index(drop=True))["depth"], target).statistic), 4)
    return res


def _r(v: float) -> float:
    return round(float(v), 4)


def layer_topic_metrics(gold_layer: np.ndarray, gold_topics: list[list[str]], out: pd.DataFrame) -> dict:
    y, L, d = np.asarray(gold_layer), out["layer"].to_numpy(), out["depth"].to_numpy()
    Y = np.array([[t in ts for t in TOPICS] for ts in gold_topics], dtype=int)
    P = np.array([[t in ts for t in TOPICS] for ts in out["topics"]], dtype=int)
    pr, rc, f1, sup = precision_recall_fscore_support(Y, P, average=None, zero_division=0)
    disc = y >= 1
    return {
        "n": int(len(y)),
        "spearman_depth_vs_layer": _r(spearmanr(d, y).statistic),
        "layer_accuracy": _r((L == y).mean()),
        "layer_macro_f1": _r(f1_score(y, L, average="macro")),
        "layer_confusion_rows_gold_cols_pred": confusion_matrix(y, L, labels=[0, 1, 2, 3]).tolist(),
        "mean_depth_by_gold_layer": {str(k): _r(d[y == k].mean()) for k in range(4) if (y == k).any()},
        "disclosure_macro_f1_layer_gt0": _r(macro_f1(disc, L > 0)),
        "topics_micro_f1": _r(f1_score(Y, P, average="micro", zero_division=0)),
        "topics_macro_f1": _r(f1_score(Y, P, average="macro", zero_division=0)),
        "topics_micro_f1_on_gold_disclosures": _r(f1_score(Y[disc], P[disc], average="micro", zero_division=0)),
        "topics_per_topic": {t: {"precision": _r(pr[j]), "recall": _r(rc[j]), "f1": _r(f1[j]), "support": int(sup[j])}
                             for j, t in enumerate(TOPICS)},
        "non_disclosures_with_topics": int(((y == 0) & (P.sum(1) > 0)).sum()),
    }


def dev_eval(base: DisclosureDetector, dev: pd.DataFrame, folds: int, seed: int) -> dict:
    """Depth/layer/topics on the dev set: out-of-fold, frozen 30 % test, and the format-1 rule."""
    y = dev["layer"].to_numpy()
    oof = [None] * len(dev)
    skf = StratifiedKFold(folds, shuffle=True, random_state=seed)
    frames = []
    for tr, te in skf.split(dev, y):  # each sentence is its own group: evaluated rows are never trained on
        det = copy.copy(base).fit_depth_topics(dev["text"].iloc[tr], y[tr], dev["topics"].iloc[tr])
        frames.append(det.predict(dev["text"].iloc[te]))  # Series input keeps the row index
    oof = pd.concat(frames).loc[dev.index]
    test = D.dev_test_mask(y)
    tr = np.flatnonzero(~test)
    det70 = copy.copy(base).fit_depth_topics(dev["text"].iloc[tr], y[tr], dev["topics"].iloc[tr])
    te = np.flatnonzero(test)
    out_test = det70.predict(dev["text"].iloc[te])
    rule = base.predict(dev["text"])  # base has no learned depth model: format-1 rule, never trained on dev
    return {
        "out_of_fold": layer_topic_metrics(y, list(dev["topics"]), oof),
        "frozen_test30": layer_topic_metrics(y[te], list(dev["topics"].iloc[te]), out_test),
        "format1_rule_all_rows": layer_topic_metrics(y, list(dev["topics"]), rule),
    }


def esconv_eval(det: DisclosureDetector, data: Path, rule: DisclosureDetector) -> dict:
    from reciprocity.datasets import load_esconv

    df = load_esconv(data)
    sup = df[(df["role"] == "supporter") & df["strategy"].notna() & (df["text"].fillna("").str.strip() != "")]
    y = (sup["strategy"] == "Self-disclosure").to_numpy(dtype=int)
    res = {"n_supporter_turns": int(len(sup)), "n_self_disclosure": int(y.sum())}
    for name, d in (("learned", det), ("format1_rule", rule)):
        out = d.predict(sup["text"].reset_index(drop=True))
        dep = out["depth"].to_numpy()
        res[name] = {
            "spearman_depth_vs_selfdisclosure": _r(spearmanr(dep, y).statistic),
            "pointbiserial_depth_vs_selfdisclosure": _r(pearsonr(dep, y).statistic),
            "auc_depth": _r(roc_auc_score(y, dep)),
            "auc_layer": _r(roc_auc_score(y, out["layer"])),
            "mean_depth_selfdisclosure": _r(dep[y == 1].mean()),
            "mean_depth_other": _r(dep[y == 0].mean()),
            "disclosure_rate_selfdisclosure": _r(out["disclosure"].to_numpy()[y == 1].mean()),
            "disclosure_rate_other": _r(out["disclosure"].to_numpy()[y == 0].mean()),
        }
    return res


def same_run_speed(det: DisclosureDetector, base: DisclosureDetector, omc: pd.DataFrame, n: int, reps: int,
                   seed: int) -> dict:
    """Sentences/second of every coder on the same ``n`` OffMyChest sentences, in one run.

    Repetitions are interleaved (plain encoder, fast, rule, baseline, accurate, then again) so that load on the
    machine hits all of them alike; the best repetition of each is reported, all are kept. The plain encoder is
    ``SentenceTransformer.encode`` (fp32, batch 32) in the training venv, as in bench/encoder_speed.py."""
    import os
    import subprocess
    import tempfile

    sys.path.insert(0, str(ROOT / "bench"))
    from encoder_speed import PLAIN, TRAIN_PY

    sents = omc["text"].sample(n, random_state=seed).tolist()
    tfidf = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2)
    baseline = LogisticRegression(max_iter=2000, class_weight="balanced").fit(tfidf.fit_transform(omc["text"]), omc["info"])
    coders = {
        "fast_tier": lambda: det.predict(sents),
        "fast_tier_2_workers": lambda: det.predict(sents, n_jobs=2),
        "format1_rule": lambda: base.predict(sents),
        "tfidf_lr_baseline": lambda: baseline.predict_proba(tfidf.transform(sents)),
    }
    notes = {}
    try:
        from reciprocity.detect.accurate import AccurateDetector

        accurate = AccurateDetector.load()
        coders["accurate_tier"] = lambda: accurate.predict(sents)
    except Exception as exc:  # noqa: BLE001 - the extra may be missing
        notes["accurate_tier"] = f"not run: {type(exc).__name__}: {exc}"
    for run in coders.values():  # warm-up: sessions, first allocations
        run()
    times: dict[str, list[float]] = {k: [] for k in coders}
    plain_ok = TRAIN_PY.is_file()
    if not plain_ok:
        notes["plain_minilm_fp32"] = f"not run: {TRAIN_PY.relative_to(ROOT)} absent (see training/README.md)"
    else:
        times["plain_minilm_fp32"] = []
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(sents, fh)
    try:
        for _ in range(reps):
            if plain_ok:
                r = subprocess.run([str(TRAIN_PY), "-c", PLAIN, fh.name, "1"], capture_output=True, text=True,
                                   env={**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"})
                if r.returncode != 0:
                    notes["plain_minilm_fp32"] = "failed: " + r.stderr[-500:]
                    plain_ok = False
                    times.pop("plain_minilm_fp32")
                else:
                    times["plain_minilm_fp32"] += json.loads(r.stdout.strip().splitlines()[-1])["times"]
            for name, run in coders.items():
                t0 = time.perf_counter()
                run()
                times[name].append(time.perf_counter() - t0)
    finally:
        os.unlink(fh.name)
    rate = {k: round(n / min(v), 1) for k, v in times.items()}
    res: dict = {"n_sentences": n, "reps": reps, "sentences_per_second": rate, "seconds": times, "notes": notes,
                 "load_average_at_end": [round(x, 2) for x in os.getloadavg()]}
    if "plain_minilm_fp32" in rate:
        res["speedup_vs_plain_minilm_fp32"] = {k: round(v / rate["plain_minilm_fp32"], 2) for k, v in rate.items()
                                               if k != "plain_minilm_fp32"}
        res["targets"] = {"fast_tier": ">= 50x", "accurate_tier": ">= 1.5x"}
        res["threads"] = {"plain_minilm_fp32": "torch intra-op threads = cores", "fast_tier": 1, "fast_tier_2_workers": 2,
                          "accurate_tier": "onnxruntime intra-op threads = cores"}
    print("  " + json.dumps(res["sentences_per_second"]))
    return res


def accurate_tier(path: Path) -> dict:
    if not path.is_file():
        try:
            import reciprocity.detect.accurate  # noqa: F401

            return {"status": "module importable but bench/results/accurate.json absent; run its bench"}
        except Exception as exc:  # noqa: BLE001
            return {"status": f"not available (no {path.name}; reciprocity.detect.accurate not importable: {type(exc).__name__})"}
    data = json.loads(path.read_text(encoding="utf-8"))
    ts = datetime.datetime.fromtimestamp(path.stat().st_mtime, tz=datetime.timezone.utc).isoformat(timespec="seconds")
    summary: dict = {}
    for variant, cv in (data.get("cv") or {}).items():
        s = cv.get("summary", {}) if isinstance(cv, dict) else {}
        summary[f"cv_{variant}"] = {k: (_r(v["mean"]) if isinstance(v, dict) and "mean" in v else v) for k, v in s.items()}
    sp_ = data.get("speed") or {}
    summary["speed"] = {k: (_r(v) if isinstance(v, float) else v) for k, v in sp_.items() if not isinstance(v, list)}
    return {"status": f"taken from {path.relative_to(ROOT)} (file modified {ts})", "file_timestamp": data.get("timestamp", ts),
            "summary": summary, "figures": data}


def accurate_cv_this_run(data: Path, oof_path: Path, seed: int) -> dict:
    """The accurate tier's CV figures recomputed in this run from the committed out-of-fold logits of its fold
    fine-tunes (``cv_from_oof``: per fold, fusion with the n-gram score, Platt calibration and threshold from the
    other folds, then macro-F1 and ECE on the fold); the fine-tuning itself needs torch (``bench/encoder_speed.py``)."""
    if not oof_path.is_file():
        return {"status": f"not computed: {oof_path.relative_to(ROOT)} absent"}
    from reciprocity.detect.accurate.train import cv_from_oof

    t0 = time.perf_counter()
    cv = cv_from_oof(data, pd.read_parquet(oof_path), seed=seed)
    out = {k: {"mean": _r(v["mean"]), "sd": _r(v["sd"])} for k, v in cv["summary"].items() if isinstance(v, dict)}
    out["status"] = f"recomputed in this run from {oof_path.relative_to(ROOT)}"
    out["seconds"] = round(time.perf_counter() - t0, 1)
    return out


def accurate_depth_topics(dev: pd.DataFrame, evalsets: dict[str, tuple[pd.Series, pd.Series]], data: Path) -> dict:
    """Depth/topic evaluation of the accurate tier via ``reciprocity.detect.accurate`` (its bundled artefact; the
    dev set was not used to train it, so all dev rows are out-of-sample for it)."""
    try:
        from reciprocity.detect.accurate import AccurateDetector

        acc = AccurateDetector.load()
    except Exception as exc:  # noqa: BLE001
        return {"status": f"not evaluated ({type(exc).__name__}: {exc})"}
    t0 = time.perf_counter()
    res: dict = {"status": "evaluated here with reciprocity.detect.accurate (bundled artefact); whether its intimacy model "
                           "saw the 20 % tweet slice is up to its training script"}
    for name, (texts, target) in evalsets.items():
        out = acc.predict(texts.reset_index(drop=True))
        res[name] = {"n": int(len(texts)), "spearman_depth": _r(spearmanr(out["depth"], target).statistic)}
    res["dev_all_rows"] = layer_topic_metrics(dev["layer"].to_numpy(), list(dev["topics"]), acc.predict(dev["text"]))
    from reciprocity.datasets import load_esconv

    df = load_esconv(data)
    sup = df[(df["role"] == "supporter") & df["strategy"].notna() & (df["text"].fillna("").str.strip() != "")]
    y = (sup["strategy"] == "Self-disclosure").to_numpy(dtype=int)
    dep = acc.predict(sup["text"].reset_index(drop=True))["depth"].to_numpy()
    res["esconv_selfdisclosure"] = {"spearman": _r(spearmanr(dep, y).statistic), "pointbiserial": _r(pearsonr(dep, y).statistic),
                                    "auc_depth": _r(roc_auc_score(y, dep))}
    res["seconds"] = round(time.perf_counter() - t0, 1)
    return res


def print_summary(r: dict) -> None:
    cv, dv, dp, es, th = r["cv_stratified"], r["dev_set"], r["depth"], r["esconv_selfdisclosure"], r["throughput"]
    print("\n=== fast tier (this run) ===")
    for k in LABELS:
        print(f"  {k}: CV macro-F1 {cv[k]['macro_f1']['mean']:.3f} ± {cv[k]['macro_f1']['sd']:.3f}, ECE {cv[k]['ece']['mean']:.3f}"
              f"  | TF-IDF+LR baseline {cv[k]['baseline_tfidf_lr_macro_f1']['mean']:.3f}"
              + (f"  | without distillation {r['cv_stratified_no_distillation'][k]['macro_f1']['mean']:.3f}"
                 if "cv_stratified_no_distillation" in r else ""))
    print(f"  depth Spearman: question_intimacy test {dp['question_intimacy_test']['spearman_depth']:.3f}"
          f" (format-1 rule {dp['question_intimacy_test']['spearman_depth_format1_rule']:.3f}),"
          f" tweets held-out 20% {dp['tweet_intimacy_en_holdout20']['spearman_depth']:.3f}"
          f" (rule {dp['tweet_intimacy_en_holdout20']['spearman_depth_format1_rule']:.3f}),"
          f" dev OOF {dv['out_of_fold']['spearman_depth_vs_layer']:.3f} (rule {dv['format1_rule_all_rows']['spearman_depth_vs_layer']:.3f}),"
          f" dev frozen 30% {dv['frozen_test30']['spearman_depth_vs_layer']:.3f}")
    print(f"  ESConv self-disclosure: Spearman {es['learned']['spearman_depth_vs_selfdisclosure']:.3f},"
          f" point-biserial {es['learned']['pointbiserial_depth_vs_selfdisclosure']:.3f}, AUC {es['learned']['auc_depth']:.3f}"
          f" (rule AUC {es['format1_rule']['auc_depth']:.3f})")
    for name in ("out_of_fold", "frozen_test30", "format1_rule_all_rows"):
        m = dv[name]
        print(f"  dev {name}: layer acc {m['layer_accuracy']:.3f}, layer macro-F1 {m['layer_macro_f1']:.3f},"
              f" topics micro/macro-F1 {m['topics_micro_f1']:.3f}/{m['topics_macro_f1']:.3f}")
    print(f"  throughput: {th['sentences_per_second']:.0f} sentences/s (format-1 rule {th['format1_rule_sentences_per_second']:.0f})")
    sr = r.get("speed_same_run", {})
    print(f"=== same-run speed ({sr.get('n_sentences')} sentences, best of {sr.get('reps')}) ===")
    for k, v in sr.get("sentences_per_second", {}).items():
        x = sr.get("speedup_vs_plain_minilm_fp32", {}).get(k)
        print(f"  {k}: {v:.0f} sentences/s" + (f" ({x:.1f}x the plain MiniLM fp32 encoder)" if x else ""))
    for k, v in sr.get("notes", {}).items():
        print(f"  {k}: {v}")
    print("=== accurate tier (CV from bench/results/accurate.json) ===")
    a = r["accurate_tier"]
    print("  " + a["status"])
    for k, v in a.get("summary", {}).items():
        print(f"  {k}: {json.dumps(v)}")
    c = a.get("cv_this_run")
    if c and "info_macro_f1" in c:
        print(f"  fine-tuned CV recomputed in this run from the committed fold logits: info macro-F1 "
              f"{c['info_macro_f1']['mean']:.3f} ± {c['info_macro_f1']['sd']:.3f}, ECE {c['info_ece']['mean']:.3f}; emo "
              f"{c['emo_macro_f1']['mean']:.3f} ± {c['emo_macro_f1']['sd']:.3f}, ECE {c['emo_ece']['mean']:.3f}")
    dt = a.get("depth_topics")
    if dt:
        print("  depth/topics: " + dt["status"])
        if "dev_all_rows" in dt:
            m = dt["dev_all_rows"]
            print(f"    depth Spearman: question test {dt['question_intimacy_test']['spearman_depth']:.3f}, tweets held-out"
                  f" {dt['tweet_intimacy_en_holdout20']['spearman_depth']:.3f}, dev {m['spearman_depth_vs_layer']:.3f};"
                  f" ESConv AUC {dt['esconv_selfdisclosure']['auc_depth']:.3f}; dev layer acc {m['layer_accuracy']:.3f},"
                  f" macro-F1 {m['layer_macro_f1']:.3f}; topics micro/macro-F1 {m['topics_micro_f1']:.3f}/{m['topics_macro_f1']:.3f}")


def speed_only(args: argparse.Namespace) -> dict:
    """[6] alone: the shipped fast tier, a format-1 rule fitted here, TF-IDF+LR, the accurate tier, plain MiniLM."""
    omc = D.load_offmychest(args.data)
    base = fit_from_data(args.data, seed=args.seed, teacher="final")  # the format-1 rule (no dev set)
    result = {"timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "seed": args.seed, "speed_same_run": same_run_speed(DisclosureDetector.load(), base, omc, n=10_000,
                                                                  reps=args.speed_only, seed=args.seed)}
    out = ROOT / "bench" / "results" / "detector_speed.json"
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    for k, v in result["speed_same_run"].get("speedup_vs_plain_minilm_fp32", {}).items():
        print(f"  {k}: {v:.1f}x the plain MiniLM fp32 encoder")
    print(f"written {out}")
    return result


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "detector.json")
    ap.add_argument("--grouped", action="store_true", help="also run the post-grouped CV (doubles the runtime)")
    ap.add_argument("--quick", action="store_true", help="fast sanity run (2 folds, subsample); not for reporting")
    ap.add_argument("--svg", type=Path, default=ROOT / "docs" / "reliability.svg")
    ap.add_argument("--speed-only", type=int, metavar="REPS", default=0,
                    help="only the same-run speed comparison, REPS interleaved repetitions, written to "
                         "bench/results/detector_speed.json (a repeat of the full run's [6] to see its spread)")
    args = ap.parse_args(argv)
    if args.speed_only:
        return speed_only(args)
    if args.quick:
        args.folds = 2
        if args.out == ROOT / "bench" / "results" / "detector.json":
            args.out = ROOT / "bench" / "results" / "detector_quick.json"
        if args.svg == ROOT / "docs" / "reliability.svg":  # a sanity run never replaces the documented figure
            args.svg = ROOT / "bench" / "results" / "reliability_quick.svg"
    t_start = time.perf_counter()
    for rel in (*D.TRAINING_FILES, D.QUESTION_TEST):
        D._require(args.data, rel)

    omc = D.load_offmychest(args.data)
    rows_map = np.sort(np.random.default_rng(args.seed).choice(len(omc), 3000, replace=False)) if args.quick else np.arange(len(omc))
    omc_cv = omc.iloc[rows_map].reset_index(drop=True)
    dev = D.load_depth_dev()
    tweets = D.load_tweets(args.data)
    holdout = D.tweet_holdout_mask(len(tweets), 0.2, args.seed)
    strata = omc_cv["info"].to_numpy() * 2 + omc_cv["emo"].to_numpy()
    result: dict = {
        "quick": bool(args.quick),
        "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "seed": args.seed,
        "folds": args.folds,
        "n_sentences": int(len(omc_cv)),
        "positive_rate": {k: round(float(omc[k].mean()), 4) for k in LABELS},
    }

    # the shipped fast tier is distilled from the accurate tier (reciprocity.detect.distill); fold k's teacher was
    # fine-tuned without fold k, which needs these exact folds: the full data, seed 0, 5 folds (not --quick)
    splits = list(StratifiedKFold(args.folds, shuffle=True, random_state=args.seed).split(omc_cv, strata))
    teacher_folds = cv_folds(omc["info"].to_numpy(), omc["emo"].to_numpy(), 5, 0)
    distill = len(splits) == len(teacher_folds) and all(
        np.array_equal(rows_map[te], te0) for (_, te), (_, te0) in zip(splits, teacher_folds))
    print(f"[1] {args.folds}-fold stratified CV of the full pipeline (inner CV for calibration/thresholds)"
          + (", distilled from the accurate tier's fold teachers" if distill else ", no distillation (folds differ "
             "from the teachers')"))
    result["cv_distilled"] = distill
    result["cv_stratified"] = cv_pipeline(args.data, omc_cv, splits, holdout, args.seed, rows_map, distill=distill)
    if distill:
        print("[1b] the same without distillation (ablation)")
        result["cv_stratified_no_distillation"] = cv_pipeline(args.data, omc_cv, splits, holdout, args.seed, rows_map)
    if args.grouped:
        print(f"[2] {args.folds}-fold CV grouped by Reddit post (no thread in both train and test)")
        sgkf = StratifiedGroupKFold(args.folds, shuffle=True, random_state=args.seed)
        result["cv_grouped_by_post"] = cv_pipeline(
            args.data, omc_cv, sgkf.split(omc_cv, strata, omc_cv["group"]), holdout, args.seed, rows_map)
    curves = {f"{k} (ECE {result['cv_stratified'][k]['ece_pooled']:.3f})": result["cv_stratified"][k]["reliability_bins"] for k in LABELS}
    reliability_svg(curves, args.svg, "Fast tier: out-of-fold reliability, OffMyChest")

    print("[3] depth / intimacy (base trained on all OffMyChest, question train, tweets minus the 20% slice;"
          " depth/topic models on the whole dev set)")
    base = fit_from_data(args.data, seed=args.seed, tweet_exclude=holdout,  # format-1 rule (no dev set)
                         teacher="final" if distill else None)
    det = copy.copy(base).fit_depth_topics(dev["text"], dev["layer"], dev["topics"])
    qt = D.load_questions(args.data, D.QUESTION_TEST)
    result["depth"] = {
        "question_intimacy_test": depth_eval(det, qt["text"], qt["target"], base),
        "tweet_intimacy_en_holdout20": depth_eval(det, tweets["text"][holdout], tweets["target"][holdout], base),
    }
    print("[4] dev set (out-of-fold / frozen 30% test / format-1 rule) and ESConv")
    result["dev_set"] = dev_eval(base, dev, 5, args.seed)
    result["esconv_selfdisclosure"] = esconv_eval(det, args.data, base)

    print("[5] throughput")
    rng = np.random.default_rng(args.seed)
    texts = omc["text"].iloc[rng.choice(len(omc), 2_000 if args.quick else 10_000, replace=False)].reset_index(drop=True)
    det.predict(texts.iloc[:200])  # warm-up
    t0 = time.perf_counter()
    out = det.predict(texts)
    dt = time.perf_counter() - t0
    result["throughput"] = {"n_inputs": int(len(texts)), "seconds": round(dt, 2), "sentences_per_second": round(len(texts) / dt, 1)}
    t0 = time.perf_counter()
    base.predict(texts)
    dt0 = time.perf_counter() - t0
    result["throughput"]["format1_rule_sentences_per_second"] = round(len(texts) / dt0, 1)
    result["throughput"]["sample"] = f"{len(texts)} OffMyChest train sentences, numpy default_rng({args.seed}).choice without replacement"
    result["layer_distribution_offmychest_sample"] = {
        str(k): round(float(v), 4) for k, v in out["layer"].value_counts(normalize=True).sort_index().items()
    }
    print("[6] same-run speed: fast tier, format-1 rule, TF-IDF+LR, accurate tier, plain MiniLM fp32")
    result["speed_same_run"] = same_run_speed(det, base, omc, n=500 if args.quick else 10_000, reps=1 if args.quick else 2,
                                              seed=args.seed)
    print("[7] accurate tier CV / depth and topics")
    result["accurate_tier"] = accurate_tier(ROOT / "bench" / "results" / "accurate.json")
    if not args.quick:
        result["accurate_tier"]["cv_this_run"] = accurate_cv_this_run(
            args.data, ROOT / "bench" / "results" / "accurate_finetune_oof.parquet", args.seed)
        result["accurate_tier"]["depth_topics"] = accurate_depth_topics(dev, {
            "question_intimacy_test": (qt["text"], qt["target"]),
            "tweet_intimacy_en_holdout20": (tweets["text"][holdout], tweets["target"][holdout]),
        }, args.data)
    result["environment"] = {
        "python": platform.python_version(), "numpy": np.__version__, "pandas": pd.__version__,
        "scikit_learn": sklearn.__version__, "platform": platform.platform(),
    }
    result["runtime_seconds"] = round(time.perf_counter() - t_start, 1)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print_summary(result)
    print(f"written {args.out}")
    return result


if __name__ == "__main__":
    main()
