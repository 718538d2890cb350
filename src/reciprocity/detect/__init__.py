"""Self-disclosure detectors, in two tiers (see docs/model-card.md).

* ``fast`` (default): hashed n-gram logistic heads, intimacy-based depth, topic lexicon — NumPy/scikit-learn only;
* ``accurate``: all-MiniLM-L6-v2 sentence embeddings (int8 ONNX via onnxruntime) with calibrated heads stacked on
  the fast tier; needs ``pip install "reciprocity[accurate]"``.

``detect(texts, tier=...)`` codes utterances with the bundled artefact of that tier: ``info_disclosure`` and
``emo_disclosure`` probabilities, ``disclosure``, continuous ``depth`` (0..3), ``layer`` (0..3) and Altman–Taylor
``topics`` (THEORY §2). ``train_detector`` / ``train_accurate`` rebuild the artefacts from the shared data.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Literal

import pandas as pd

from .model import DetectorConfig, DisclosureDetector
from .model import detect as detect_fast
from .train import train_detector

Tier = Literal["fast", "accurate"]
TIERS: tuple[str, ...] = ("fast", "accurate")


def detect(texts: Iterable[str] | pd.Series | str, tier: Tier = "fast", n_jobs: int = 1) -> pd.DataFrame:
    """Disclosure codes for texts with the bundled detector of ``tier`` (one row per text, same index).

    ``n_jobs`` (fast tier): worker processes for large batches (-1: every core); the accurate tier already runs
    onnxruntime on every core and ignores it."""
    if tier == "fast":
        return detect_fast(texts, n_jobs=n_jobs)
    if tier == "accurate":
        from .accurate import detect_accurate

        return detect_accurate(texts)
    raise ValueError(f"unknown tier '{tier}'; use one of {', '.join(TIERS)}")


def train(data_dir: Path, out_dir: Path | None = None, *, tier: Tier = "fast", seed: int = 0,
          distill: bool = True) -> dict:
    """Rebuild a tier's artefact from the shared data. The fast tier is distilled from the accurate tier's teacher
    logits (``distill``, :mod:`.distill`). The accurate tier fine-tunes MiniLM with cross-validation,
    exports it to int8 ONNX and fits its heads (:func:`.accurate.finetune.train_fine_tuned`; needs torch, the
    ``train`` extra, ~20 minutes on 2 cores); without torch it raises ``ImportError`` with the install hint."""
    if tier == "fast":
        return train_detector(data_dir, out_dir, seed=seed, distill=distill)
    if tier == "accurate":
        from .accurate.finetune import train_fine_tuned

        return train_fine_tuned(data_dir, out_dir, seed=seed)
    raise ValueError(f"unknown tier '{tier}'; use one of {', '.join(TIERS)}")


__all__ = ["TIERS", "DetectorConfig", "DisclosureDetector", "Tier", "detect", "train", "train_detector"]
