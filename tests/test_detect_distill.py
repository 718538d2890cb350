"""Distillation of the accurate tier into the fast tier (reciprocity.detect.distill)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from reciprocity.detect import DisclosureDetector
from reciprocity.detect.distill import (
    TEACHER_FILE,
    TransferSet,
    calibrated_teacher,
    load_teacher_logits,
    soft_label_design,
    texts_sha256,
)
from reciprocity.detect.features import FeatureConfig
from reciprocity.errors import InputError
from reciprocity.detect.model import ARTIFACT_DIR, DetectorConfig

from detect_fixtures import FIXTURE  # noqa: E402  (tests/ is on sys.path)

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SMALL = DetectorConfig(features=FeatureConfig(n_features_word=2**12, n_features_char=2**12), n_folds=3,
                       n_features_small=2**10)
#: unlabelled sentences: the "teacher" calls the hiking ones informational disclosure
TRANSFER = pd.Series(["I go hiking every weekend with my dog.", "Hiking is my favourite thing to do.",
                      "The weather is nice for a walk.", "Do you like films?"] * 5)
TEACHER = np.tile(np.array([[0.95, 0.2], [0.9, 0.3], [0.1, 0.1], [0.05, 0.05]]), (5, 1))


def test_soft_label_design_rows_targets_and_weights():
    X = sp.csr_matrix(np.eye(4))
    y = np.array([1, 0, 0, 0])
    Xt = sp.csr_matrix(np.ones((2, 4)))
    q = np.array([0.8, 0.1])
    rows, target, w = soft_label_design(X, y, Xt, q, weight=2.0)
    assert rows.shape == (4 + 2 * 2, 4)
    assert target.tolist() == [1, 0, 0, 0, 1, 1, 0, 0]
    w1, w0 = 0.5 / 0.25, 0.5 / 0.75  # class-balanced gold weights: each class sums to n/2
    np.testing.assert_allclose(w[:4], [w1, w0, w0, w0])
    assert w[:4][y == 1].sum() == pytest.approx(2.0) and w[:4][y == 0].sum() == pytest.approx(2.0)
    np.testing.assert_allclose(w[4:6], 2.0 * w1 * q)
    np.testing.assert_allclose(w[6:], 2.0 * w0 * (1 - q))


def test_soft_labels_at_zero_and_one_equal_hard_rows():
    """q in {0, 1}: the soft rows reduce to ordinary hard-labelled rows with the class weights."""
    X = sp.csr_matrix(np.eye(3))
    y = np.array([1, 0, 1])
    Xt = sp.csr_matrix(np.eye(3)[:2])
    rows, target, w = soft_label_design(X, y, Xt, np.array([1.0, 0.0]), weight=1.0)
    live = w > 0
    assert live.sum() == 5
    assert target[live].tolist() == [1, 0, 1, 1, 0]
    np.testing.assert_allclose(w[3:5][[0]], w[0])  # the q=1 row weighs like a gold positive


def test_transfer_set_validates_probabilities():
    with pytest.raises(ValueError, match=r"\[2, 2\]"):
        TransferSet(pd.Series(["a", "b"]), np.zeros((2, 3)), "final")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        TransferSet(pd.Series(["a", "b"]), np.array([[0.2, 1.2], [0.1, 0.1]]), "final")


def test_teacher_file_errors_name_the_fix(tmp_path):
    texts = pd.Series(["one", "two"])
    with pytest.raises(FileNotFoundError, match="score_transfer.py"):
        load_teacher_logits(texts, tmp_path / "missing.npz")
    other = tmp_path / "other.npz"
    np.savez(other, logits=np.zeros((1, 2, 2), np.float32), texts_sha256=np.array(texts_sha256(pd.Series(["x", "y"]))),
             names=np.array(["final"]))
    with pytest.raises(InputError, match="another transfer set"):
        load_teacher_logits(texts, other)
    good = tmp_path / "good.npz"
    np.savez(good, logits=np.arange(8, dtype=np.float32).reshape(2, 2, 2), texts_sha256=np.array(texts_sha256(texts)),
             names=np.array(["fold0", "final"]))
    got = load_teacher_logits(texts, good)
    assert sorted(got) == ["final", "fold0"] and got["final"].tolist() == [[4, 5], [6, 7]]


def test_calibrated_teacher_uses_only_the_given_rows():
    rng = np.random.default_rng(0)
    n = 400
    labels = rng.integers(0, 2, size=(n, 2))
    oof = pd.DataFrame({"row": np.arange(n), "piece": -1, "logit_info": 3 * labels[:, 0] - 1.5 + rng.normal(0, 1, n),
                        "logit_emo": 3 * labels[:, 1] - 1.5 + rng.normal(0, 1, n)})
    logits = np.array([[-4.0, -4.0], [0.0, 0.0], [4.0, 4.0]])
    rows = np.arange(200)
    q = calibrated_teacher(logits, oof, labels[rows], rows)
    assert q.shape == (3, 2) and (np.diff(q, axis=0) > 0).all() and q.min() > 0 and q.max() < 1
    # out-of-fold logits of rows outside ``rows`` cannot change the result
    oof2 = oof.copy()
    oof2.loc[oof2["row"] >= 200, ["logit_info", "logit_emo"]] *= -1
    np.testing.assert_allclose(calibrated_teacher(logits, oof2, labels[rows], rows), q)
    with pytest.raises(ValueError, match="rows 0..n-1"):
        calibrated_teacher(logits, oof.iloc[1:], labels[rows], rows)


def _fit(transfer: TransferSet | None, weight: float = 1.0) -> DisclosureDetector:
    texts, info, emo = zip(*FIXTURE)
    cfg = dataclasses.replace(SMALL, transfer_weight=weight, transfer_C_scale=1.0)  # same C with and without
    return DisclosureDetector(cfg, seed=0).fit(list(texts), info, emo, transfer=transfer)


def test_distillation_moves_the_student_towards_the_teacher():
    plain = _fit(None)
    student = _fit(TransferSet(TRANSFER, TEACHER, "test"))
    muted = _fit(TransferSet(TRANSFER, TEACHER, "test"), weight=0.0)  # transfer rows present but weightless
    np.testing.assert_allclose(muted.weights_[:, :2], plain.weights_[:, :2], atol=1e-3)
    probe = ["I love hiking with my dog every weekend."]
    p_plain = plain.predict(probe)["info_disclosure"].iloc[0]
    p_student = student.predict(probe)["info_disclosure"].iloc[0]
    assert p_student > p_plain
    meta = student.metadata_["distillation"]
    assert meta["teacher"] == "test" and meta["n_transfer"] == len(TRANSFER) and meta["transfer_weight"] == 1.0
    assert "distillation" not in plain.metadata_
    again = _fit(TransferSet(TRANSFER, TEACHER, "test"))
    np.testing.assert_array_equal(again.weights_, student.weights_)  # deterministic


def test_accurate_tier_refuses_transfer_rows():
    from reciprocity.detect.accurate.model import AccurateDetector

    with pytest.raises(ValueError, match="transfer rows"):
        AccurateDetector._fit_head(AccurateDetector.__new__(AccurateDetector), sp.csr_matrix(np.eye(2)),
                                   np.array([0, 1]), 1.0, (sp.csr_matrix(np.eye(2)), np.array([0.5, 0.5])))


def test_bundled_fast_tier_is_distilled_from_the_committed_teacher():
    meta = json.loads((ARTIFACT_DIR / "model.json").read_text())["metadata"]
    assert meta["distillation"]["teacher"] == "final" and meta["distillation"]["n_transfer"] > 100_000
    assert meta["teacher_logits_sha256"] == hashlib.sha256(TEACHER_FILE.read_bytes()).hexdigest()


@pytest.mark.skipif(not (SHARED / "topical_chat").is_dir(), reason="shared data not present")
def test_transfer_sentences_match_the_teacher_file():
    from reciprocity.detect import data as D
    from reciprocity.detect.text import as_series, normalise

    texts = D.load_transfer_sentences(SHARED)
    assert texts.is_unique and texts.is_monotonic_increasing and (texts.str.len() >= 8).all()
    assert not texts.isin(set(normalise(as_series(D.load_offmychest(SHARED)["text"])))).any()
    logits = load_teacher_logits(texts)
    assert sorted(logits) == ["final", "fold0", "fold1", "fold2", "fold3", "fold4"]
    assert all(v.shape == (len(texts), 2) and np.isfinite(v).all() for v in logits.values())


@pytest.mark.skipif(not (SHARED / "topical_chat").is_dir(), reason="shared data not present")
def test_transfer_set_calibrates_on_the_students_training_rows_only():
    from reciprocity.detect import data as D
    from reciprocity.detect.accurate.train import cv_folds
    from reciprocity.detect.distill import OOF_FILE, transfer_set

    omc = D.load_offmychest(SHARED)
    train_rows, held_out = cv_folds(omc["info"].to_numpy(), omc["emo"].to_numpy(), 5, 0)[0]
    fold = transfer_set(SHARED, "fold0", train_rows)
    assert fold.teacher == "fold0" and len(fold.texts) == len(fold.probs) > 100_000
    logits = load_teacher_logits(fold.texts)["fold0"]
    y = omc[["info", "emo"]].to_numpy()
    expected = calibrated_teacher(logits, pd.read_parquet(OOF_FILE), y[train_rows], train_rows)
    np.testing.assert_allclose(fold.probs, expected)
    # calibrating on every row (held-out fold included) gives different soft labels
    everything = calibrated_teacher(logits, pd.read_parquet(OOF_FILE), y, np.arange(len(omc)))
    assert np.abs(everything - fold.probs).max() > 1e-4
    with pytest.raises(ValueError, match="unknown teacher"):
        transfer_set(SHARED, "fold9", train_rows)
