"""``AccurateDetector``: MiniLM sentence embeddings (int8 ONNX) + calibrated linear heads, same contract and output
schema as the fast tier's ``DisclosureDetector`` (THEORY §2).

Per label (``info``, ``emo``):

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
import io
import json
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import StratifiedKFold

from reciprocity.schema import CODE_COLUMNS, TOPICS

from ..calibration import choose_threshold, expected_calibration_error, macro_f1, platt_apply, platt_fit
from ..depth import G_CORE, W_EMOTION, W_INTIMACY, closeness, core_hits, expected_depth, layer_from_conditional_depth
from ..depth import rescale_intimacy
from ..features import FeatureConfig, Featurizer
from ..text import as_series, normalise, split_sentences
from ..topics import topic_matrix
from .encoder import OnnxEncoder

ARTIFACT_DIR = Path(__file__).resolve().parents[1] / "artifacts" / "accurate"
ENCODER_FILE = "encoder.int8.onnx"
TOKENIZER_FILE = "tokenizer.json"
FORMAT_VERSION = 1
LABELS: tuple[str, str] = ("info", "emo")
_EMOTIONS = TOPICS.index("emotions")


@dataclass(frozen=True)
class AccurateConfig:
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

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["features"] = self.features.to_json()
        d["layers"] = list(self.layers)
        d["intimacy_quantiles"] = list(self.intimacy_quantiles)
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> AccurateConfig:
        d = dict(d)
        d["features"] = FeatureConfig.from_json(d["features"])
        d["layers"] = tuple(int(v) for v in d["layers"])
        d["intimacy_quantiles"] = tuple(d["intimacy_quantiles"])
        return cls(**d)


def _logreg(C: float) -> LogisticRegression:
    return LogisticRegression(C=C, class_weight="balanced", solver="lbfgs", max_iter=5000, tol=1e-5)


_new_empty_lists = np.frompyfunc(lambda _: [], 1, 1)


def _write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Byte-reproducible compressed npz (fixed timestamps, sorted members), readable with allow_pickle=False."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(arrays):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(arrays[name]), allow_pickle=False)
            info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, buf.getvalue())


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


class AccurateDetector:
    """Scikit-learn-like estimator. ``fit`` -> ``predict``/``transform`` -> frame with ``CODE_COLUMNS``."""

    def __init__(
        self,
        config: AccurateConfig | None = None,
        seed: int = 0,
        encoder_dir: str | Path | None = None,
        threads: int | None = None,
    ):
        self.config = config or AccurateConfig()
        self.seed = seed
        self.encoder_dir = Path(encoder_dir) if encoder_dir is not None else ARTIFACT_DIR
        self.threads = threads
        self._encoder: OnnxEncoder | None = None
        self.cache: EmbeddingCache | None = None
        self.featurizer = Featurizer(self.config.features)
        self.mu_: np.ndarray | None = None
        self.sd_: np.ndarray | None = None
        self.dense_: np.ndarray | None = None  # (d, 3): info, emo, intimacy (on standardised features)
        self.fuse_: np.ndarray = np.array([[1.0, 0.0], [1.0, 0.0]])  # per label: weight of embedding, n-gram score
        self.intercepts_: np.ndarray | None = None  # (3,)
        self.ngram_: np.ndarray | None = None  # (n_features, 2) n-gram weights, info, emo
        self.ngram_b_: np.ndarray = np.zeros(2)
        self.platt_: dict[str, tuple[float, float]] = {}
        self.thresholds_: dict[str, float] = {}
        self.intimacy_range_: tuple[float, float] = (0.0, 1.0)
        self.metadata_: dict[str, Any] = {}

    # -------------------------------------------------------------- encoder
    @property
    def encoder(self) -> OnnxEncoder:
        if self._encoder is None:
            onnx_path = self.encoder_dir / ENCODER_FILE
            tok_path = self.encoder_dir / TOKENIZER_FILE
            for p in (onnx_path, tok_path):
                if not p.is_file():
                    raise FileNotFoundError(
                        f"accurate-tier encoder file not found: {p} (run training/train_accurate.py)"
                    )
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
    ) -> AccurateDetector:
        """Fit the heads on labelled sentences (0/1) and optional intimacy data (any real scale, higher = more
        intimate). The encoder is fixed (not fine-tuned). Deterministic for a given ``seed``.

        ``metadata_['cv']`` holds out-of-fold figures at thresholds chosen on those same out-of-fold predictions
        (slightly optimistic); ``bench/encoder_speed.py`` / ``cross_validate`` give the nested figures.
        """
        cfg = self.config
        x_text = normalise(as_series(texts)).reset_index(drop=True)
        y = {"info": np.asarray(list(info_labels), dtype=int), "emo": np.asarray(list(emo_labels), dtype=int)}
        if not (len(x_text) == len(y["info"]) == len(y["emo"])):
            raise ValueError("texts, info_labels and emo_labels must have the same length")
        i_text = normalise(as_series(intimacy_texts if intimacy_texts is not None else [])).reset_index(drop=True)
        i_y = np.asarray(list(intimacy_scores) if intimacy_scores is not None else [], dtype=float)
        if len(i_text) != len(i_y):
            raise ValueError("intimacy_texts and intimacy_scores must have the same length")

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
                oof = np.zeros(len(yy))
                skf = StratifiedKFold(n_splits=cfg.n_folds, shuffle=True, random_state=self.seed + 1)
                for tr, te in skf.split(Xn, yy):
                    oof[te] = _logreg(C).fit(Xn[tr], yy[tr]).decision_function(Xn[te])
                ngram_scores[label] = oof
                m = _logreg(C).fit(Xn, yy)
                self.ngram_[:, j] = m.coef_.ravel().astype(np.float32)
                self.ngram_b_[j] = float(m.intercept_[0])
        else:
            self.ngram_ = None

        for j, label in enumerate(LABELS):
            C = cfg.C_info if label == "info" else cfg.C_emo
            yy = y[label]
            s_emb = np.zeros(len(yy))
            skf = StratifiedKFold(n_splits=cfg.n_folds, shuffle=True, random_state=self.seed)
            for tr, te in skf.split(Z, yy):
                s_emb[te] = _logreg(C).fit(Z[tr], yy[tr]).decision_function(Z[te])
            if cfg.stack_ngrams:
                # late fusion: a 2-input logistic regression on the two out-of-fold decision scores
                S = np.column_stack([s_emb, ngram_scores[label]])
                fuse[j] = LogisticRegression(C=1e4, solver="lbfgs", max_iter=1000).fit(S, yy).coef_.ravel()
                oof = S @ fuse[j]
            else:
                fuse[j] = (1.0, 0.0)
                oof = s_emb
            a, c = platt_fit(oof, yy)
            p_oof = platt_apply(oof, a, c)
            thr, f1 = choose_threshold(yy, p_oof)
            self.platt_[label], self.thresholds_[label] = (a, c), thr
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
            final = _logreg(C).fit(Z, yy)
            dense[:, j] = final.coef_.ravel()
            b[j] = float(final.intercept_[0])

        if len(i_text):
            Zi = self._standardise(self._dense(self.embed(i_text)))
            ridge = Ridge(alpha=cfg.ridge_alpha).fit(Zi, i_y)
            dense[:, 2] = ridge.coef_
            b[2] = float(ridge.intercept_)
        else:
            b[2] = 0.5
        self.dense_, self.intercepts_, self.fuse_ = dense, b, fuse
        raw = Z @ dense[:, 2] + b[2]
        lo, hi = np.quantile(raw, cfg.intimacy_quantiles) if len(raw) else (0.0, 1.0)
        self.intimacy_range_ = (float(lo), float(hi))
        self.metadata_ = {**(metadata or {}), "n_sentences": int(len(x_text)), "n_intimacy": int(len(i_text)),
                          "cv": cv_metrics}
        return self

    # -------------------------------------------------------------- predict
    def _check_fitted(self) -> None:
        if self.dense_ is None or self.intercepts_ is None:
            raise RuntimeError("AccurateDetector is not fitted; call fit() or AccurateDetector.load()")

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
        cols = ("info_disclosure", "emo_disclosure", "intimacy", "core", "disclosure", "depth", "depth_if_disclosure")
        if len(s) == 0:
            z = np.zeros(0)
            return pd.DataFrame({c: z.astype(bool) if c in ("core", "disclosure") else z for c in cols})
        raw = self.raw_scores(s)
        p_info = platt_apply(raw[:, 0], *self.platt_["info"])
        p_emo = platt_apply(raw[:, 1], *self.platt_["emo"])
        inti = rescale_intimacy(raw[:, 2], *self.intimacy_range_)
        disc = (p_info >= self.thresholds_["info"]) | (p_emo >= self.thresholds_["emo"])
        core = core_hits(s)
        g = closeness(p_emo, inti, core, self.config.w_intimacy, self.config.w_emotion, self.config.g_core)
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

    def predict_sentences(self, texts: Iterable[str] | pd.Series) -> pd.DataFrame:
        """Sentence-level frame: ``doc`` (input position), ``sentence``, scores and a bool column per topic."""
        sents = split_sentences(as_series(texts))
        scored = self.score_sentences(sents["sentence"])
        out = pd.concat([sents.reset_index(drop=True), scored], axis=1)
        tm = np.zeros((len(out), len(TOPICS)), dtype=bool)
        disc = out["disclosure"].to_numpy(dtype=bool)
        if disc.any():
            tm[disc] = topic_matrix(out.loc[disc, "sentence"])
        tm[:, _EMOTIONS] |= disc & (out["emo_disclosure"].to_numpy() >= self.thresholds_["emo"])
        return pd.concat([out, pd.DataFrame(tm, columns=list(TOPICS))], axis=1)

    def predict(self, texts: Iterable[str] | pd.Series | str) -> pd.DataFrame:
        """One row per input with ``CODE_COLUMNS``; a Series input keeps its index."""
        self._check_fitted()
        src = as_series(texts)
        n = len(src)
        sent = self.predict_sentences(src)
        sent["cond"] = sent["depth_if_disclosure"].where(sent["disclosure"], 0.0)
        g = sent.groupby("doc", sort=True)
        agg = g[["info_disclosure", "emo_disclosure", "depth", "cond"]].max()
        full = agg.reindex(np.arange(n), fill_value=0.0)
        info = full["info_disclosure"].to_numpy(dtype=np.float64)
        emo = full["emo_disclosure"].to_numpy(dtype=np.float64)
        disclosure = (info >= self.thresholds_["info"]) | (emo >= self.thresholds_["emo"])
        depth = full["depth"].to_numpy(dtype=np.float64)
        tm = g[list(TOPICS)].any().reindex(np.arange(n), fill_value=False).to_numpy(dtype=bool)
        rows, cols = np.nonzero(tm)
        names = np.asarray(TOPICS, dtype=object)[cols]
        lists = pd.Series(names).groupby(rows).agg(list) if len(rows) else pd.Series(dtype=object)
        topics = lists.reindex(np.arange(n)).to_numpy(dtype=object)
        empty = np.flatnonzero(pd.isna(topics))
        if len(empty):
            topics[empty] = _new_empty_lists(np.arange(len(empty)))
        frame = pd.DataFrame(
            {
                "info_disclosure": info,
                "emo_disclosure": emo,
                "disclosure": disclosure,
                "depth": depth,
                "layer": layer_from_conditional_depth(full["cond"].to_numpy(dtype=np.float64), disclosure),
                "topics": topics,
            },
            index=src.index if isinstance(texts, pd.Series) else pd.RangeIndex(n),
        )
        return frame[list(CODE_COLUMNS)]

    transform = predict

    def fit_transform(self, texts, info_labels, emo_labels, **kw) -> pd.DataFrame:
        return self.fit(texts, info_labels, emo_labels, **kw).predict(texts)

    # ---------------------------------------------------------- persistence
    def save(self, directory: str | Path | None = None) -> Path:
        """Write ``heads.npz`` + ``heads.json`` into ``directory`` (default: the bundled artefact folder) and copy
        the encoder files there when they are not already present."""
        self._check_fitted()
        assert self.dense_ is not None and self.intercepts_ is not None and self.mu_ is not None
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
            "format_version": FORMAT_VERSION,
            "model": "reciprocity.detect.accurate.AccurateDetector",
            "seed": self.seed,
            "config": self.config.to_json(),
            "intercepts": [float(v) for v in self.intercepts_],
            "fusion": [[float(v) for v in row] for row in self.fuse_],
            "ngram_intercepts": [float(v) for v in self.ngram_b_],
            "platt": {k: list(v) for k, v in self.platt_.items()},
            "thresholds": dict(self.thresholds_),
            "intimacy_range": list(self.intimacy_range_),
            "columns": {"dense": ["info", "emo", "intimacy"], "ngram": ["info", "emo"]},
            "encoder_sha256": file_sha256(enc) if enc.is_file() else None,
            "metadata": self.metadata_,
        }
        (d / "heads.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        return d

    @classmethod
    def load(cls, directory: str | Path | None = None, threads: int | None = None) -> AccurateDetector:
        """Load an artefact (``None``: the bundled one). No network; needs onnxruntime + tokenizers."""
        from .encoder import require_runtime

        require_runtime()
        d = Path(directory) if directory is not None else ARTIFACT_DIR
        jpath, npath = d / "heads.json", d / "heads.npz"
        for p in (jpath, npath, d / ENCODER_FILE, d / TOKENIZER_FILE):
            if not p.is_file():
                raise FileNotFoundError(
                    f"accurate-tier artefact file not found: {p} (run `reciprocity train --tier accurate`)"
                )
        meta = json.loads(jpath.read_text(encoding="utf-8"))
        if int(meta.get("format_version", 0)) > FORMAT_VERSION:
            raise ValueError(f"{jpath}: artefact format {meta['format_version']} is newer than supported {FORMAT_VERSION}")
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
        det.intercepts_ = np.asarray(meta["intercepts"], dtype=np.float64)
        det.fuse_ = np.asarray(meta.get("fusion", [[1.0, 0.0], [1.0, 0.0]]), dtype=np.float64)
        det.ngram_b_ = np.asarray(meta.get("ngram_intercepts", [0.0, 0.0]), dtype=np.float64)
        det.platt_ = {k: (float(v[0]), float(v[1])) for k, v in meta["platt"].items()}
        det.thresholds_ = {k: float(v) for k, v in meta["thresholds"].items()}
        det.intimacy_range_ = (float(meta["intimacy_range"][0]), float(meta["intimacy_range"][1]))
        det.metadata_ = meta.get("metadata", {})
        return det


_DEFAULT: AccurateDetector | None = None


def default_accurate_detector() -> AccurateDetector:
    """The bundled accurate detector, loaded once per process."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = AccurateDetector.load()
    return _DEFAULT


def detect_accurate(texts: Iterable[str] | pd.Series | str, detector: AccurateDetector | None = None) -> pd.DataFrame:
    """Code utterances with the bundled (or given) accurate detector; see :meth:`AccurateDetector.predict`."""
    return (detector or default_accurate_detector()).predict(texts)


def as_cache(mapping: Mapping[str, np.ndarray]) -> EmbeddingCache:  # pragma: no cover - convenience
    keys = list(mapping)
    return EmbeddingCache(keys, np.stack([mapping[k] for k in keys]))
