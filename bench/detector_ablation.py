#!/usr/bin/env python
"""What else was tried for the OffMyChest disclosure classifiers (an ablation, mostly negative results).

Every variant is scored on the same seeded 5-fold stratified split of ``offmychest/train.csv`` (strata = info x
emo). To compare *representations* cheaply, the decision threshold is the one maximising macro-F1 on the pooled
out-of-fold scores — an optimistic upper bound for every variant alike; the real pipelines (bench/detector.py,
bench/encoder_speed.py) learn thresholds inside each training fold and score a little lower.

Variants:

* ``ngram_lr`` — the fast tier's hashed word + char n-gram tf-idf features, L2 logistic regression (C 0.1 / 0.3);
* ``static_lr`` — model2vec-style static embeddings distilled from the base (not fine-tuned) int8 MiniLM: every WordPiece token
  embedded alone (``[CLS] token [SEP]``, masked mean of each of the 7 hidden states), a sentence = the mean of its
  tokens' vectors; standardised, logistic regression (C 0.003);
* ``ngram_plus_static`` — 0.7 x z(n-gram logit) + 0.3 x z(static logit);
* ``minilm_lr_C0.01`` / ``minilm_lr_C0.001`` — contextual MiniLM layer means 1–6, logistic regression;
* ``minilm_mlp`` — the same features, one 256-unit hidden layer (alpha 1, early stopping), both labels jointly.

    .venv/bin/python bench/detector_ablation.py [--data ../shared/data] [--seed 0]

Needs the ``accurate`` extra. Writes bench/results/detector_ablation.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from reciprocity.detect import data as D  # noqa: E402
from reciprocity.detect.accurate.encoder import OnnxEncoder  # noqa: E402
from reciprocity.detect.accurate.model import ARTIFACT_DIR, TOKENIZER_FILE  # noqa: E402
from reciprocity.detect.calibration import macro_f1_curve  # noqa: E402
from reciprocity.detect.features import Featurizer  # noqa: E402
from reciprocity.detect.text import as_series, normalise  # noqa: E402

LABELS = ("info", "emo")
#: the base (not fine-tuned) all-MiniLM-L6-v2 int8 graph, written by ``training/train_accurate.py --frozen``
BASE_ENCODER = ROOT / "training" / "build" / "encoder.base.int8.onnx"


def best_macro_f1(y: np.ndarray, score: np.ndarray) -> float:
    return float(macro_f1_curve(y, score)[1].max())


def static_token_vectors(encoder: OnnxEncoder, batch: int = 512) -> np.ndarray:
    """``[vocab, 7 * 384]``: each WordPiece token run alone through the encoder (layer means 0–6)."""
    vocab = encoder.tokenizer.get_vocab()
    cls, sep, size = vocab["[CLS]"], vocab["[SEP]"], len(vocab)
    out = np.zeros((size, 7, 384), dtype=np.float32)
    for start in range(0, size, batch):
        ids = np.arange(start, min(size, start + batch))
        arr = np.stack([np.full(len(ids), cls), ids, np.full(len(ids), sep)], axis=1).astype(np.int64)
        out[ids] = encoder.session.run(["layer_means"], {"input_ids": arr, "attention_mask": np.ones_like(arr)})[0]
    return out.reshape(size, -1)


def static_sentences(encoder: OnnxEncoder, vectors: np.ndarray, texts: list[str]) -> np.ndarray:
    """Mean of the static vectors of each text's tokens (no special tokens); zeros for an empty text."""
    ids = [e.ids for e in encoder.tokenizer.encode_batch(texts, add_special_tokens=False)]
    lengths = np.array([len(x) for x in ids])
    flat = np.concatenate([np.asarray(x, dtype=np.int64) for x in ids]) if lengths.sum() else np.zeros(0, np.int64)
    row = np.repeat(np.arange(len(ids)), lengths)
    sums = np.zeros((len(ids), vectors.shape[1]), dtype=np.float64)
    np.add.at(sums, row, vectors[flat])
    return (sums / np.maximum(lengths, 1)[:, None]).astype(np.float32)


def oof_linear(X, Y: np.ndarray, splits, C: tuple[float, float], scale: bool) -> np.ndarray:
    """Out-of-fold decision scores of one class-balanced L2 logistic regression per label."""
    out = np.zeros(Y.shape)
    for train, test in splits:
        A, B = X[train], X[test]
        if scale:
            sc = StandardScaler().fit(A)
            A, B = sc.transform(A), sc.transform(B)
        for j in range(Y.shape[1]):
            m = LogisticRegression(C=C[j], max_iter=3000, class_weight="balanced").fit(A, Y[train, j])
            out[test, j] = m.decision_function(B)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "detector_ablation.json")
    args = ap.parse_args()
    t_start = time.perf_counter()
    omc = D.load_offmychest(args.data)
    texts = normalise(as_series(omc["text"])).tolist()
    Y = omc[list(LABELS)].to_numpy()
    splits = list(StratifiedKFold(5, shuffle=True, random_state=args.seed).split(texts, Y[:, 0] * 2 + Y[:, 1]))
    if not BASE_ENCODER.is_file():  # the shipped encoder is fine-tuned on these labels: not a frozen feature
        sys.exit(f"{BASE_ENCODER} not found: build the base encoder with "
                 "training/.venv/bin/python training/train_accurate.py --frozen --out /tmp/base-accurate")
    encoder = OnnxEncoder(BASE_ENCODER, ARTIFACT_DIR / TOKENIZER_FILE, batch_size=128)
    scores: dict[str, np.ndarray] = {}

    t0 = time.perf_counter()
    out = np.zeros(Y.shape)
    for train, test in splits:
        feat = Featurizer()
        A = feat.fit_transform([texts[i] for i in train])
        B = feat.transform([texts[i] for i in test])
        for j, C in enumerate((0.1, 0.3)):
            out[test, j] = LogisticRegression(C=C, max_iter=3000, class_weight="balanced").fit(A, Y[train, j]).decision_function(B)
    scores["ngram_lr"] = out
    print(f"ngram_lr {time.perf_counter() - t0:.0f} s", flush=True)

    t0 = time.perf_counter()
    S = static_sentences(encoder, static_token_vectors(encoder), texts)
    scores["static_lr"] = oof_linear(S, Y, splits, (0.003, 0.003), scale=True)
    z = lambda v: (v - v.mean(axis=0)) / v.std(axis=0)  # noqa: E731
    scores["ngram_plus_static"] = 0.7 * z(scores["ngram_lr"]) + 0.3 * z(scores["static_lr"])
    print(f"static {time.perf_counter() - t0:.0f} s", flush=True)

    t0 = time.perf_counter()
    E = encoder.encode(texts, layers="all")[:, 1:, :].reshape(len(texts), -1)
    for C in (0.01, 0.001):
        scores[f"minilm_lr_C{C}"] = oof_linear(E, Y, splits, (C, C), scale=True)
    out = np.zeros(Y.shape)
    for train, test in splits:
        sc = StandardScaler().fit(E[train])
        mlp = MLPClassifier((256,), alpha=1.0, early_stopping=True, random_state=args.seed, max_iter=200)
        out[test] = mlp.fit(sc.transform(E[train]), Y[train]).predict_proba(sc.transform(E[test]))
    scores["minilm_mlp"] = out
    print(f"minilm {time.perf_counter() - t0:.0f} s", flush=True)

    table = {name: {lab: round(best_macro_f1(Y[:, j], s[:, j]), 4) for j, lab in enumerate(LABELS)}
             for name, s in scores.items()}
    result = {
        "seed": args.seed, "folds": 5, "n_sentences": int(len(texts)),
        "threshold": "best macro-F1 cut on pooled out-of-fold scores (optimistic upper bound, same for all variants)",
        "macro_f1": table, "runtime_seconds": round(time.perf_counter() - t_start, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    for name, row in table.items():
        print(f"{name:20s} info {row['info']:.3f}  emo {row['emo']:.3f}")
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
