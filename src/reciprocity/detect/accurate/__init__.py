"""Accurate-tier disclosure detector: all-MiniLM-L6-v2 fine-tuned on OffMyChest (int8 ONNX, run with onnxruntime +
tokenizers; no torch, no network), its head fused with the fast tier's n-gram score and calibrated.

Same contract and output schema as :class:`reciprocity.detect.DisclosureDetector` (THEORY §2). Needs the optional
runtime dependencies: ``pip install "reciprocity[accurate]"``. Importing this package works without them; loading
or fitting a detector raises ``ImportError`` with that hint. See training/README.md.
"""

from __future__ import annotations

from .encoder import INSTALL_HINT, require_runtime
from .model import AccurateConfig, AccurateDetector, default_accurate_detector, detect_accurate
from .train import cross_validate, train_accurate

__all__ = [
    "INSTALL_HINT",
    "AccurateConfig",
    "AccurateDetector",
    "cross_validate",
    "default_accurate_detector",
    "detect_accurate",
    "require_runtime",
    "train_accurate",
]
