"""Teacher logits on the distillation transfer set (needs the ``train`` extra: torch + transformers).

For the fast tier's distillation (``reciprocity.detect.distill``): the fine-tuned MiniLM of the accurate tier
scores every sentence of :func:`reciprocity.detect.data.load_transfer_sentences`. Six teachers, all with the
recipe of ``finetune.cross_validated_logits`` / ``train_fine_tuned`` (same seeds, so they are the models behind
``bench/results/accurate_finetune_oof.parquet`` and the shipped encoder): one per CV fold (fine-tuned on the other
four folds; used by ``bench/detector.py`` so that the fast tier's held-out fold never influenced its teacher) and
the final one on every row (used by ``train_detector``). Writes ``bench/results/transfer_teacher_logits.npz``
(``logits`` float16 ``[6, n, 2]``: folds 0-4 then final; ``texts_sha256`` of the transfer sentences).
Per-teacher logits are cached in ``--build`` (about 8 minutes per teacher on 2 cores)::

    training/.venv/bin/python training/score_transfer.py --data ../shared/data
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from reciprocity.detect import data as D  # noqa: E402
from reciprocity.detect.accurate import finetune as F  # noqa: E402
from reciprocity.detect.accurate.train import cv_folds  # noqa: E402
from reciprocity.detect.distill import TEACHER_FILE, texts_sha256  # noqa: E402
from reciprocity.detect.text import as_series, normalise  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--build", type=Path, default=ROOT / "training" / "build")
    ap.add_argument("--out", type=Path, default=TEACHER_FILE)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(2)
    cfg = F.FineTuneConfig()
    tok = F.base_model_dir() / "tokenizer.json"
    omc = D.load_offmychest(args.data)
    x = normalise(as_series(omc["text"])).reset_index(drop=True)
    y = omc[["info", "emo"]].to_numpy()
    transfer = D.load_transfer_sentences(args.data)
    sha = texts_sha256(transfer)
    print(f"{len(transfer)} transfer sentences, sha256 {sha[:12]}", flush=True)
    folds = cv_folds(y[:, 0], y[:, 1], cfg.n_splits, 0)
    jobs = [(f"fold{k}", tr, k) for k, (tr, _) in enumerate(folds)] + [("final", np.arange(len(x)), 0)]
    out = []
    for name, rows, seed in jobs:
        cache = args.build / f"transfer_{name}_{sha[:12]}.npy"
        if not cache.is_file():
            t0 = time.perf_counter()
            model = F.fine_tune(x.iloc[rows].tolist(), y[rows], tok, cfg, seed=seed)
            args.build.mkdir(parents=True, exist_ok=True)
            np.save(cache, F.logits(model, transfer.tolist(), tok, cfg.max_tokens).astype(np.float32))
            print(f"{name}: {time.perf_counter() - t0:.0f} s", flush=True)
        out.append(np.load(cache))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    # float16: soft labels need no more precision, and the file stays small (~2.5 MB)
    np.savez_compressed(args.out, logits=np.stack(out).astype(np.float16), texts_sha256=np.array(sha), names=np.array([j[0] for j in jobs]))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
