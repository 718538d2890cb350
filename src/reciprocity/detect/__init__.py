"""Fast-tier self-disclosure detector (no deep learning, no network).

``detect(texts)`` codes utterances with the bundled artefact: ``info_disclosure`` and ``emo_disclosure``
probabilities, ``disclosure``, continuous ``depth`` (0..3), ``layer`` (0..3) and Altman–Taylor ``topics``
(THEORY §2). ``DisclosureDetector`` is the estimator; ``train_detector`` rebuilds the artefact from the shared
data. See docs/model-card.md.
"""

from __future__ import annotations

from .model import DetectorConfig, DisclosureDetector, detect
from .train import train_detector

__all__ = ["DetectorConfig", "DisclosureDetector", "detect", "train_detector"]
