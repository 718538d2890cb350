"""Self-disclosure detectors, in two tiers (see docs/model-card.md).

* ``fast`` (default): hashed n-gram logistic heads, intimacy-based depth, topic lexicon — NumPy/scikit-learn only;
* ``accurate``: all-MiniLM-L6-v2 sentence embeddings (int8 ONNX via onnxruntime) with calibrated heads stacked on
  the fast tier; needs ``pip install "reciprocity[accurate]"``.

``detect(texts, tier=...)`` codes utterances with the bundled artefact of that tier: ``info_disclosure`` and
``emo_disclosure`` probabilities, ``disclosure``, continuous ``depth`` (0..3), ``layer`` (0..3) and Altman–Taylor
``topics`` (THEORY §2). ``train_detector`` / ``train_accurate`` rebuild the artefacts from the shared data.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

import pandas as pd

from reciprocity.errors import InputError, Problem

from .model import DetectorConfig, DisclosureDetector
from .model import detect as detect_fast
from .train import train_detector

Tier = Literal["fast", "accurate"]
TIERS: tuple[str, ...] = ("fast", "accurate")


#: Prefix given to a table's own columns that share a name with a detector code (``detect`` on a table; the same
#: convention as :func:`reciprocity.analyze`).
KEPT_PREFIX = "input_"


def _codes(texts: Iterable[str] | pd.Series | str, tier: Tier, n_jobs: int) -> pd.DataFrame:
    if tier == "fast":
        return detect_fast(texts, n_jobs=n_jobs)
    if tier == "accurate":
        from .accurate import detect_accurate

        return detect_accurate(texts)
    raise ValueError(f"unknown tier '{tier}'; use one of {', '.join(TIERS)}")


def detect(
    texts: Iterable[str] | pd.Series | str | pd.DataFrame, tier: Tier = "fast", n_jobs: int = 1, text_column: str = "text"
) -> pd.DataFrame:
    """Disclosure codes with the bundled detector of ``tier``: for texts, one row per text (same index); for a
    table, the table with the codes appended as columns (its ``text_column`` is coded, missing text as empty).

    A table's own columns named like a code (e.g. human ``disclosure``/``depth`` codes) are kept, renamed with the
    prefix ``input_``, so nothing is lost. ``n_jobs`` (fast tier): worker processes for large batches (-1: every
    core); the accurate tier already runs onnxruntime on every core and ignores it."""
    if not isinstance(texts, pd.DataFrame):
        return _codes(texts, tier, n_jobs)
    table = texts
    if tier not in TIERS and tier in table.columns:
        raise ValueError(f"unknown tier {tier!r}; to code the column {tier!r}, pass text_column={tier!r}")
    if text_column not in table.columns:
        raise InputError(Problem("<table>", "header", text_column, "no such column"))
    codes = _codes(table[text_column].fillna("").astype(str), tier, n_jobs)
    return append_codes(table, codes)


def append_codes(table: pd.DataFrame, codes: pd.DataFrame, source: str = "<table>") -> pd.DataFrame:
    """``table`` with the detector ``codes`` (one row per table row, in order) appended as columns; the table's
    own columns named like a code are kept, renamed ``input_<name>`` (an error names ``source`` if that is taken)."""
    clash = [c for c in codes.columns if c in table.columns]
    taken = [KEPT_PREFIX + c for c in clash if KEPT_PREFIX + c in table.columns]
    if taken:
        raise InputError(Problem(source, "header", taken[0], f"cannot keep the table's own {clash} columns as "
                                 f"{[KEPT_PREFIX + c for c in clash]}: {taken} already exist; rename them first"))
    kept = table.rename(columns={c: KEPT_PREFIX + c for c in clash})
    return pd.concat([kept, codes.set_axis(table.index)], axis=1)


class _CallableModule(types.ModuleType):
    """``reciprocity.detect`` is this subpackage and, called, :func:`detect` — so ``reciprocity.detect(texts)``
    keeps working after the subpackage has been imported (which rebinds the package attribute to the module)."""

    def __call__(self, *args, **kwargs) -> pd.DataFrame:
        return detect(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule


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


__all__ = ["KEPT_PREFIX", "append_codes", "TIERS", "DetectorConfig", "DisclosureDetector", "Tier", "detect", "train", "train_detector"]
