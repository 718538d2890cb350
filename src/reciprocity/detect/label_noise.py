"""How much of a binary disclosure label can a text classifier reproduce? Ceilings set by label noise.

Works on any binary code that was assigned more than once to the same text (crowd labels of repeated sentences,
double-coded transcripts). With ``n`` codings of a text, ``k`` of them positive:

* agreement ``A``: per text, the share of its pairs of codings that agree, ``a = [C(k,2) + C(n-k,2)] / C(n,2)``,
  averaged over codings (rows), ``A = sum n a / sum n``;
* a rule that reads only the text gives every coding of it one answer, so its expected accuracy is at most
  ``(1 + A) / 2``: for a text with ``q = P(code 1 | text)`` the accuracy is at most ``max(q, 1-q) =
  1 - min(q, 1-q) <= 1 - q (1-q)`` and ``E[a] = 1 - 2 q (1-q)``; averaging over rows gives the bound;
* :func:`best_one_answer_per_text`: the highest binary macro-F1 (``(F1_pos + F1_neg) / 2``) any such rule reaches
  on exactly these codings (exact, in-sample: an upper bound that includes luck);
* :func:`symmetric_noise_ceiling`: if every code were flipped with one rate ``e`` whatever the text,
  ``A = (1-e)^2 + e^2``; the macro-F1 that reproducing the true codes would score against the noisy ones;
* :func:`noise_corrected_macro_f1`: under class-conditional noise independent of the prediction, the observed
  prediction x code table is ``O = C T`` (``T[t, g] = P(code g | true t)``), so ``C = O T^-1`` gives the macro-F1
  against the true codes (e.g. Lam & Stork 2003 for the correction of error rates under label noise).
"""

from __future__ import annotations

import numpy as np

from .calibration import macro_f1_from_counts


def _counts(n, k) -> tuple[np.ndarray, np.ndarray]:
    n, k = np.asarray(n, dtype=np.int64), np.asarray(k, dtype=np.int64)
    if n.shape != k.shape or n.ndim != 1 or (n < 2).any() or (k < 0).any() or (k > n).any():
        raise ValueError("need one (n, k) per text with n >= 2 codings and 0 <= k <= n positives")
    return n, k


def text_agreement(n, k) -> np.ndarray:
    """Per text, the share of its pairs of codings that agree (``n`` codings, ``k`` of them positive)."""
    n, k = _counts(n, k)
    return (k * (k - 1) + (n - k) * (n - k - 1)) / (n * (n - 1))


def agreement(n, k) -> float:
    """Row-weighted agreement ``A = sum n a / sum n`` (``a`` from :func:`text_agreement`)."""
    n = np.asarray(n, dtype=np.int64)
    return float(np.sum(n * text_agreement(n, k)) / n.sum())


def best_one_answer_per_text(n, k) -> float:
    """Highest macro-F1 over all rules that give one answer per text, on these codings.

    For a fixed number f of false positives both F1s grow with the true positives, so the best rule is, for some
    f, the most true positives reachable with exactly f false positives: a 0/1 knapsack over texts (weight
    ``n - k``, value ``k``), solved exactly by dynamic programming over f."""
    n, k = _counts(n, k)
    weights, values = n - k, k
    cap = int(weights.sum())
    best = np.full(cap + 1, -1, dtype=np.int64)  # best[f]: most true positives with exactly f false positives
    best[0] = 0
    for w, v in zip(weights, values):  # one pass per text, vectorised over f
        take = np.full_like(best, -1)
        take[w:] = np.where(best[: cap + 1 - w] >= 0, best[: cap + 1 - w] + v, -1)
        best = np.maximum(best, take)
    f = np.flatnonzero(best >= 0)
    return float(macro_f1_from_counts(best[f], f, float(k.sum()), float(weights.sum())).max())


def symmetric_flip_rate(agreement: float) -> float:
    """Flip rate ``e`` in [0, 0.5] with ``(1-e)^2 + e^2 = A``."""
    if not 0.0 <= agreement <= 1.0:
        raise ValueError(f"agreement must lie in [0, 1], got {agreement}")
    return float((1 - np.sqrt(max(2 * agreement - 1, 0.0))) / 2)


def symmetric_noise_ceiling(agreement: float, positive_rate: float) -> dict[str, float]:
    """Macro-F1 and accuracy of the true codes scored against noisy ones under symmetric noise.

    ``e`` from :func:`symmetric_flip_rate`; the true positive rate ``p`` from ``pi = p (1-e) + (1-p) e``;
    expected table: TP = p (1-e), FP = p e (true 1, coded 0), FN = (1-p) e, TN = (1-p)(1-e). Under this model no
    rule scores more; when noise depends on the text, a rule that copies the coders' systematic errors can."""
    e = symmetric_flip_rate(agreement)
    p = float(np.clip((positive_rate - e) / (1 - 2 * e), 0.0, 1.0)) if e < 0.5 else float("nan")
    f1 = float(macro_f1_from_counts(p * (1 - e), p * e, positive_rate, 1 - positive_rate))
    return {"flip_rate": e, "true_positive_rate": p, "macro_f1_of_true_labels": f1, "accuracy_of_true_labels": 1 - e}


def noise_corrected_macro_f1(coded, predicted, noise: np.ndarray) -> float:
    """Macro-F1 of ``predicted`` against the true codes, given the noisy ``coded`` ones and the noise matrix
    ``noise[t, g] = P(code g | true t)``: ``C = O T^-1`` (cells the noise model cannot explain, i.e. negative,
    are clipped to 0 and the table renormalised)."""
    coded, predicted = np.asarray(coded).astype(bool), np.asarray(predicted).astype(bool)
    noise = np.asarray(noise, dtype=np.float64)
    if coded.shape != predicted.shape or noise.shape != (2, 2):
        raise ValueError("coded and predicted must have one value per row, noise must be 2 x 2")
    observed = np.array([[np.mean((predicted == a) & (coded == g)) for g in (False, True)] for a in (False, True)])
    table = np.clip(observed @ np.linalg.inv(noise), 0.0, None)
    table /= table.sum()
    return float(macro_f1_from_counts(table[1, 1], table[1, 0], table[:, 1].sum(), table[:, 0].sum()))
