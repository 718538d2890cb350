"""``AccurateDetector``: MiniLM sentence embeddings (int8 ONNX) + calibrated linear heads, same contract and output
schema as the fast tier's ``DisclosureDetector`` (THEORY §2).

The shipped artefact's encoder is fine-tuned on OffMyChest (:mod:`.finetune`): its 2-logit head on the last
layer's mean is kept as the info/emo head (:class:`TunedHead`), and steps 3–4 below run on out-of-fold logits of
the cross-validated fine-tuning instead of refitted scores. With a frozen encoder, per label (``info``, ``emo``):

1. features: masked mean of hidden states of all-MiniLM-L6-v2 (``config.layers``; 6 = the last layer, i.e. the
   sentence-transformers embedding before normalisation), concatenated and standardised;
2. an L2 logistic regression (class-balanced, strong regularisation) on those features;
3. stacking (``config.stack_ngrams``, late fusion): a hashed word/char n-gram logistic regression (the fast
   tier's features, :mod:`reciprocity.detect.features`, with this artefact's own idf and weights, so the fast
   tier can be retrained independently) gives a second decision score; a 2-input logistic regression on the two
   *out-of-fold* scores (k-fold, seeded) sets the fusion weights;
4. Platt calibration on the fused out-of-fold score; threshold maximising the label's binary macro-F1 on the
   out-of-fold calibrated probabilities; final models refit on all rows.

Depth, layer and topics reuse the fast tier's rules (:mod:`reciprocity.detect.depth`,
:mod:`reciprocity.detect.topics`) fed with these probabilities and with an intimacy ridge regression on the same
embeddings. Utterances are split into sentences like the fast tier; the utterance takes the max over sentences
(probabilities, depth) and the union of topics.

Artefact (``artifacts/accurate/``): ``encoder.int8.onnx`` + ``tokenizer.json`` (built by
``training/train_accurate.py``), ``heads.npz`` (float32 arrays, no pickle) + ``heads.json``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression, Ridge

from ..base import LABELS, ConfigJSON, SentenceDetector, _logreg as _base_logreg, _write_npz, bundled, read_meta
from ..base import require_files, write_meta
from ..calibration import choose_threshold, expected_calibration_error, macro_f1, platt_apply, platt_fit
from ..depth import G_CORE, W_EMOTION, W_INTIMACY, expected_depth, layer_from_conditional_depth
from ..features import FeatureConfig, Featurizer
from ..text import as_series, normalise
from .encoder import OnnxEncoder

ARTIFACT_DIR = Path(__file__).resolve().parents[1] / "artifacts" / "accurate"
ENCODER_FILE = "encoder.int8.onnx"
TOKENIZER_FILE = "tokenizer.json"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class AccurateConfig(ConfigJSON):
    """Hyper-parameters (chosen by 5-fold CV on OffMyChest; see training/README.md)."""

    layers: tuple[int, ...] = (1, 2, 3, 4, 5, 6)
    stack_ngrams: bool = True
    features: FeatureConfig = field(default_factory=FeatureConfig)
    C_info: float = 0.0005
    C_emo: float = 0.0005
    C_ngram_info: float = 0.1
    C_ngram_emo: float = 0.3
    n_folds: int = 5
    ridge_alpha: float = 30.0
    intimacy_quantiles: tuple[float, float] = (0.05, 0.95)
    w_intimacy: float = W_INTIMACY
    w_emotion: float = W_EMOTION
    g_core: float = G_CORE
    max_tokens: int = 128
    batch_size: int = 64

    _json_tuples = {"layers": lambda v: tuple(int(x) for x in v), "intimacy_quantiles": tuple}


def _logreg(C: float) -> LogisticRegression:
    return _base_logreg(C, max_iter=5000, tol=1e-5)


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class EmbeddingCache:
    """Precomputed ``[n, 7, 384]`` layer means keyed by (normalised) text; used by training and CV so that the
    encoder runs once per distinct sentence."""

    def __init__(self, texts: Iterable[str], layer_means: np.ndarray):
        self.index = pd.Index(list(texts))
        if not self.index.is_unique:
            raise ValueError("EmbeddingCache texts must be unique")
        self.E = layer_means

    def lookup(self, texts: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        pos = self.index.get_indexer(texts.to_numpy(dtype=object))
        return pos, self.E


@dataclass(frozen=True)
class TunedHead:
    """The linear head of a fine-tuned encoder (``logit = layer_means[:, 6] @ weight + bias``, columns info and
    emo) and the out-of-fold logits ``[n, 2]`` of the training sentences (in training order)."""

    weight: np.ndarray
    bias: np.ndarray
    oof_logits: np.ndarray

    def check(self, n: int, layers: tuple[int, ...]) -> None:
        if self.weight.shape != (384, 2) or self.bias.shape != (2,):
            raise ValueError("TunedHead.weight must be [384, 2] and bias [2]")
        if self.oof_logits.shape != (n, 2):
            raise ValueError(f"TunedHead.oof_logits must be [{n}, 2] (one row per training sentence)")
        if 6 not in layers:
            raise ValueError("a fine-tuned head needs layer 6 among AccurateConfig.layers")


class AccurateDetector(SentenceDetector):
    """Scikit-learn-like estimator. ``fit`` -> ``predict``/``transform`` -> frame with ``CODE_COLUMNS``."""

    _name = "AccurateDetector"
    _fitted_attr = "dense_"
    _head_logreg = staticmethod(_logreg)
    hidden = 384

    def __init__(
        self,
        config: AccurateConfig | None = None,
        seed: int = 0,
        encoder_dir: str | Path | None = None,
        threads: int | None = None,
    ):
        super().__init__(config or AccurateConfig(), seed)
        self.config: AccurateConfig
        self.encoder_dir = Path(encoder_dir) if encoder_dir is not None else ARTIFACT_DIR
        self.threads = threads
        self._encoder: OnnxEncoder | None = None
        self.cache: EmbeddingCache | None = None
        self.mu_: np.ndarray | None = None
        self.sd_: np.ndarray | None = None
        self.dense_: np.ndarray | None = None  # (d, 3): info, emo, intimacy (on standardised features)
        self.fuse_: np.ndarray = np.array([[1.0, 0.0], [1.0, 0.0]])  # per label: weight of embedding, n-gram score
        self.ngram_: np.ndarray | None = None  # (n_features, 2) n-gram weights, info, emo
        self.ngram_b_: np.ndarray = np.zeros(2)

    # -------------------------------------------------------------- encoder
    @property
    def encoder(self) -> OnnxEncoder:
        if self._encoder is None:
            onnx_path = self.encoder_dir / ENCODER_FILE
            tok_path = self.encoder_dir / TOKENIZER_FILE
            require_files((onnx_path, tok_path), "accurate-tier encoder", "run training/train_accurate.py")
            self._encoder = OnnxEncoder(
                onnx_path, tok_path, max_tokens=self.config.max_tokens, batch_size=self.config.batch_size,
                threads=self.threads,
            )
        return self._encoder

    def embed(self, sentences: pd.Series) -> np.ndarray:
        """``[n, 7, 384]`` layer means for normalised sentences (cache first, encoder for the rest)."""
        n = len(sentences)
        if self.cache is None:
            return self.encoder.encode(sentences.tolist(), layers="all")
        pos, E = self.cache.lookup(sentences)
        out = np.empty((n,) + E.shape[1:], dtype=np.float32)
        hit = pos >= 0
        out[hit] = E[pos[hit]]
        if (~hit).any():
            out[~hit] = self.encoder.encode(sentences[~hit].tolist(), layers="all")
        return out

    def _dense(self, layer_means: np.ndarray) -> np.ndarray:
        return np.concatenate([layer_means[:, k, :] for k in self.config.layers], axis=1).astype(np.float64)

    def _standardise(self, X: np.ndarray) -> np.ndarray:
        assert self.mu_ is not None and self.sd_ is not None
        return (X - self.mu_) / self.sd_

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        texts: Iterable[str] | pd.Series,
        info_labels: Iterable[int],
        emo_labels: Iterable[int],
        intimacy_texts: Iterable[str] | None = None,
        intimacy_scores: Iterable[float] | None = None,
        metadata: dict[str, Any] | None = None,
        tuned: TunedHead | None = None,
    ) -> AccurateDetector:
        """Fit the heads on labelled sentences (0/1) and optional intimacy data (any real scale, higher = more
        intimate). Deterministic for a given ``seed``.

        With a frozen encoder (``tuned=None``) the disclosure heads are logistic regressions on the layer means.
        With an encoder fine-tuned on these sentences (``tuned``, see :mod:`.finetune`) the disclosure heads are the
        fine-tuned linear head, and fusion, Platt calibration and thresholds are learnt from ``tuned.oof_logits``
        (out-of-fold logits from models that did not see the row) — refitting on the fine-tuned embeddings would
        reuse labels the encoder has already seen.

        ``metadata_['cv']`` holds out-of-fold figures at thresholds chosen on those same out-of-fold predictions
        (slightly optimistic); ``bench/encoder_speed.py`` / ``cross_validate`` / ``cv_from_oof`` give the nested
        figures.
        """
        cfg = self.config
        x_text, y, i_text, i_y = self._fit_inputs(texts, info_labels, emo_labels, intimacy_texts, intimacy_scores)
        if tuned is not None:
            tuned.check(len(x_text), cfg.layers)

        X = self._dense(self.embed(x_text))
        self.mu_ = X.mean(axis=0)
        self.sd_ = X.std(axis=0) + 1e-6
        Z = self._standardise(X)
        d = Z.shape[1]
        dense = np.zeros((d, 3), dtype=np.float64)
        b = np.zeros(3, dtype=np.float64)
        fuse = np.zeros((2, 2), dtype=np.float64)
        cv_metrics: dict[str, Any] = {}

        ngram_scores: dict[str, np.ndarray] = {}
        if cfg.stack_ngrams:
            self.featurizer = Featurizer(cfg.features)
            Xn = self.featurizer.fit_transform(x_text)
            self.ngram_ = np.zeros((Xn.shape[1], 2), dtype=np.float32)
            for j, label in enumerate(LABELS):
                C = cfg.C_ngram_info if label == "info" else cfg.C_ngram_emo
                yy = y[label]
                ngram_scores[label] = self._oof_scores(Xn, yy, C, self.seed + 1)
                m = _logreg(C).fit(Xn, yy)
                self.ngram_[:, j] = m.coef_.ravel().astype(np.float32)
                self.ngram_b_[j] = float(m.intercept_[0])
        else:
            self.ngram_ = None

        for j, label in enumerate(LABELS):
            C = cfg.C_info if label == "info" else cfg.C_emo
            yy = y[label]
            s_emb = self._oof_scores(Z, yy, C, self.seed) if tuned is None else tuned.oof_logits[:, j]
            if cfg.stack_ngrams:
                # late fusion: a 2-input logistic regression on the two out-of-fold decision scores
                S = np.column_stack([s_emb, ngram_scores[label]])
                fuse[j] = LogisticRegression(C=1e4, solver="lbfgs", max_iter=1000).fit(S, yy).coef_.ravel()
                oof = S @ fuse[j]
            else:
                fuse[j] = (1.0, 0.0)
                oof = s_emb
            p_oof, thr, f1 = self._calibrate(label, yy, oof)
            cv_metrics[label] = {
                "oof_macro_f1_at_threshold": f1,
                "oof_macro_f1_at_0.5": macro_f1(yy, p_oof >= 0.5),
                "oof_macro_f1_embeddings_only": choose_threshold(yy, platt_apply(s_emb, *platt_fit(s_emb, yy)))[1],
                "oof_ece": expected_calibration_error(yy, p_oof),
                "threshold": thr,
                "positive_rate": float(yy.mean()),
                "C": C,
                "fusion_weights": [float(v) for v in fuse[j]],
            }
            if tuned is None:
                final = _logreg(C).fit(Z, yy)
                dense[:, j] = final.coef_.ravel()
                b[j] = float(final.intercept_[0])
            else:
                # logit = X_last @ W + bias = Z @ (W * sd) + (bias + W @ mu) on the last layer's block of Z
                block = slice(cfg.layers.index(6) * self.hidden, (cfg.layers.index(6) + 1) * self.hidden)
                dense[block, j] = tuned.weight[:, j] * self.sd_[block]
                b[j] = float(tuned.bias[j] + tuned.weight[:, j] @ self.mu_[block])
                cv_metrics[label]["C"] = None

        if len(i_text):
            Zi = self._standardise(self._dense(self.embed(i_text)))
            ridge = Ridge(alpha=cfg.ridge_alpha).fit(Zi, i_y)
            dense[:, 2] = ridge.coef_
            b[2] = float(ridge.intercept_)
        else:
            b[2] = 0.5
        self.dense_, self.intercepts_, self.fuse_ = dense, b, fuse
        self._finish_fit(Z @ dense[:, 2] + b[2], metadata, len(x_text), len(i_text), cv_metrics)
        return self

    # -------------------------------------------------------------- predict
    def raw_scores(self, sentences: pd.Series) -> np.ndarray:
        """``[n, 3]`` head outputs (info and emo decision scores, raw intimacy) for normalised sentences."""
        self._check_fitted()
        assert self.dense_ is not None and self.intercepts_ is not None
        Z = self._standardise(self._dense(self.embed(sentences)))
        raw = Z @ self.dense_ + self.intercepts_
        raw[:, :2] *= self.fuse_[:, 0]
        if self.config.stack_ngrams and self.ngram_ is not None:
            ng = np.asarray(self.featurizer.transform(sentences) @ self.ngram_, dtype=np.float64) + self.ngram_b_
            raw[:, :2] += ng * self.fuse_[:, 1]
        return raw

    def score_sentences(self, sentences: pd.Series) -> pd.DataFrame:
        """Sentence-level ``info_disclosure``, ``emo_disclosure``, ``intimacy`` ([0, 1]), ``core``,
        ``disclosure``, ``depth`` and ``depth_if_disclosure`` (same columns as the fast tier)."""
        self._check_fitted()
        s = normalise(as_series(sentences)).reset_index(drop=True)
        if len(s) == 0:
            return self._empty_scores()
        p_info, p_emo, inti = self._calibrated(self.raw_scores(s))
        disc, core, g = self._rule_inputs(s, p_info, p_emo, inti)
        return pd.DataFrame(
            {
                "info_disclosure": p_info,
                "emo_disclosure": p_emo,
                "intimacy": inti,
                "core": core,
                "disclosure": disc,
                "depth": expected_depth(p_info, p_emo, g),
                "depth_if_disclosure": 1.0 + 2.0 * g,
            }
        )

    def _sentence_layer_input(self, sent: pd.DataFrame) -> pd.Series:
        return sent["depth_if_disclosure"].where(sent["disclosure"], 0.0)

    def _utterance_disclosure_layer(
        self, g: Any, info: np.ndarray, emo: np.ndarray, layer_input: pd.Series, docs: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Thresholds on the utterance max probabilities; layer from the deepest disclosing sentence's
        conditional depth."""
        disclosure = (info >= self.thresholds_["info"]) | (emo >= self.thresholds_["emo"])
        return disclosure, layer_from_conditional_depth(layer_input.to_numpy(dtype=np.float64), disclosure)

    # ---------------------------------------------------------- persistence
    def save(self, directory: str | Path | None = None) -> Path:
        """Write ``heads.npz`` + ``heads.json`` into ``directory`` (default: the bundled artefact folder) and copy
        the encoder files there when they are not already present."""
        self._check_fitted()
        assert self.dense_ is not None and self.mu_ is not None
        d = Path(directory) if directory is not None else ARTIFACT_DIR
        d.mkdir(parents=True, exist_ok=True)
        for name in (ENCODER_FILE, TOKENIZER_FILE):
            src, dst = self.encoder_dir / name, d / name
            if src.resolve() != dst.resolve() and src.is_file():
                dst.write_bytes(src.read_bytes())
        arrays = {
            "mu": self.mu_.astype(np.float32),
            "sd": self.sd_.astype(np.float32),
            "dense": self.dense_.astype(np.float32),
        }
        if self.config.stack_ngrams and self.ngram_ is not None:
            assert self.featurizer.idf_word is not None and self.featurizer.idf_char is not None
            arrays.update(
                idf_word=self.featurizer.idf_word.astype(np.float32),
                idf_char=self.featurizer.idf_char.astype(np.float32),
                ngram=self.ngram_.astype(np.float32),
            )
        _write_npz(d / "heads.npz", arrays)
        enc = d / ENCODER_FILE
        meta = {
            **self._common_meta(FORMAT_VERSION, "reciprocity.detect.accurate.AccurateDetector"),
            "fusion": [[float(v) for v in row] for row in self.fuse_],
            "ngram_intercepts": [float(v) for v in self.ngram_b_],
            "columns": {"dense": ["info", "emo", "intimacy"], "ngram": ["info", "emo"]},
            "encoder_sha256": file_sha256(enc) if enc.is_file() else None,
        }
        write_meta(d / "heads.json", meta)
        return d

    @classmethod
    def load(cls, directory: str | Path | None = None, threads: int | None = None) -> AccurateDetector:
        """Load an artefact (``None``: the bundled one). No network; needs onnxruntime + tokenizers."""
        from .encoder import require_runtime

        require_runtime()
        d = Path(directory) if directory is not None else ARTIFACT_DIR
        jpath, npath = d / "heads.json", d / "heads.npz"
        require_files((jpath, npath, d / ENCODER_FILE, d / TOKENIZER_FILE), "accurate-tier artefact",
                      "run `reciprocity train --tier accurate`")
        meta = read_meta(jpath, FORMAT_VERSION)
        det = cls(AccurateConfig.from_json(meta["config"]), seed=int(meta.get("seed", 0)), encoder_dir=d,
                  threads=threads)
        with np.load(npath, allow_pickle=False) as z:
            det.mu_ = z["mu"].astype(np.float64)
            det.sd_ = z["sd"].astype(np.float64)
            det.dense_ = z["dense"].astype(np.float64)
            if det.config.stack_ngrams:
                det.featurizer.idf_word = z["idf_word"].astype(np.float32)
                det.featurizer.idf_char = z["idf_char"].astype(np.float32)
                det.ngram_ = z["ngram"].astype(np.float32)
        det._restore_common(meta)
        det.fuse_ = np.asarray(meta.get("fusion", [[1.0, 0.0], [1.0, 0.0]]), dtype=np.float64)
        det.ngram_b_ = np.asarray(meta.get("ngram_intercepts", [0.0, 0.0]), dtype=np.float64)
        return det


def default_accurate_detector() -> AccurateDetector:
    """The bundled accurate detector, loaded once per process."""
    return bundled(AccurateDetector)


def detect_accurate(texts: Iterable[str] | pd.Series | str, detector: AccurateDetector | None = None) -> pd.DataFrame:
    """Code utterances with the bundled (or given) accurate detector; see :meth:`AccurateDetector.predict`."""
    return (detector or default_accurate_detector()).predict(texts)
