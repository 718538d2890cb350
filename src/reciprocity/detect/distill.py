"""Distillation of the accurate tier into the fast tier: teacher soft labels on unlabelled conversation text.

The fast tier's n-gram logistic regressions see only 12,860 labelled Reddit sentences. The accurate tier's
fine-tuned MiniLM (the *teacher*) also scores ~114k unlabelled sentences of Topical-Chat, PersuasionForGood and
CaSiNo conversations (:func:`.data.load_transfer_sentences`); its Platt-calibrated probabilities ``q`` become
soft labels, and each head minimises

    C · [ Σ_gold w_y · logloss(y, f(x))  +  λ Σ_transfer ( q · w_1 · logloss(1, f(x)) + (1 - q) · w_0 · logloss(0, f(x)) ) ]
    + ½‖β‖²,    w_1 = 1 / (2 π), w_0 = 1 / (2 (1 - π)),

with ``π`` the gold positive rate (the class-balanced weights of the gold part carried over to the soft labels) and
``λ = DetectorConfig.transfer_weight``: with λ = 1 a transfer sentence weighs, on average over ``q``, about as much
as a gold one. Its soft cross-entropy
is written as two weighted rows (label 1 with weight ``q w_1 λ``, label 0 with weight ``(1 - q) w_0 λ``), so
scikit-learn's ``LogisticRegression`` fits it. (Hinton et al. 2015, *Distilling the knowledge in a neural network*.)

Teacher logits come from ``training/score_transfer.py`` (needs torch) and are committed as
``bench/results/transfer_teacher_logits.npz``: one teacher per CV fold of the accurate tier (fine-tuned without
that fold; ``bench/detector.py`` uses teacher k for its fold k) and the final one (the shipped encoder, used by
``train_detector``). Their Platt calibration is fitted on the out-of-fold logits of the accurate tier
(``bench/results/accurate_finetune_oof.parquet``) of the rows the student trains on.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..errors import InputError, Problem
from .base import LABELS
from .calibration import platt_apply, platt_fit

_ROOT = Path(__file__).resolve().parents[3]
#: teacher logits on the transfer set, written by ``training/score_transfer.py``
TEACHER_FILE = _ROOT / "bench" / "results" / "transfer_teacher_logits.npz"
#: out-of-fold logits of the accurate tier's CV fine-tuning (calibrate the teachers)
OOF_FILE = _ROOT / "bench" / "results" / "accurate_finetune_oof.parquet"
REBUILD_HINT = "rebuild it with: training/.venv/bin/python training/score_transfer.py --data <shared data> (training/README.md)"


def texts_sha256(texts: pd.Series) -> str:
    """SHA-256 of the newline-joined texts (pins the transfer set the teacher logits belong to)."""
    return hashlib.sha256("\n".join(texts.astype(str)).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class TransferSet:
    """Unlabelled sentences and the teacher's calibrated probabilities ``probs`` ``[n, 2]`` (info, emo)."""

    texts: pd.Series
    probs: np.ndarray
    teacher: str

    def __post_init__(self) -> None:
        if self.probs.shape != (len(self.texts), len(LABELS)):
            raise ValueError(f"transfer probabilities must be [{len(self.texts)}, {len(LABELS)}], got {self.probs.shape}")
        if not np.all(np.isfinite(self.probs)) or self.probs.min() < 0 or self.probs.max() > 1:
            raise ValueError("transfer probabilities must lie in [0, 1]")


def load_teacher_logits(texts: pd.Series, path: Path = TEACHER_FILE) -> dict[str, np.ndarray]:
    """Teacher name (``fold0`` … ``fold4``, ``final``) -> logits ``[n, 2]`` for ``texts`` (the transfer set).
    Raises ``FileNotFoundError`` / :class:`~reciprocity.errors.InputError` (with the rebuild command) when the file
    is missing or belongs to another transfer set."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"teacher logits not found: {path}; {REBUILD_HINT}")
    with np.load(path, allow_pickle=False) as z:
        logits, sha, names = z["logits"], str(z["texts_sha256"]), [str(n) for n in z["names"]]
    if sha != texts_sha256(texts) or logits.shape[1] != len(texts):
        raise InputError(Problem(str(path), "array 'logits'", "texts_sha256",
                                 f"the logits belong to another transfer set (sha256 {sha[:12]}, {logits.shape[1]} rows; "
                                 f"expected {texts_sha256(texts)[:12]}, {len(texts)} rows); {REBUILD_HINT}"))
    return {n: logits[i].astype(np.float64) for i, n in enumerate(names)}


def calibrated_teacher(logits: np.ndarray, oof: pd.DataFrame, labels: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Platt-calibrate teacher ``logits`` ``[n, 2]`` with (a, c) per label fitted on the out-of-fold logits of
    ``rows`` (positions in OffMyChest) against their 0/1 ``labels`` ``[len(rows), 2]``."""
    whole = oof[oof["piece"] < 0].set_index("row").sort_index()
    if not np.array_equal(whole.index.to_numpy(), np.arange(len(whole))) or len(whole) <= int(np.max(rows, initial=-1)):
        raise ValueError("out-of-fold logits must cover OffMyChest rows 0..n-1 once each (whole-row entries, piece -1)")
    out = np.empty_like(np.asarray(logits, dtype=np.float64))
    for j, label in enumerate(LABELS):
        a, c = platt_fit(whole[f"logit_{label}"].to_numpy()[rows], np.asarray(labels)[:, j])
        out[:, j] = platt_apply(logits[:, j], a, c)
    return out


def soft_label_design(
    X: sp.csr_matrix, y: np.ndarray, X_transfer: sp.csr_matrix, q: np.ndarray, weight: float
) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    """Rows, 0/1 targets and sample weights of the objective in the module docstring: the gold rows with
    class-balanced weights, then every transfer row twice (target 1 weight ``λ q w_1``, target 0 weight
    ``λ (1 - q) w_0``)."""
    y = np.asarray(y, dtype=int)
    pi = float(np.clip(y.mean(), 1e-6, 1 - 1e-6))
    w1, w0 = 0.5 / pi, 0.5 / (1.0 - pi)
    q = np.asarray(q, dtype=np.float64)
    rows = sp.vstack([X, X_transfer, X_transfer], format="csr")
    target = np.concatenate([y, np.ones(len(q), dtype=int), np.zeros(len(q), dtype=int)])
    sample_weight = np.concatenate([np.where(y == 1, w1, w0), weight * w1 * q, weight * w0 * (1.0 - q)])
    return rows, target, sample_weight


def transfer_set(data_dir: Path, teacher: str, rows: np.ndarray | None = None) -> TransferSet:
    """The transfer sentences with the soft labels of ``teacher`` (``final`` for the shipped model, ``fold{k}``
    for CV fold k), calibrated on the accurate tier's out-of-fold logits of the student's OffMyChest training
    ``rows`` (default: all)."""
    from . import data as D

    texts = D.load_transfer_sentences(data_dir)
    logits = load_teacher_logits(texts)
    if teacher not in logits:
        raise ValueError(f"unknown teacher {teacher!r}; {TEACHER_FILE} has {sorted(logits)}")
    if not OOF_FILE.is_file():
        raise FileNotFoundError(f"out-of-fold logits not found: {OOF_FILE} (training/README.md)")
    omc = D.load_offmychest(data_dir)
    rows = np.arange(len(omc)) if rows is None else np.asarray(rows)
    y = omc[list(LABELS)].to_numpy()[rows]
    return TransferSet(texts, calibrated_teacher(logits[teacher], pd.read_parquet(OOF_FILE), y, rows), teacher)
