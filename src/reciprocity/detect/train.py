"""Rebuild the bundled detector artefact from the shared data folder (deterministic for a given seed)."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import data as D
from .distill import OOF_FILE, TEACHER_FILE, transfer_set
from .model import ARTIFACT_DIR, DetectorConfig, DisclosureDetector


def _zscore(df: pd.DataFrame) -> pd.DataFrame:
    """``(target - mean) / sd`` within one intimacy source."""
    t = df["target"].astype(float)
    return df.assign(target=(t - t.mean()) / (t.std(ddof=0) or 1.0))


def fit_from_data(
    data_dir: Path,
    seed: int = 0,
    config: DetectorConfig | None = None,
    offmychest_rows: np.ndarray | None = None,
    tweet_exclude: np.ndarray | None = None,
    dev: pd.DataFrame | None = None,
    teacher: str | None = None,
) -> DisclosureDetector:
    """Fit a detector on OffMyChest (optionally a row subset) + question intimacy train + English tweets
    (optionally minus the rows where ``tweet_exclude`` is True) and, when ``dev`` (a :func:`.data.load_depth_dev`
    frame, or a subset of it) is given, the learned depth and topic models on it. ``teacher`` (``"final"``, or
    ``"fold{k}"`` for CV fold k's training rows) distils that accurate-tier teacher into the disclosure heads
    through the transfer set (:mod:`.distill`)."""
    omc = D.load_offmychest(data_dir)
    transfer = None if teacher is None else transfer_set(data_dir, teacher, offmychest_rows)
    if offmychest_rows is not None:
        omc = omc.iloc[offmychest_rows]
    q = D.load_questions(data_dir)
    tw = D.load_tweets(data_dir)
    if tweet_exclude is not None:
        tw = tw[~np.asarray(tweet_exclude, dtype=bool)]
    # z-score within each source so that the source itself (question vs tweet) carries no intimacy
    inti = pd.concat([_zscore(q), _zscore(tw)], ignore_index=True)
    return DisclosureDetector(config, seed=seed).fit(
        omc["text"], omc["info"], omc["emo"], intimacy_texts=inti["text"], intimacy_scores=inti["target"],
        metadata={"n_questions": int(len(q)), "n_tweets_en": int(len(tw))},
        depth_texts=None if dev is None else dev["text"],
        depth_layers=None if dev is None else dev["layer"],
        depth_topics=None if dev is None else dev["topics"],
        transfer=transfer,
    )


def train_detector(
    data_dir: Path, out_dir: Path | None = None, seed: int = 0, dev_path: Path | None = None, distill: bool = True,
) -> dict[str, Any]:
    """Train on ``data_dir`` plus the depth development set (``dev_path``, default the repository's
    ``bench/data/depth_dev.csv``, all rows) and write the artefact to ``out_dir`` (default: the bundled folder).
    ``distill``: also learn from the accurate tier's final teacher on the transfer set (:mod:`.distill`; needs
    the conversation corpora in ``data_dir`` and ``bench/results/transfer_teacher_logits.npz``).

    Returns the metrics dict stored in the artefact (out-of-fold macro-F1 at the chosen thresholds, ECE,
    thresholds, sizes, data hash). Raises ``FileNotFoundError`` naming the first missing data file.
    """
    data_dir = Path(data_dir)
    files = (*D.TRAINING_FILES, *(D.TRANSFER_FILES if distill else ()))
    for rel in files:
        D._require(data_dir, rel)
    dev = D.load_depth_dev(dev_path)
    t0 = time.perf_counter()
    det = fit_from_data(data_dir, seed=seed, dev=dev, teacher="final" if distill else None)
    det.metadata_.update(
        {
            "depth_dev_sha256": hashlib.sha256(Path(dev_path or D.DEPTH_DEV).read_bytes()).hexdigest(),
            "depth_dev_rows": int(len(dev)),
            "training_data_sha256": D.data_hash(data_dir, files),
            "training_files": [str(p) for p in files],
            **({"teacher_logits_sha256": hashlib.sha256(TEACHER_FILE.read_bytes()).hexdigest(),
                "teacher_oof_sha256": hashlib.sha256(OOF_FILE.read_bytes()).hexdigest()} if distill else {}),
            "seed": seed,
        }
    )
    out = det.save(Path(out_dir) if out_dir is not None else ARTIFACT_DIR)
    return {
        **det.metadata_,
        "thresholds": dict(det.thresholds_),
        "artifact_dir": str(out),
        "train_seconds": round(time.perf_counter() - t0, 1),
    }
