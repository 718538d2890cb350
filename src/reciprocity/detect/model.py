"""``DisclosureDetector``: sentence-level informational / emotional disclosure, depth, layer and topics.

Pipeline (fit):

1. features: hashed word 1–2-grams + char_wb 2–5-grams, sublinear tf-idf, L2 per block (:mod:`.features`);
2. one L2-regularised logistic regression per label (class-balanced; ``C`` per label in the config);
3. out-of-fold (stratified k-fold, seeded) decision scores -> Platt calibration -> threshold maximising the
   label's binary macro-F1 on the out-of-fold probabilities (:mod:`.calibration`); final models refit on all data;
4. a ridge regression of intimacy (:mod:`.data`, :mod:`.depth`) on the same features.

Predict: utterances are split into sentences (vectorised), all sentences are scored with one sparse product
``X @ W``, and sentence results are aggregated to the utterance by max (probabilities, depth) and union (topics),
following THEORY §2. The artefact is ``model.npz`` (float32 arrays) + ``model.json`` (metadata), no pickle.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import StratifiedKFold

from reciprocity.schema import CODE_COLUMNS, TOPICS

from .calibration import choose_threshold, expected_calibration_error, macro_f1, platt_apply, platt_fit
from .depth import (
    G_CORE,
    W_EMOTION,
    W_INTIMACY,
    closeness,
    core_hits,
    expected_depth,
    layer_from_conditional_depth,
    rescale_intimacy,
)
from .features import FeatureConfig, Featurizer
from .text import as_series, normalise, split_sentences
from .topics import topic_matrix

ARTIFACT_DIR = Path(__file__).resolve().parent / "artifacts"
FORMAT_VERSION = 1
LABELS: tuple[str, str] = ("info", "emo")
_EMOTIONS = TOPICS.index("emotions")


@dataclass(frozen=True)
class DetectorConfig:
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

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["features"] = self.features.to_json()
        d["intimacy_quantiles"] = list(self.intimacy_quantiles)
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> DetectorConfig:
        d = dict(d)
        d["features"] = FeatureConfig.from_json(d["features"])
        d["intimacy_quantiles"] = tuple(d["intimacy_quantiles"])
        return cls(**d)


def _logreg(C: float) -> LogisticRegression:
    return LogisticRegression(C=C, class_weight="balanced", solver="lbfgs", max_iter=3000, tol=1e-4)


_new_empty_lists = np.frompyfunc(lambda _: [], 1, 1)


def _write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Like ``np.savez_compressed`` but byte-reproducible (fixed zip timestamps, sorted members); readable by
    ``np.load(..., allow_pickle=False)``."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(arrays):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(arrays[name]), allow_pickle=False)
            info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, buf.getvalue())


class DisclosureDetector:
    """Scikit-learn-like estimator. ``fit`` -> ``predict``/``transform`` -> frame with ``CODE_COLUMNS``."""

    def __init__(self, config: DetectorConfig | None = None, seed: int = 0):
        self.config = config or DetectorConfig()
        self.seed = seed
        self.featurizer = Featurizer(self.config.features)
        self.weights_: np.ndarray | None = None  # (n_features, 3): info, emo, intimacy
        self.intercepts_: np.ndarray | None = None  # (3,)
        self.platt_: dict[str, tuple[float, float]] = {}
        self.thresholds_: dict[str, float] = {}
        self.intimacy_range_: tuple[float, float] = (0.0, 1.0)
        self.metadata_: dict[str, Any] = {}

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        texts: Iterable[str] | pd.Series,
        info_labels: Iterable[int],
        emo_labels: Iterable[int],
        intimacy_texts: Iterable[str] | None = None,
        intimacy_scores: Iterable[float] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> DisclosureDetector:
        """Fit on labelled sentences (0/1 labels) and optional intimacy data (real scores on any scale; higher =
        more intimate; ``train_detector`` z-scores each source). Deterministic for a given ``seed``.

        Without intimacy data the intimacy weights are zero and depth depends on the probabilities and the core
        lexicon only. ``metadata_['cv']`` holds out-of-fold figures at thresholds chosen on those same
        out-of-fold predictions (slightly optimistic; bench/detector.py gives the unbiased nested figures).
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

        self.featurizer = Featurizer(cfg.features)
        X_all = self.featurizer.fit_transform(pd.concat([x_text, i_text], ignore_index=True))
        X, X_int = X_all[: len(x_text)], X_all[len(x_text) :]
        n_feat = X.shape[1]
        W = np.zeros((n_feat, 3), dtype=np.float32)
        b = np.zeros(3, dtype=np.float64)
        cv_metrics: dict[str, Any] = {}
        for j, label in enumerate(LABELS):
            C = cfg.C_info if label == "info" else cfg.C_emo
            yy = y[label]
            oof = np.zeros(len(yy))
            skf = StratifiedKFold(n_splits=cfg.n_folds, shuffle=True, random_state=self.seed)
            for tr, te in skf.split(X, yy):
                oof[te] = _logreg(C).fit(X[tr], yy[tr]).decision_function(X[te])
            a, c = platt_fit(oof, yy)
            p_oof = platt_apply(oof, a, c)
            thr, f1 = choose_threshold(yy, p_oof)
            self.platt_[label], self.thresholds_[label] = (a, c), thr
            cv_metrics[label] = {
                "oof_macro_f1_at_threshold": f1,
                "oof_macro_f1_at_0.5": macro_f1(yy, p_oof >= 0.5),
                "oof_ece": expected_calibration_error(yy, p_oof),
                "threshold": thr,
                "positive_rate": float(yy.mean()),
                "C": C,
            }
            final = _logreg(C).fit(X, yy)
            W[:, j] = final.coef_.ravel().astype(np.float32)
            b[j] = float(final.intercept_[0])

        if len(i_text):
            ridge = Ridge(alpha=cfg.ridge_alpha).fit(X_int, i_y)
            W[:, 2] = ridge.coef_.astype(np.float32)
            b[2] = float(ridge.intercept_)
        else:
            b[2] = 0.5
        self.weights_, self.intercepts_ = W, b
        raw = np.asarray(X @ W[:, 2]).ravel() + b[2]
        lo, hi = np.quantile(raw, cfg.intimacy_quantiles) if len(raw) else (0.0, 1.0)
        self.intimacy_range_ = (float(lo), float(hi))
        self.metadata_ = {
            **(metadata or {}),
            "n_sentences": int(len(x_text)),
            "n_intimacy": int(len(i_text)),
            "cv": cv_metrics,
        }
        return self

    # -------------------------------------------------------------- predict
    def _check_fitted(self) -> None:
        if self.weights_ is None or self.intercepts_ is None:
            raise RuntimeError("DisclosureDetector is not fitted; call fit() or DisclosureDetector.load()")

    def score_sentences(self, sentences: pd.Series) -> pd.DataFrame:
        """Score already-split sentences: ``info_disclosure``, ``emo_disclosure``, ``intimacy`` (rescaled to
        [0, 1]), ``core`` (lexicon hit), ``disclosure``, ``depth`` (expected) and ``depth_if_disclosure``.
        One sparse matrix product for the whole batch (see :mod:`.depth` for the rule)."""
        self._check_fitted()
        assert self.weights_ is not None and self.intercepts_ is not None
        s = normalise(as_series(sentences)).reset_index(drop=True)
        if len(s) == 0:
            z = np.zeros(0)
            cols = ("info_disclosure", "emo_disclosure", "intimacy", "core", "disclosure", "depth", "depth_if_disclosure")
            return pd.DataFrame({c: z.astype(bool) if c in ("core", "disclosure") else z for c in cols})
        raw = np.asarray(self.featurizer.transform(s) @ self.weights_, dtype=np.float64) + self.intercepts_
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
        src = as_series(texts)
        n = len(src)
        sent = self.predict_sentences(src)
        # depth given disclosure only counts on disclosing sentences
        sent["cond"] = sent["depth_if_disclosure"].where(sent["disclosure"], 0.0)
        g = sent.groupby("doc", sort=True)
        agg = g[["info_disclosure", "emo_disclosure", "depth", "cond"]].max()
        full = agg.reindex(np.arange(n), fill_value=0.0)
        info = full["info_disclosure"].to_numpy(dtype=np.float64)
        emo = full["emo_disclosure"].to_numpy(dtype=np.float64)
        disclosure = (info >= self.thresholds_["info"]) | (emo >= self.thresholds_["emo"])
        depth = full["depth"].to_numpy(dtype=np.float64)
        # topics: union over sentences, as python lists in TOPICS order
        tm = g[list(TOPICS)].any().reindex(np.arange(n), fill_value=False).to_numpy(dtype=bool)
        rows, cols = np.nonzero(tm)
        names = np.asarray(TOPICS, dtype=object)[cols]
        lists = pd.Series(names).groupby(rows).agg(list) if len(rows) else pd.Series(dtype=object)
        topics = lists.reindex(np.arange(n)).to_numpy(dtype=object)
        empty = np.flatnonzero(pd.isna(topics))
        if len(empty):  # distinct list objects, never one shared list
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
    def save(self, directory: str | Path) -> Path:
        """Write ``model.npz`` (float32 arrays) and ``model.json`` (metadata) into ``directory``."""
        self._check_fitted()
        assert self.weights_ is not None and self.intercepts_ is not None
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        assert self.featurizer.idf_word is not None and self.featurizer.idf_char is not None
        _write_npz(
            d / "model.npz",
            {
                "idf_word": self.featurizer.idf_word.astype(np.float32),
                "idf_char": self.featurizer.idf_char.astype(np.float32),
                "weights": self.weights_.astype(np.float32),
            },
        )
        meta = {
            "format_version": FORMAT_VERSION,
            "model": "reciprocity.detect.DisclosureDetector",
            "seed": self.seed,
            "config": self.config.to_json(),
            "intercepts": [float(v) for v in self.intercepts_],
            "platt": {k: list(v) for k, v in self.platt_.items()},
            "thresholds": dict(self.thresholds_),
            "intimacy_range": list(self.intimacy_range_),
            "columns": {"weights": ["info", "emo", "intimacy"]},
            "metadata": self.metadata_,
        }
        (d / "model.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        return d

    @classmethod
    def load(cls, directory: str | Path | None = None) -> DisclosureDetector:
        """Load an artefact; ``None`` loads the one bundled in ``reciprocity/detect/artifacts``. No network."""
        d = Path(directory) if directory is not None else ARTIFACT_DIR
        jpath, npath = d / "model.json", d / "model.npz"
        for p in (jpath, npath):
            if not p.is_file():
                raise FileNotFoundError(f"detector artefact file not found: {p} (run `reciprocity train`)")
        meta = json.loads(jpath.read_text(encoding="utf-8"))
        if int(meta.get("format_version", 0)) > FORMAT_VERSION:
            raise ValueError(f"{jpath}: artefact format {meta['format_version']} is newer than supported {FORMAT_VERSION}")
        det = cls(DetectorConfig.from_json(meta["config"]), seed=int(meta.get("seed", 0)))
        with np.load(npath, allow_pickle=False) as z:
            det.featurizer.idf_word = z["idf_word"].astype(np.float32)
            det.featurizer.idf_char = z["idf_char"].astype(np.float32)
            det.weights_ = z["weights"].astype(np.float32)
        det.intercepts_ = np.asarray(meta["intercepts"], dtype=np.float64)
        det.platt_ = {k: (float(v[0]), float(v[1])) for k, v in meta["platt"].items()}
        det.thresholds_ = {k: float(v) for k, v in meta["thresholds"].items()}
        det.intimacy_range_ = (float(meta["intimacy_range"][0]), float(meta["intimacy_range"][1]))
        det.metadata_ = meta.get("metadata", {})
        return det


_DEFAULT: DisclosureDetector | None = None


def default_detector() -> DisclosureDetector:
    """The bundled detector, loaded once per process."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = DisclosureDetector.load()
    return _DEFAULT


def detect(texts: Iterable[str] | pd.Series | str, detector: DisclosureDetector | None = None) -> pd.DataFrame:
    """Code utterances with the bundled (or given) detector; see :meth:`DisclosureDetector.predict`."""
    return (detector or default_detector()).predict(texts)
