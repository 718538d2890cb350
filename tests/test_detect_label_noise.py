"""Label-noise ceilings (reciprocity.detect.label_noise): exactness against brute force and simulated noise."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from reciprocity.detect.calibration import macro_f1
from reciprocity.detect.label_noise import (
    agreement,
    best_one_answer_per_text,
    noise_corrected_macro_f1,
    symmetric_flip_rate,
    symmetric_noise_ceiling,
)


def test_agreement_weights_each_text_by_its_codings():
    # text 1: 3 codings, 2 positive -> 1 of its 3 pairs agrees; text 2: 2 codings, both 0 -> its pair agrees
    assert agreement([3, 2], [2, 0]) == pytest.approx((3 * (1 / 3) + 2 * 1.0) / 5)
    assert agreement([2, 2], [2, 0]) == 1.0
    with pytest.raises(ValueError, match="n >= 2"):
        agreement([1, 2], [0, 1])
    with pytest.raises(ValueError, match="k <= n"):
        agreement([2], [3])


@pytest.mark.parametrize("seed", range(4))
def test_accuracy_bound_holds_for_the_best_rule(seed):
    # the best one-answer-per-text rule takes each text's majority; its accuracy may not exceed (1 + A) / 2 in
    # expectation; with many texts the sample value is close to its expectation
    rng = np.random.default_rng(seed)
    n = rng.integers(2, 14, size=4000)
    k = rng.binomial(n, rng.beta(0.7, 0.7, size=n.size))
    q = k / n  # rows labelled 1 per text; the majority answer gets max(q, 1 - q) of them right
    best_accuracy = float(np.sum(n * np.maximum(q, 1 - q)) / n.sum())
    assert best_accuracy <= (1 + agreement(n, k)) / 2 + 0.01


@pytest.mark.parametrize("seed", range(6))
def test_best_one_answer_per_text_is_exact(seed):
    rng = np.random.default_rng(seed)
    n = rng.integers(2, 6, size=9)
    k = rng.integers(0, n + 1)
    brute = 0.0
    for answer in itertools.product((False, True), repeat=len(n)):
        y = np.concatenate([np.r_[np.ones(kk), np.zeros(nn - kk)] for nn, kk in zip(n, k)]).astype(bool)
        pred = np.repeat(np.array(answer), n)
        brute = max(brute, macro_f1(y, pred))
    assert best_one_answer_per_text(n, k) == pytest.approx(brute)


def test_unanimous_codes_have_no_ceiling_below_one():
    assert best_one_answer_per_text([2, 3, 4], [2, 0, 4]) == 1.0
    assert symmetric_flip_rate(1.0) == 0.0
    assert symmetric_noise_ceiling(1.0, 0.3)["macro_f1_of_true_labels"] == pytest.approx(1.0)


def test_symmetric_ceiling_matches_simulated_noise():
    rng = np.random.default_rng(0)
    truth = rng.random(400_000) < 0.3
    flip = 0.15
    coded = truth ^ (rng.random(truth.size) < flip)
    # two independent codings of a text agree with probability (1 - e)^2 + e^2
    agreement = (1 - flip) ** 2 + flip**2
    assert symmetric_flip_rate(agreement) == pytest.approx(flip)
    ceiling = symmetric_noise_ceiling(agreement, coded.mean())
    assert ceiling["true_positive_rate"] == pytest.approx(0.3, abs=0.005)
    assert ceiling["macro_f1_of_true_labels"] == pytest.approx(macro_f1(coded, truth), abs=0.003)
    assert ceiling["accuracy_of_true_labels"] == pytest.approx(np.mean(coded == truth), abs=0.003)


def test_noise_correction_recovers_the_score_against_the_truth():
    rng = np.random.default_rng(1)
    truth = rng.random(400_000) < 0.35
    predicted = np.where(rng.random(truth.size) < 0.85, truth, ~truth)  # a classifier right 85 % of the time
    noise = np.array([[0.9, 0.1], [0.25, 0.75]])  # class-conditional: P(code | true)
    coded = np.where(truth, rng.random(truth.size) < noise[1, 1], rng.random(truth.size) < noise[0, 1])
    observed = macro_f1(coded, predicted)
    corrected = noise_corrected_macro_f1(coded, predicted, noise)
    assert observed < macro_f1(truth, predicted) - 0.1  # the noise costs a lot ...
    assert corrected == pytest.approx(macro_f1(truth, predicted), abs=0.005)  # ... and the correction undoes it
    with pytest.raises(ValueError, match="2 x 2"):
        noise_corrected_macro_f1(coded, predicted, np.eye(3))
