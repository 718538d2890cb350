"""``DisclosureDetector``: sentence-level informational / emotional disclosure, depth, layer and topics.

Pipeline (fit):

1. features: hashed word 1–2-grams + char_wb 2–5-grams, sublinear tf-idf, L2 per block (:mod:`.features`);
2. one L2-regularised logistic regression per label (class-balanced; ``C`` per label in the config);
3. out-of-fold (stratified k-fold, seeded) decision scores -> Platt calibration -> threshold maximising the
   label's binary macro-F1 on the out-of-fold probabilities (:mod:`.calibration`); final models refit on all data;
4. a ridge regression of intimacy (:mod:`.data`, :mod:`.depth`) on the same features;
5. (format 2, when the depth development set is given) a continuation-ratio ordinal depth model — three logistic
   regressions P(layer>=1), P(layer>=2 | >=1), P(layer=3 | >=2) on a few interpretable features (the calibrated
   probabilities, intimacy, core/peripheral/intermediate lexicons, person and question cues; :func:`.depth.depth_features`)
   plus a small hashed word-n-gram block — and a one-vs-rest logistic topic tagger on topic-lexicon hits + the same
   n-grams, both fitted on ``bench/data/depth_dev.csv``. Without that set, the theory-driven rule of :mod:`.depth`
   and the topic lexicons are used (format 1 behaviour).

Predict: utterances are split into sentences (vectorised), all sentences are scored with one sparse product
``X @ W``, and sentence results are aggregated to the utterance by max (probabilities, depth) and union (topics),
following THEORY §2. The artefact is ``model.npz`` (float32 arrays) + ``model.json`` (metadata), no pickle.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from joblib import Parallel, delayed, effective_n_jobs
from sklearn.linear_model import LogisticRegression, Ridge

from reciprocity.schema import TOPICS

from .base import LABELS, ConfigJSON, SentenceDetector, _logreg, _write_npz, bundled, read_meta, require_files
from .base import write_meta
from .calibration import expected_calibration_error, macro_f1
from .depth import (
    DEPTH_FEATURES,
    G_CORE,
    W_EMOTION,
    W_INTIMACY,
    expected_depth,
    depth_features,
    layer_from_conditional_depth,
    ordinal_depth,
)
from .distill import TransferSet, soft_label_design
from .features import SMALL_HASH_FEATURES, FeatureConfig, Featurizer, fold_binary, small_hasher
from .text import as_series, normalise
from .topics import topic_matrix

ARTIFACT_DIR = Path(__file__).resolve().parent / "artifacts"
FORMAT_VERSION = 2


@dataclass(frozen=True)
class DetectorConfig(ConfigJSON):
    """Hyper-parameters (chosen once by 5-fold CV on OffMyChest; see docs/model-card.md)."""

    features: FeatureConfig = field(default_factory=FeatureConfig)
    C_info: float = 0.1
    C_emo: float = 0.3
    n_folds: int = 5
    ridge_alpha: float = 1.0
    intimacy_quantiles: tuple[float, float] = (0.05, 0.95)
    w_intimacy: float = W_INTIMACY
    w_emotion: float = W_EMOTION
    g_core: float = G_CORE
    #: learned depth / topic models (chosen by 5-fold CV on the 70 % tuning part of the dev set)
    depth_C: float = 3.0
    depth_ngram_scale: float = 1.0
    topic_C: float = 3.0
    topic_threshold: float = 0.5
    n_features_small: int = SMALL_HASH_FEATURES
    #: λ of the distillation objective (:mod:`.distill`): weight of a transfer sentence relative to a gold one
    transfer_weight: float = 1.0
    #: with transfer rows the heads use ``C`` × this (~9× more sentences, less regularisation; from {1, 3, 10} on
    #: CV fold 0)
    transfer_C_scale: float = 3.0
    #: ``disclosure`` also requires the depth model's P(layer >= 1) >= 0.5 (only with a learned depth model)
    gate_with_depth: bool = True
    #: depth = (1 - a) * ordinal expected layer + a * format-1 rule depth; a chosen on dev OOF + question val
    depth_blend: float = 0.4

    _json_ignore_unknown = True


class DisclosureDetector(SentenceDetector):
    """Scikit-learn-like estimator. ``fit`` -> ``predict``/``transform`` -> frame with ``CODE_COLUMNS``."""

    _name = "DisclosureDetector"
    _fitted_attr = "weights_"

    def __init__(self, config: DetectorConfig | None = None, seed: int = 0):
        super().__init__(config or DetectorConfig(), seed)
        self.config: DetectorConfig
        self.weights_: np.ndarray | None = None  # (n_features, 3): info, emo, intimacy; intercepts_ (3,)
        # learned depth (3 ordinal steps) and topic (13) models; None -> rule-based depth and lexicon topics
        self.depth_weights_: np.ndarray | None = None  # (len(DEPTH_FEATURES) + n_small, 3)
        self.depth_intercepts_: np.ndarray | None = None  # (3,)
        self.topic_weights_: np.ndarray | None = None  # (len(TOPICS) + n_small, len(TOPICS))
        self.topic_intercepts_: np.ndarray | None = None  # (len(TOPICS),)

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        texts: Iterable[str] | pd.Series,
        info_labels: Iterable[int],
        emo_labels: Iterable[int],
        intimacy_texts: Iterable[str] | None = None,
        intimacy_scores: Iterable[float] | None = None,
        metadata: dict[str, Any] | None = None,
        depth_texts: Iterable[str] | None = None,
        depth_layers: Iterable[int] | None = None,
        depth_topics: Iterable[list[str]] | None = None,
        transfer: TransferSet | None = None,
    ) -> DisclosureDetector:
        """Fit on labelled sentences (0/1 labels) and optional intimacy data (real scores on any scale; higher =
        more intimate; ``train_detector`` z-scores each source). Deterministic for a given ``seed``.

        ``transfer`` (unlabelled sentences with a teacher's probabilities, :mod:`.distill`) adds soft-labelled rows
        to the disclosure heads (final fit and every inner fold); calibration and thresholds stay on the gold rows.

        Without intimacy data the intimacy weights are zero. With ``depth_texts``/``depth_layers``/``depth_topics``
        (the dev set) the learned depth and topic models are fitted too (:meth:`fit_depth_topics`); otherwise depth
        follows the rule of :mod:`.depth` and topics the lexicons. ``metadata_['cv']`` holds out-of-fold figures at thresholds chosen on those same
        out-of-fold predictions (slightly optimistic; bench/detector.py gives the unbiased nested figures).
        """
        cfg = self.config
        x_text, y, i_text, i_y = self._fit_inputs(texts, info_labels, emo_labels, intimacy_texts, intimacy_scores)

        self.featurizer = Featurizer(cfg.features)
        X_all = self.featurizer.fit_transform(pd.concat([x_text, i_text], ignore_index=True))
        X, X_int = X_all[: len(x_text)], X_all[len(x_text) :]
        X_transfer = self.featurizer.transform(transfer.texts) if transfer is not None else None
        n_feat = X.shape[1]
        W = np.zeros((n_feat, 3), dtype=np.float32)
        b = np.zeros(3, dtype=np.float64)
        cv_metrics: dict[str, Any] = {}
        for j, label in enumerate(LABELS):
            C = (cfg.C_info if label == "info" else cfg.C_emo) * (1.0 if transfer is None else cfg.transfer_C_scale)
            yy = y[label]
            soft = None if transfer is None else (X_transfer, transfer.probs[:, j])
            p_oof, thr, f1 = self._calibrate(label, yy, self._oof_scores(X, yy, C, self.seed, soft))
            cv_metrics[label] = {
                "oof_macro_f1_at_threshold": f1,
                "oof_macro_f1_at_0.5": macro_f1(yy, p_oof >= 0.5),
                "oof_ece": expected_calibration_error(yy, p_oof),
                "threshold": thr,
                "positive_rate": float(yy.mean()),
                "C": C,
            }
            final = self._fit_head(X, yy, C, soft)
            W[:, j] = final.coef_.ravel().astype(np.float32)
            b[j] = float(final.intercept_[0])

        if len(i_text):
            ridge = Ridge(alpha=cfg.ridge_alpha).fit(X_int, i_y)
            W[:, 2] = ridge.coef_.astype(np.float32)
            b[2] = float(ridge.intercept_)
        else:
            b[2] = 0.5
        self.weights_, self.intercepts_ = W, b
        if transfer is not None:
            metadata = {**(metadata or {}), "distillation": {
                "teacher": transfer.teacher, "n_transfer": int(len(transfer.texts)),
                "transfer_weight": cfg.transfer_weight, "transfer_C_scale": cfg.transfer_C_scale,
                "teacher_mean_probability": {k: round(float(v), 4) for k, v in zip(LABELS, transfer.probs.mean(axis=0))},
            }}
        self._finish_fit(np.asarray(X @ W[:, 2]).ravel() + b[2], metadata, len(x_text), len(i_text), cv_metrics)
        self.depth_weights_ = self.depth_intercepts_ = self.topic_weights_ = self.topic_intercepts_ = None
        if depth_texts is not None:
            if depth_layers is None or depth_topics is None:
                raise ValueError("depth_texts needs depth_layers and depth_topics")
            self.fit_depth_topics(depth_texts, depth_layers, depth_topics)
        return self

    def _fit_head(self, X: Any, yy: np.ndarray, C: float, transfer: Any = None) -> LogisticRegression:
        """One disclosure head: class-balanced :func:`_logreg` on the gold rows, or, with ``transfer``
        (``(X_transfer, q)``), the distillation objective of :mod:`.distill` on gold + soft-labelled rows."""
        if transfer is None:
            return super()._fit_head(X, yy, C)
        rows, target, weight = soft_label_design(X, yy, transfer[0], transfer[1], self.config.transfer_weight)
        # the class balance is inside ``weight``, so the head's own class weighting is switched off
        return _logreg(C).set_params(class_weight=None).fit(rows, target, sample_weight=weight)

    # ------------------------------------------------------- depth / topics
    def _base_scores(self, s: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Calibrated ``p_info``, ``p_emo`` and rescaled intimacy for normalised sentences."""
        return self._base_scores_and_counts(s)[0]

    def _base_scores_and_counts(self, s: pd.Series) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], sp.csr_matrix]:
        """:meth:`_base_scores` plus the hashed word n-gram counts (reused for the small n-gram block)."""
        assert self.weights_ is not None and self.intercepts_ is not None
        X, word_counts = self.featurizer.transform_with_word_counts(s)
        raw = np.asarray(X @ self.weights_, dtype=np.float64) + self.intercepts_
        return self._calibrated(raw), word_counts

    def _small_ngrams(self, s: pd.Series, word_counts: sp.csr_matrix | None) -> sp.csr_matrix:
        """The depth/topic n-gram block: folded from the word counts when the hashing spaces allow it (exactly the
        same matrix, one hashing pass fewer), else hashed again."""
        n_small, f = self.config.n_features_small, self.config.features
        if word_counts is not None and f.word_ngram == (1, 2) and f.n_features_word % n_small == 0:
            return fold_binary(word_counts, n_small)
        return small_hasher(n_small, f.token_pattern).transform(s)

    def _depth_topic_design(
        self, s: pd.Series, p_info: np.ndarray, p_emo: np.ndarray, inti: np.ndarray,
        word_counts: sp.csr_matrix | None = None,
    ) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        """Design matrices of the depth model ``[dense features, scale * n-grams]`` and of the topic model
        ``[lexicon hits, n-grams]``."""
        lex = topic_matrix(s).astype(np.float64)
        dense = depth_features(s, p_info, p_emo, inti, n_topic_hits=lex.sum(axis=1))
        H = self._small_ngrams(s, word_counts)
        Xd = sp.hstack([sp.csr_matrix(dense), H * self.config.depth_ngram_scale], format="csr")
        Xt = sp.hstack([sp.csr_matrix(lex), H], format="csr")
        return Xd, Xt

    def fit_depth_topics(
        self, texts: Iterable[str] | pd.Series, layers: Iterable[int], topics: Iterable[list[str]]
    ) -> DisclosureDetector:
        """Fit (only) the ordinal depth model and the topic tagger on labelled single sentences, keeping the
        disclosure classifiers and the intimacy regressor. Depth: three L2 logistic regressions (continuation
        ratio) ``P(d>=1)``, ``P(d>=2 | d>=1)``, ``P(d=3 | d>=2)``, each on the rows where it applies. Topics: one
        class-balanced L2 logistic per area on the disclosing rows (layer >= 1). Deterministic (lbfgs)."""
        self._check_fitted()
        cfg = self.config
        s = normalise(as_series(texts)).reset_index(drop=True)
        y = np.asarray(list(layers), dtype=int)
        tl = list(topics)
        if not (len(s) == len(y) == len(tl)):
            raise ValueError("texts, layers and topics must have the same length")
        Y = np.array([[t in set(ts) for t in TOPICS] for ts in tl], dtype=int).reshape(len(tl), len(TOPICS))
        base, word_counts = self._base_scores_and_counts(s)
        Xd, Xt = self._depth_topic_design(s, *base, word_counts=word_counts)
        Wd = np.zeros((Xd.shape[1], 3), dtype=np.float32)
        bd = np.zeros(3)
        for j, (rows, target) in enumerate(((y >= 0, y >= 1), (y >= 1, y >= 2), (y >= 2, y >= 3))):
            yy = target[rows].astype(int)
            if len(np.unique(yy)) < 2:  # degenerate (tiny fixtures): constant probability
                bd[j] = float(np.log((yy.mean() + 1e-3) / (1 - yy.mean() + 1e-3))) if len(yy) else 0.0
                continue
            m = LogisticRegression(C=cfg.depth_C, solver="lbfgs", max_iter=5000, tol=1e-6).fit(Xd[rows], yy)
            Wd[:, j], bd[j] = m.coef_.ravel().astype(np.float32), float(m.intercept_[0])
        disc = y >= 1
        Wt = np.zeros((Xt.shape[1], len(TOPICS)), dtype=np.float32)
        bt = np.full(len(TOPICS), -5.0)
        for j in range(len(TOPICS)):
            yy = Y[disc, j]
            if len(np.unique(yy)) < 2:
                continue
            m = LogisticRegression(C=cfg.topic_C, class_weight="balanced", solver="lbfgs", max_iter=5000, tol=1e-6)
            m.fit(Xt[disc], yy)
            Wt[:, j], bt[j] = m.coef_.ravel().astype(np.float32), float(m.intercept_[0])
        self.depth_weights_, self.depth_intercepts_ = Wd, bd
        self.topic_weights_, self.topic_intercepts_ = Wt, bt
        self.metadata_ = {**self.metadata_, "n_depth_dev": int(len(s)), "depth_features": list(DEPTH_FEATURES)}
        return self

    # -------------------------------------------------------------- predict
    #: below this many inputs ``predict(..., n_jobs=k)`` runs in-process (worker round trips would dominate)
    min_parallel_inputs: int = 1000

    def predict(self, texts: Iterable[str] | pd.Series | str, n_jobs: int = 1) -> pd.DataFrame:
        """One row per input with ``CODE_COLUMNS``; a Series input keeps its index.

        ``n_jobs > 1`` (or -1: every core) splits a large batch into contiguous chunks scored in joblib's loky
        worker processes (the scoring is pure-Python-heavy, so threads would not help); the detector is sent to
        the workers as it is in memory, and the result is identical to ``n_jobs=1``, in input order."""
        if n_jobs == 1 or isinstance(texts, str):
            return super().predict(texts)
        src = as_series(texts)  # consumes a one-pass iterable: use ``src`` from here on
        n_workers = min(effective_n_jobs(n_jobs), max(1, len(src) // max(1, self.min_parallel_inputs // 2)))
        if n_workers <= 1 or len(src) < self.min_parallel_inputs:
            parts = [super().predict(src)]
        else:
            bounds = np.linspace(0, len(src), n_workers + 1).astype(int)
            parts = Parallel(n_jobs=n_workers, backend="loky", max_nbytes=None)(
                delayed(SentenceDetector.predict)(self, src.iloc[a:b]) for a, b in zip(bounds[:-1], bounds[1:])
            )
        out = pd.concat(parts) if len(parts) > 1 else parts[0]
        if not isinstance(texts, pd.Series):
            out.index = pd.RangeIndex(len(src))
        return out

    transform = predict

    def score_sentences(self, sentences: pd.Series) -> pd.DataFrame:
        """Score already-split sentences: ``info_disclosure``, ``emo_disclosure``, ``intimacy`` (rescaled to
        [0, 1]), ``core`` (lexicon hit), ``disclosure``, ``depth`` (expected) and ``depth_if_disclosure``.
        One sparse matrix product for the whole batch (see :mod:`.depth` for the rule)."""
        self._check_fitted()
        s = normalise(as_series(sentences)).reset_index(drop=True)
        if len(s) == 0:
            out = self._empty_scores()
            out["layer"] = np.zeros(0, dtype=np.int64)
            return out
        (p_info, p_emo, inti), word_counts = self._base_scores_and_counts(s)
        disc, core, g = self._rule_inputs(s, p_info, p_emo, inti)
        if self.depth_weights_ is None or self.depth_intercepts_ is None:  # format-1 rule
            depth, cond = expected_depth(p_info, p_emo, g), 1.0 + 2.0 * g
            lay = layer_from_conditional_depth(cond, disc)
            topic_p = None
        else:
            Xd, Xt = self._depth_topic_design(s, p_info, p_emo, inti, word_counts)
            P = 1.0 / (1.0 + np.exp(-(np.asarray(Xd @ self.depth_weights_, dtype=np.float64) + self.depth_intercepts_)))
            # blend with the intimacy-based rule so that depth also ranks within a layer (e.g. questions)
            a = self.config.depth_blend
            depth = (1.0 - a) * ordinal_depth(P[:, 0], P[:, 1], P[:, 2]) + a * expected_depth(p_info, p_emo, g)
            cond = ordinal_depth(np.ones(len(s)), P[:, 1], P[:, 2])
            if self.config.gate_with_depth:  # screens out questions and third-person reports
                disc = disc & (P[:, 0] >= 0.5)
            lay = np.where(disc, 1 + (P[:, 1] >= 0.5) * (1 + (P[:, 2] >= 0.5)), 0).astype(np.int64)
            assert self.topic_weights_ is not None and self.topic_intercepts_ is not None
            topic_p = 1.0 / (1.0 + np.exp(-(np.asarray(Xt @ self.topic_weights_, dtype=np.float64) + self.topic_intercepts_)))
        out = pd.DataFrame(
            {
                "info_disclosure": p_info,
                "emo_disclosure": p_emo,
                "intimacy": inti,
                "core": core,
                "disclosure": disc,
                "depth": depth,
                "depth_if_disclosure": cond,
                "layer": lay,
            }
        )
        out.attrs["topic_proba"] = topic_p
        return out

    def _sentence_layer_input(self, sent: pd.DataFrame) -> pd.Series:
        return sent["layer"]

    def _utterance_disclosure_layer(
        self, g: Any, info: np.ndarray, emo: np.ndarray, layer_input: pd.Series, docs: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Any disclosing sentence; the deepest sentence layer."""
        disclosure = g["disclosure"].any().reindex(docs, fill_value=False).to_numpy(dtype=bool)
        return disclosure, layer_input.to_numpy(dtype=np.int64)

    # ---------------------------------------------------------- persistence
    def save(self, directory: str | Path) -> Path:
        """Write ``model.npz`` (float32 arrays) and ``model.json`` (metadata) into ``directory``."""
        self._check_fitted()
        assert self.weights_ is not None
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        assert self.featurizer.idf_word is not None and self.featurizer.idf_char is not None
        _write_npz(
            d / "model.npz",
            {
                "idf_word": self.featurizer.idf_word.astype(np.float32),
                "idf_char": self.featurizer.idf_char.astype(np.float32),
                "weights": self.weights_.astype(np.float32),
                **(
                    {"depth_weights": self.depth_weights_.astype(np.float32), "topic_weights": self.topic_weights_.astype(np.float32)}
                    if self.depth_weights_ is not None and self.topic_weights_ is not None
                    else {}
                ),
            },
        )
        meta = {
            **self._common_meta(FORMAT_VERSION, "reciprocity.detect.DisclosureDetector"),
            "columns": {
                "weights": ["info", "emo", "intimacy"],
                "depth_weights": {"rows": [*DEPTH_FEATURES, f"ngram_hash_{self.config.n_features_small}"],
                                  "cols": ["p_ge1", "p_ge2_given_ge1", "p_3_given_ge2"]},
                "topic_weights": {"rows": [*(f"lexicon_{t}" for t in TOPICS), f"ngram_hash_{self.config.n_features_small}"],
                                  "cols": list(TOPICS)},
            },
            "depth_intercepts": None if self.depth_intercepts_ is None else [float(v) for v in self.depth_intercepts_],
            "topic_intercepts": None if self.topic_intercepts_ is None else [float(v) for v in self.topic_intercepts_],
        }
        write_meta(d / "model.json", meta)
        return d

    @classmethod
    def load(cls, directory: str | Path | None = None) -> DisclosureDetector:
        """Load an artefact; ``None`` loads the one bundled in ``reciprocity/detect/artifacts``. No network."""
        d = Path(directory) if directory is not None else ARTIFACT_DIR
        jpath, npath = d / "model.json", d / "model.npz"
        require_files((jpath, npath), "detector artefact", "run `reciprocity train`")
        meta = read_meta(jpath, FORMAT_VERSION)
        det = cls(DetectorConfig.from_json(meta["config"]), seed=int(meta.get("seed", 0)))
        with np.load(npath, allow_pickle=False) as z:
            det.featurizer.idf_word = z["idf_word"].astype(np.float32)
            det.featurizer.idf_char = z["idf_char"].astype(np.float32)
            det.weights_ = z["weights"].astype(np.float32)
            if "depth_weights" in z.files and meta.get("depth_intercepts") is not None:
                det.depth_weights_ = z["depth_weights"].astype(np.float32)
                det.topic_weights_ = z["topic_weights"].astype(np.float32)
                det.depth_intercepts_ = np.asarray(meta["depth_intercepts"], dtype=np.float64)
                det.topic_intercepts_ = np.asarray(meta["topic_intercepts"], dtype=np.float64)
        det._restore_common(meta)
        return det


def default_detector() -> DisclosureDetector:
    """The bundled detector, loaded once per process."""
    return bundled(DisclosureDetector)


def detect(texts: Iterable[str] | pd.Series | str, detector: DisclosureDetector | None = None, n_jobs: int = 1) -> pd.DataFrame:
    """Code utterances with the bundled (or given) detector; see :meth:`DisclosureDetector.predict`."""
    return (detector or default_detector()).predict(texts, n_jobs=n_jobs)
