"""How high can OffMyChest disclosure macro-F1 go? Label noise, estimates of what it allows, prevalence shift.

Usage (from the project root, bench extra installed: ``pip install -c constraints.txt -e ".[bench]"``):

    python bench/detector_ceiling.py [--data ../shared/data] [--seed 0] [--bootstrap 2000]

Prints its figures and writes ``bench/results/detector_ceiling.json``. Four views, per label (info, emo); the
formulas are in :mod:`reciprocity.detect.label_noise`:

1. **Repeated sentences** (model-free). Some sentences occur more than once in ``train.csv`` (same text after the
   detector's normalisation, lower-casing and whitespace folding), each copy labelled separately by the crowd.
   A classifier that reads only the text gives every copy the same answer, so on these rows: the agreement ``A``
   (per text, the share of its pairs of copies with the same label, averaged over rows; bootstrap 95 % CI over
   texts), the bound ``(1 + A) / 2`` on any text-only classifier's expected accuracy, and the best macro-F1 of any
   one-answer-per-text rule on exactly these labels (exact, in-sample, so it includes luck). The most repeated
   text (a moderator bot's message) is a large share of the pairs, so the agreement is also given without it.
   The symmetric-noise extrapolation to the whole set: if every label were flipped at one rate ``e`` whatever the
   text, ``A = (1-e)^2 + e^2``, and the macro-F1 that reproducing the *true* labels would score against the
   crowd's follows (a rule that copies text-dependent errors of the coders could score more).
2. **Confident learning** (Northcutt et al. 2021, ``cleanlab.count.estimate_joint``) on the accurate tier's
   calibrated out-of-fold probabilities (``cv_from_oof``): the joint distribution of given and estimated true
   labels over all 12,860 sentences, the share of labels estimated wrong, and the macro-F1 that reproducing the
   estimated true labels would score against the given ones. Model-dependent (the model's own mistakes count as
   label noise), so an estimate, not a bound.
3. **Noise-corrected figures** (an extrapolation, not a measurement). The official test labels were cleaned after
   the task (the organisers weeded out labelling errors using the systems' runs). Assuming class-conditional noise
   independent of the prediction, ``C = O T^-1`` gives the accurate tier's out-of-fold macro-F1 against the true
   labels, with a symmetric ``T`` at the repeated-sentence flip rate and at the rates of both ends of its CI. (The
   confident-learning joint is not used here: it comes from the same model's probabilities and would flatter it.)
4. **Prevalence shift.** The data README says positives are more frequent in the official test split than in
   ``train.csv``. The accurate tier's out-of-fold macro-F1 with the classes reweighted to a positive rate of 50 %
   and 60 %: at the thresholds chosen on CV (what ships) and at the best threshold for that rate (an oracle).

Needs the accurate tier's out-of-fold logits (``bench/results/accurate_finetune_oof.parquet``, committed).
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from cleanlab.count import estimate_joint
from sklearn.metrics import f1_score

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from reciprocity.detect import data as D  # noqa: E402
from reciprocity.detect.accurate.train import cv_from_oof  # noqa: E402
from reciprocity.detect.calibration import macro_f1_from_counts  # noqa: E402
from reciprocity.detect.label_noise import (  # noqa: E402
    agreement, best_one_answer_per_text, noise_corrected_macro_f1, symmetric_noise_ceiling, text_agreement)
from reciprocity.detect.text import normalise  # noqa: E402

LABELS = ("info", "emo")
OOF_LOGITS = ROOT / "bench" / "results" / "accurate_finetune_oof.parquet"


def _r(v: float) -> float:
    return round(float(v), 4)


def _agreement_summary(n: np.ndarray, k: np.ndarray, positive_rate: float, boot: np.ndarray) -> dict:
    """Agreement with its bootstrap CI over texts, the accuracy bound, and the symmetric-noise extrapolation at
    the agreement and at both ends of its CI."""
    a = agreement(n, k)
    per_text = text_agreement(n, k)
    a_boot = (n[boot] * per_text[boot]).sum(1) / n[boot].sum(1)
    lo, hi = np.quantile(a_boot, [0.025, 0.975])
    sym = {key: _r(v) for key, v in symmetric_noise_ceiling(a, positive_rate).items()}
    return {
        "agreement": _r(a), "agreement_ci95": [_r(lo), _r(hi)], "accuracy_upper_bound": _r((1 + a) / 2),
        "symmetric_noise": sym,
        "symmetric_noise_at_agreement_ci": {
            f"agreement_{end}": {key: _r(v) for key, v in symmetric_noise_ceiling(float(x), positive_rate).items()}
            for end, x in (("ci_low", lo), ("ci_high", hi))},
    }


def repeated_sentences(omc: pd.DataFrame, probs: pd.DataFrame, n_boot: int, seed: int) -> dict:
    """Texts that occur more than once after the detector's normalisation, lower-casing and whitespace folding."""
    key = normalise(omc["text"]).str.lower().str.split().str.join(" ")
    size = key.map(key.value_counts())
    rep = omc[size.to_numpy() > 1].assign(key=key[size > 1])
    counts = rep["key"].value_counts()
    out: dict = {"n_texts": int(len(counts)), "n_rows": int(len(rep)), "share_of_data": _r(len(rep) / len(omc)),
                 "most_repeated_text": {"text": str(counts.index[0]), "rows": int(counts.iloc[0])}, "positive_rate": {}}
    rng = np.random.default_rng(seed)
    for label in LABELS:
        g = rep.groupby("key")[label].agg(["size", "sum"])
        n, k = g["size"].to_numpy(), g["sum"].to_numpy()
        boot = rng.integers(0, len(g), size=(n_boot, len(g)))
        rate = float(omc[label].mean())
        keep = g.index != counts.index[0]
        boot_without = rng.integers(0, int(keep.sum()), size=(n_boot, int(keep.sum())))
        p = probs.loc[rep.index]
        out["positive_rate"][label] = _r(rep[label].mean())
        out[label] = {
            **_agreement_summary(n, k, rate, boot),
            "best_macro_f1_one_answer_per_text": _r(best_one_answer_per_text(n, k)),
            # stratified (not text-grouped) folds: copies of a text can be in the training part of another copy's
            # fold, and copies in different folds get different models, so this is not a one-answer-per-text score
            "accurate_tier_oof_macro_f1": _r(f1_score(rep[label], p[f"p_{label}"] >= p[f"threshold_{label}"],
                                                      average="macro")),
            "without_most_repeated_text": _agreement_summary(n[keep], k[keep], rate, boot_without),
        }
    return out


def confident_learning(omc: pd.DataFrame, probs: pd.DataFrame) -> dict:
    out: dict = {}
    for label in LABELS:
        y = omc[label].to_numpy().astype(int)
        p1 = probs[f"p_{label}"].to_numpy()
        joint = estimate_joint(y, np.column_stack([1 - p1, p1]))  # rows: given label, columns: true label
        labelled_pos = float(joint[1].sum())
        f1 = macro_f1_from_counts(joint[1, 1], joint[0, 1], labelled_pos, 1 - labelled_pos)
        out[label] = {
            "joint_given_rows_true_columns": [[_r(v) for v in r] for r in joint],
            "estimated_label_error_share": _r(joint[0, 1] + joint[1, 0]),
            "estimated_true_positive_rate": _r(joint[:, 1].sum()),
            "macro_f1_of_estimated_true_labels": _r(float(f1)),
        }
    return out


def noise_corrected(omc: pd.DataFrame, probs: pd.DataFrame, rep: dict) -> dict:
    """The accurate tier's out-of-fold macro-F1 against the true labels under symmetric noise at the
    repeated-sentence flip rate, and at the flip rates of both ends of the agreement CI."""
    out: dict = {}
    for label in LABELS:
        y = omc[label].to_numpy().astype(int)
        pred = (probs[f"p_{label}"] >= probs[f"threshold_{label}"]).to_numpy().astype(int)
        x = rep[label]
        flips = {"agreement": x["symmetric_noise"]["flip_rate"],
                 **{end: v["flip_rate"] for end, v in x["symmetric_noise_at_agreement_ci"].items()}}
        row: dict = {"macro_f1_observed": _r(f1_score(y, pred, average="macro"))}
        for name, e in flips.items():
            row[f"at_{name}"] = {"flip_rate": e,
                                 "macro_f1": _r(noise_corrected_macro_f1(y, pred, np.array([[1 - e, e], [e, 1 - e]])))}
        out[label] = row
    return out


def prevalence_shift(omc: pd.DataFrame, probs: pd.DataFrame, rates: tuple[float, ...]) -> dict:
    out: dict = {}
    for label in LABELS:
        y = omc[label].to_numpy().astype(int)
        p, thr = probs[f"p_{label}"].to_numpy(), probs[f"threshold_{label}"].to_numpy()
        base = y.mean()
        cuts = np.quantile(p, np.linspace(0.05, 0.95, 181))
        out[label] = {}
        for rate in (float(base), *rates):
            w = np.where(y == 1, rate / base, (1 - rate) / (1 - base))
            shipped = f1_score(y, p >= thr, average="macro", sample_weight=w)
            oracle = max(f1_score(y, p >= c, average="macro", sample_weight=w) for c in cuts)
            out[label][f"{rate:.3f}"] = {"cv_thresholds": _r(shipped), "best_threshold_for_this_rate": _r(oracle)}
    return out


def print_summary(r: dict) -> None:
    rep = r["repeated_sentences"]
    print(f"\nrepeated sentences: {rep['n_texts']} texts, {rep['n_rows']} rows ({100 * rep['share_of_data']:.1f} % of the "
          f"data); most repeated: {rep['most_repeated_text']['text']!r} x {rep['most_repeated_text']['rows']}")
    for label in LABELS:
        x, cl, nc = rep[label], r["confident_learning"][label], r["noise_corrected"][label]
        w, sym = x["without_most_repeated_text"], x["symmetric_noise"]
        ci = x["symmetric_noise_at_agreement_ci"]
        print(f"  {label}: agreement {x['agreement']:.3f} [{x['agreement_ci95'][0]:.3f}, {x['agreement_ci95'][1]:.3f}]"
              f" (without the most repeated text {w['agreement']:.3f}); accuracy <= {x['accuracy_upper_bound']:.3f};"
              f" best macro-F1 of a one-answer-per-text rule {x['best_macro_f1_one_answer_per_text']:.3f}"
              f" (accurate tier OOF {x['accurate_tier_oof_macro_f1']:.3f})")
        print(f"       symmetric noise: flip rate {sym['flip_rate']:.3f}, true positive rate {sym['true_positive_rate']:.3f},"
              f" macro-F1 of the true labels {sym['macro_f1_of_true_labels']:.3f} (agreement CI: "
              f"{ci['agreement_ci_low']['macro_f1_of_true_labels']:.3f}-{ci['agreement_ci_high']['macro_f1_of_true_labels']:.3f})")
        print(f"       confident learning: {100 * cl['estimated_label_error_share']:.1f} % labels estimated wrong, true"
              f" positive rate {cl['estimated_true_positive_rate']:.3f}, macro-F1 of the estimated true labels"
              f" {cl['macro_f1_of_estimated_true_labels']:.3f}")
        print(f"       noise-corrected accurate-tier macro-F1: {nc['at_agreement']['macro_f1']:.3f} (agreement CI:"
              f" {nc['at_agreement_ci_high']['macro_f1']:.3f}-{nc['at_agreement_ci_low']['macro_f1']:.3f}); observed"
              f" {nc['macro_f1_observed']:.3f}")
        print("       prevalence shift (CV thresholds / best threshold): " + "; ".join(
            f"{k}: {v['cv_thresholds']:.3f} / {v['best_threshold_for_this_rate']:.3f}"
            for k, v in r["prevalence_shift"][label].items()))
    print(f"accurate tier CV macro-F1 (this run): info {r['accurate_tier_cv']['info']:.3f}, emo {r['accurate_tier_cv']['emo']:.3f}")


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--bootstrap", type=int, default=2000)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "detector_ceiling.json")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    omc = D.load_offmychest(args.data).reset_index(drop=True)
    print("[1] accurate tier: calibrated out-of-fold probabilities from the committed fold logits (cv_from_oof)")
    cv = cv_from_oof(args.data, pd.read_parquet(OOF_LOGITS), seed=args.seed, keep_probabilities=True)
    probs = cv["probabilities"]
    result: dict = {
        "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "seed": args.seed, "n_sentences": int(len(omc)),
        "positive_rate": {k: _r(omc[k].mean()) for k in LABELS},
        "accurate_tier_cv": {k: _r(cv["summary"][f"{k}_macro_f1"]["mean"]) for k in LABELS},
    }
    print("[2] repeated sentences")
    result["repeated_sentences"] = repeated_sentences(omc, probs, args.bootstrap, args.seed)
    print("[3] confident learning")
    result["confident_learning"] = confident_learning(omc, probs)
    result["noise_corrected"] = noise_corrected(omc, probs, result["repeated_sentences"])
    print("[4] prevalence shift")
    result["prevalence_shift"] = prevalence_shift(omc, probs, (0.5, 0.6))
    result["runtime_seconds"] = round(time.perf_counter() - t0, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print_summary(result)
    print(f"written {args.out}")
    return result


if __name__ == "__main__":
    main()
