"""Probability calibration, threshold choice and calibration error.

* Platt scaling (Platt 1999, with the target smoothing of Lin, Lin & Weng 2007):
  ``p = 1 / (1 + exp(a * s + b))`` fitted on out-of-fold decision scores ``s`` with targets
  ``t+ = (N+ + 1) / (N+ + 2)``, ``t- = 1 / (N- + 2)``.
* Threshold: the cut on out-of-fold probabilities that maximises the binary macro-F1
  ``(F1_pos + F1_neg) / 2``, evaluated at every distinct score in one vectorised pass.
* ECE (Naeini et al. 2015; Guo et al. 2017): ``sum_b (n_b / n) |mean(y_b) - mean(p_b)|`` over equal-width bins.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit


def platt_fit(scores: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Return Platt parameters ``(a, b)`` so that ``p = expit(-(a * s + b))``."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(y).astype(bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    t = np.where(y, (n_pos + 1.0) / (n_pos + 2.0), 1.0 / (n_neg + 2.0))

    def loss(ab: np.ndarray) -> tuple[float, np.ndarray]:
        z = ab[0] * s + ab[1]
        # -log p(t | z) with p = sigmoid(-z); numerically stable via logaddexp
        nll = np.sum(t * np.logaddexp(0.0, z) + (1.0 - t) * np.logaddexp(0.0, -z))
        d = t - expit(-z)  # d nll / dz
        grad = np.array([np.sum(d * s), np.sum(d)])
        return float(nll), grad

    b0 = np.log((n_neg + 1.0) / (n_pos + 1.0))
    res = minimize(loss, np.array([-1.0, b0]), jac=True, method="L-BFGS-B")
    return float(res.x[0]), float(res.x[1])


def platt_apply(scores: np.ndarray, a: float, b: float) -> np.ndarray:
    """Calibrated probabilities ``expit(-(a * s + b))``."""
    return expit(-(a * np.asarray(scores, dtype=np.float64) + b))


def macro_f1_curve(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Binary macro-F1 for the rule ``p >= t`` at every distinct ``t`` in ``p``; returns ``(thresholds, f1)``."""
    y = np.asarray(y).astype(bool)
    p = np.asarray(p, dtype=np.float64)
    order = np.argsort(-p, kind="stable")
    ps, ys = p[order], y[order]
    last = np.r_[ps[1:] != ps[:-1], True]  # end of each tie block
    tp = np.cumsum(ys)[last]
    fp = np.cumsum(~ys)[last]
    pos = int(y.sum())
    return ps[last], macro_f1_from_counts(tp, fp, pos, len(y) - pos)


def macro_f1_from_counts(tp, fp, positives: float, negatives: float) -> np.ndarray:
    """Binary macro-F1 ``(2TP/(2TP+FP+FN) + 2TN/(2TN+FN+FP)) / 2`` from true/false positives and the size of each
    class (counts or shares); an F1 with an empty denominator is 0."""
    tp, fp = np.asarray(tp, dtype=np.float64), np.asarray(fp, dtype=np.float64)
    fn, tn = positives - tp, negatives - fp
    den_pos, den_neg = 2 * tp + fp + fn, 2 * tn + fp + fn
    f_pos = np.divide(2 * tp, den_pos, out=np.zeros_like(tp), where=den_pos > 0)
    f_neg = np.divide(2 * tn, den_neg, out=np.zeros_like(tn), where=den_neg > 0)
    return (f_pos + f_neg) / 2


def choose_threshold(y: np.ndarray, p: np.ndarray) -> tuple[float, float]:
    """Threshold maximising binary macro-F1 on ``(y, p)``; returns ``(threshold, macro_f1)``.

    The midpoint between the best cut and the next-lower distinct score is returned so that the rule is not
    sitting exactly on a training score.
    """
    thr, f1 = macro_f1_curve(y, p)
    i = int(np.argmax(f1))
    t = float(thr[i]) if i + 1 >= len(thr) else float((thr[i] + thr[i + 1]) / 2.0)
    return t, float(f1[i])


def macro_f1(y: np.ndarray, pred: np.ndarray) -> float:
    """Binary macro-F1 ``(F1_pos + F1_neg) / 2``."""
    y = np.asarray(y).astype(bool)
    pred = np.asarray(pred).astype(bool)
    out = []
    for yy, pp in ((y, pred), (~y, ~pred)):
        tp = np.sum(yy & pp)
        den = 2 * tp + np.sum(~yy & pp) + np.sum(yy & ~pp)
        out.append(2 * tp / den if den else 0.0)
    return float(np.mean(out))


def expected_calibration_error(y: np.ndarray, p: np.ndarray, n_bins: int = 10) -> float:
    """ECE with ``n_bins`` equal-width bins on [0, 1]."""
    y = np.asarray(y, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    bins = np.minimum((p * n_bins).astype(int), n_bins - 1)
    cnt = np.bincount(bins, minlength=n_bins)
    gap = np.abs(np.bincount(bins, y, n_bins) - np.bincount(bins, p, n_bins))
    return float(gap.sum() / max(len(y), 1)) if cnt.sum() else 0.0
