"""Machinery shared by the two detector tiers (fast :class:`~reciprocity.detect.DisclosureDetector` and accurate
:class:`~reciprocity.detect.accurate.AccurateDetector`).

:class:`SentenceDetector` implements the utterance contract on top of a tier's ``score_sentences``: utterances are
split into sentences, scored in one batch, tagged with topics, and aggregated to the utterance — max of the
probabilities and depth, a tier-specific disclosure/layer rule, union of topics (THEORY §2). It also holds the
pieces of fitting and persistence that both tiers share: inputs checks, out-of-fold scores, Platt calibration +
threshold, the intimacy range, the common artefact fields (seed, config, intercepts, platt, thresholds,
intimacy_range, metadata) and a byte-reproducible ``.npz`` writer.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from reciprocity.schema import CODE_COLUMNS, TOPICS

from .calibration import choose_threshold, platt_apply, platt_fit
from .depth import closeness, core_hits, rescale_intimacy
from .features import FeatureConfig, Featurizer
from .text import as_series, normalise, split_sentences
from .topics import topic_matrix

LABELS: tuple[str, str] = ("info", "emo")
#: sentence-score columns every tier returns (the fast tier adds ``layer``)
SCORE_COLUMNS: tuple[str, ...] = (
    "info_disclosure", "emo_disclosure", "intimacy", "core", "disclosure", "depth", "depth_if_disclosure",
)
_EMOTIONS = TOPICS.index("emotions")

D = TypeVar("D", bound="SentenceDetector")
C = TypeVar("C", bound="ConfigJSON")


def _logreg(C: float, max_iter: int = 3000, tol: float = 1e-4) -> LogisticRegression:
    """Class-balanced L2 logistic regression (lbfgs) used for the disclosure heads of both tiers."""
    return LogisticRegression(C=C, class_weight="balanced", solver="lbfgs", max_iter=max_iter, tol=tol)


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


def require_files(paths: Iterable[Path], what: str, hint: str) -> None:
    """``FileNotFoundError`` naming the first missing file (``"{what} file not found: {p} ({hint})"``)."""
    for p in paths:
        if not p.is_file():
            raise FileNotFoundError(f"{what} file not found: {p} ({hint})")


def read_meta(jpath: Path, supported: int) -> dict[str, Any]:
    """An artefact's JSON metadata; ``ValueError`` when its format is newer than ``supported``."""
    meta = json.loads(jpath.read_text(encoding="utf-8"))
    if int(meta.get("format_version", 0)) > supported:
        raise ValueError(f"{jpath}: artefact format {meta['format_version']} is newer than supported {supported}")
    return meta


def write_meta(path: Path, meta: dict[str, Any]) -> None:
    path.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")


class ConfigJSON:
    """JSON round trip of a tier's frozen config dataclass: ``features`` via :class:`FeatureConfig`, the tuple
    fields named in ``_json_tuples`` as lists (each with its converter back), the rest as :func:`asdict` gives."""

    _json_tuples: ClassVar[dict[str, Callable[[Any], tuple]]] = {"intimacy_quantiles": tuple}
    #: drop keys that are not fields (artefacts written by a newer version) instead of failing
    _json_ignore_unknown: ClassVar[bool] = False
    features: FeatureConfig

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)  # type: ignore[call-overload]
        d["features"] = self.features.to_json()
        for k in self._json_tuples:
            d[k] = list(getattr(self, k))
        return d

    @classmethod
    def from_json(cls: type[C], d: dict[str, Any]) -> C:
        d = dict(d)
        d["features"] = FeatureConfig.from_json(d["features"])
        for k, conv in cls._json_tuples.items():
            d[k] = conv(d[k])
        if cls._json_ignore_unknown:
            known = set(cls.__dataclass_fields__)  # type: ignore[attr-defined]
            d = {k: v for k, v in d.items() if k in known}
        return cls(**d)


_BUNDLED: dict[type, Any] = {}


def bundled(cls: type[D]) -> D:
    """The bundled artefact of a detector class (``cls.load()``), loaded once per process."""
    if cls not in _BUNDLED:
        _BUNDLED[cls] = cls.load()
    return _BUNDLED[cls]


class SentenceDetector:
    """Base of the detector tiers. Subclasses provide ``fit``, ``score_sentences`` (normalised sentence scores with
    :data:`SCORE_COLUMNS`; a ``topic_proba`` array in ``attrs`` selects a learned topic tagger over the lexicons),
    ``_check_fitted``, ``save``/``load`` and :meth:`_utterance_disclosure_layer`; this class gives
    ``predict_sentences``, ``predict``/``transform`` and ``fit_transform``."""

    #: name used in "not fitted" errors
    _name: ClassVar[str] = "SentenceDetector"
    #: the attribute that is ``None`` until the detector is fitted (with ``intercepts_``)
    _fitted_attr: ClassVar[str] = "intercepts_"

    def __init__(self, config: Any, seed: int = 0):
        self.config = config
        self.seed = seed
        self.featurizer = Featurizer(self.config.features)
        self.intercepts_: np.ndarray | None = None
        self.platt_: dict[str, tuple[float, float]] = {}
        self.thresholds_: dict[str, float] = {}
        self.intimacy_range_: tuple[float, float] = (0.0, 1.0)
        self.metadata_: dict[str, Any] = {}

    # ------------------------------------------------------------------ fit
    @staticmethod
    def _fit_inputs(
        texts: Iterable[str] | pd.Series,
        info_labels: Iterable[int],
        emo_labels: Iterable[int],
        intimacy_texts: Iterable[str] | None,
        intimacy_scores: Iterable[float] | None,
    ) -> tuple[pd.Series, dict[str, np.ndarray], pd.Series, np.ndarray]:
        """Normalised training sentences, their 0/1 labels per label, intimacy texts and scores (checked)."""
        x_text = normalise(as_series(texts)).reset_index(drop=True)
        y = {"info": np.asarray(list(info_labels), dtype=int), "emo": np.asarray(list(emo_labels), dtype=int)}
        if not (len(x_text) == len(y["info"]) == len(y["emo"])):
            raise ValueError("texts, info_labels and emo_labels must have the same length")
        i_text = normalise(as_series(intimacy_texts if intimacy_texts is not None else [])).reset_index(drop=True)
        i_y = np.asarray(list(intimacy_scores) if intimacy_scores is not None else [], dtype=float)
        if len(i_text) != len(i_y):
            raise ValueError("intimacy_texts and intimacy_scores must have the same length")
        return x_text, y, i_text, i_y

    def _oof_scores(self, X: Any, yy: np.ndarray, C: float, seed: int, transfer: Any = None) -> np.ndarray:
        """Out-of-fold decision scores of :meth:`_fit_head` (stratified k-fold over the labelled rows, shuffled
        with ``seed``; ``transfer`` rows, when given, join every training fold)."""
        oof = np.zeros(len(yy))
        skf = StratifiedKFold(n_splits=self.config.n_folds, shuffle=True, random_state=seed)
        for tr, te in skf.split(X, yy):
            oof[te] = self._fit_head(X[tr], yy[tr], C, transfer).decision_function(X[te])
        return oof

    def _fit_head(self, X: Any, yy: np.ndarray, C: float, transfer: Any = None) -> LogisticRegression:
        """Fit one disclosure head on labelled rows (this tier has no transfer rows)."""
        if transfer is not None:
            raise ValueError(f"{type(self).__name__} does not train on transfer rows")
        return self._head_logreg(C).fit(X, yy)

    @staticmethod
    def _head_logreg(C: float) -> LogisticRegression:
        """The tier's disclosure-head estimator (:func:`_logreg` with the tier's ``max_iter``/``tol``)."""
        return _logreg(C)

    def _calibrate(self, label: str, yy: np.ndarray, oof: np.ndarray) -> tuple[np.ndarray, float, float]:
        """Platt-calibrate out-of-fold scores and pick the macro-F1 threshold for ``label`` (stored in ``platt_``
        and ``thresholds_``); returns the calibrated out-of-fold probabilities, the threshold and its macro-F1."""
        a, c = platt_fit(oof, yy)
        p_oof = platt_apply(oof, a, c)
        thr, f1 = choose_threshold(yy, p_oof)
        self.platt_[label], self.thresholds_[label] = (a, c), thr
        return p_oof, thr, f1

    def _finish_fit(self, raw_intimacy: np.ndarray, metadata: dict[str, Any] | None, n_sentences: int,
                    n_intimacy: int, cv: dict[str, Any]) -> None:
        """Intimacy rescaling range (config quantiles of the training sentences' raw intimacy) and metadata."""
        lo, hi = np.quantile(raw_intimacy, self.config.intimacy_quantiles) if len(raw_intimacy) else (0.0, 1.0)
        self.intimacy_range_ = (float(lo), float(hi))
        self.metadata_ = {**(metadata or {}), "n_sentences": int(n_sentences), "n_intimacy": int(n_intimacy),
                          "cv": cv}

    # -------------------------------------------------------------- predict
    def _check_fitted(self) -> None:
        if getattr(self, self._fitted_attr) is None or self.intercepts_ is None:
            raise RuntimeError(f"{self._name} is not fitted; call fit() or {self._name}.load()")

    def score_sentences(self, sentences: pd.Series) -> pd.DataFrame:  # pragma: no cover - abstract
        raise NotImplementedError

    @staticmethod
    def _empty_scores() -> pd.DataFrame:
        z = np.zeros(0)
        return pd.DataFrame({c: z.astype(bool) if c in ("core", "disclosure") else z for c in SCORE_COLUMNS})

    def _calibrated(self, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Calibrated ``p_info``, ``p_emo`` and rescaled intimacy from ``[n, 3]`` raw head outputs."""
        return (
            platt_apply(raw[:, 0], *self.platt_["info"]),
            platt_apply(raw[:, 1], *self.platt_["emo"]),
            rescale_intimacy(raw[:, 2], *self.intimacy_range_),
        )

    def _rule_inputs(
        self, s: pd.Series, p_info: np.ndarray, p_emo: np.ndarray, inti: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Threshold disclosure, core-lexicon hits and closeness ``g`` (inputs of the :mod:`.depth` rule)."""
        disc = (p_info >= self.thresholds_["info"]) | (p_emo >= self.thresholds_["emo"])
        core = core_hits(s)
        g = closeness(p_emo, inti, core, self.config.w_intimacy, self.config.w_emotion, self.config.g_core)
        return disc, core, g

    def predict_sentences(self, texts: Iterable[str] | pd.Series) -> pd.DataFrame:
        """Sentence-level frame: ``doc`` (input position), ``sentence``, scores and a bool column per topic."""
        sents = split_sentences(as_series(texts))
        scored = self.score_sentences(sents["sentence"])
        topic_p = scored.attrs.get("topic_proba")
        scored.attrs = {}
        out = pd.concat([sents.reset_index(drop=True), scored], axis=1)
        tm = np.zeros((len(out), len(TOPICS)), dtype=bool)
        disc = out["disclosure"].to_numpy(dtype=bool)
        if topic_p is not None:  # learned tagger
            tm[disc] = topic_p[disc] >= self.config.topic_threshold
        else:  # lexicon rule
            if disc.any():
                tm[disc] = topic_matrix(out.loc[disc, "sentence"])
            tm[:, _EMOTIONS] |= disc & (out["emo_disclosure"].to_numpy() >= self.thresholds_["emo"])
        return pd.concat([out, pd.DataFrame(tm, columns=list(TOPICS))], axis=1)

    def _sentence_layer_input(self, sent: pd.DataFrame) -> pd.Series:
        """Per-sentence value whose max over an utterance's sentences feeds :meth:`_utterance_disclosure_layer`."""
        raise NotImplementedError  # pragma: no cover - abstract

    def _utterance_disclosure_layer(
        self, g: Any, info: np.ndarray, emo: np.ndarray, layer_input: pd.Series, docs: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Utterance ``disclosure`` (bool) and ``layer`` (int64) from the sentence groupby ``g``, the utterance max
        probabilities and the max of :meth:`_sentence_layer_input` (0 for utterances without sentences)."""
        raise NotImplementedError  # pragma: no cover - abstract

    def predict(self, texts: Iterable[str] | pd.Series | str) -> pd.DataFrame:
        """One row per input with ``CODE_COLUMNS``; a Series input keeps its index."""
        self._check_fitted()
        src = as_series(texts)
        n = len(src)
        docs = np.arange(n)
        sent = self.predict_sentences(src)
        sent["_layer_input"] = self._sentence_layer_input(sent)
        g = sent.groupby("doc", sort=True)
        full = g[["info_disclosure", "emo_disclosure", "depth", "_layer_input"]].max().reindex(docs, fill_value=0.0)
        info = full["info_disclosure"].to_numpy(dtype=np.float64)
        emo = full["emo_disclosure"].to_numpy(dtype=np.float64)
        disclosure, layer = self._utterance_disclosure_layer(g, info, emo, full["_layer_input"], docs)
        # topics: union over sentences, as python lists in TOPICS order
        tm = g[list(TOPICS)].any().reindex(docs, fill_value=False).to_numpy(dtype=bool)
        rows, cols = np.nonzero(tm)  # row-major: each utterance's topics are consecutive, in TOPICS order
        names = np.asarray(TOPICS, dtype=object)[cols]
        topics = _new_empty_lists(np.arange(n))  # distinct list objects, never one shared list
        if len(rows):
            starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
            parts = np.split(names, starts[1:])
            topics[rows[starts]] = np.fromiter((part.tolist() for part in parts), dtype=object, count=len(parts))
        frame = pd.DataFrame(
            {
                "info_disclosure": info,
                "emo_disclosure": emo,
                "disclosure": disclosure,
                "depth": full["depth"].to_numpy(dtype=np.float64),
                "layer": layer,
                "topics": topics,
            },
            index=src.index if isinstance(texts, pd.Series) else pd.RangeIndex(n),
        )
        return frame[list(CODE_COLUMNS)]

    transform = predict

    def fit_transform(self, texts, info_labels, emo_labels, **kw) -> pd.DataFrame:
        return self.fit(texts, info_labels, emo_labels, **kw).predict(texts)  # type: ignore[attr-defined]

    # ---------------------------------------------------------- persistence
    def _common_meta(self, format_version: int, model: str) -> dict[str, Any]:
        """Artefact JSON fields both tiers write (the tier adds its own)."""
        assert self.intercepts_ is not None
        return {
            "format_version": format_version,
            "model": model,
            "seed": self.seed,
            "config": self.config.to_json(),
            "intercepts": [float(v) for v in self.intercepts_],
            "platt": {k: list(v) for k, v in self.platt_.items()},
            "thresholds": dict(self.thresholds_),
            "intimacy_range": list(self.intimacy_range_),
            "metadata": self.metadata_,
        }

    def _restore_common(self, meta: dict[str, Any]) -> None:
        """Inverse of :meth:`_common_meta` for the fitted fields."""
        self.intercepts_ = np.asarray(meta["intercepts"], dtype=np.float64)
        self.platt_ = {k: (float(v[0]), float(v[1])) for k, v in meta["platt"].items()}
        self.thresholds_ = {k: float(v) for k, v in meta["thresholds"].items()}
        self.intimacy_range_ = (float(meta["intimacy_range"][0]), float(meta["intimacy_range"][1]))
        self.metadata_ = meta.get("metadata", {})
