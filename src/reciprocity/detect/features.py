"""Stateless hashed n-gram features with a stored idf vector.

Two blocks, each ``HashingVectorizer`` (no vocabulary to store, so the artefact is just arrays):

* word 1–2-grams (tokens ``\\b\\w+\\b`` so that "I" and "'m" survive, plus ``!``/``?``),
* character 2–5-grams inside word boundaries (``char_wb``), robust to spelling, emoji and other scripts.

Per block: sublinear tf ``1 + ln(tf)``, times smoothed idf ``ln((1 + n) / (1 + df)) + 1`` (Salton & Buckley 1988;
the scikit-learn convention), then L2 row normalisation; the two blocks are concatenated.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.preprocessing import normalize

from .charhash import char_wb_counts


@dataclass(frozen=True)
class FeatureConfig:
    """Everything needed to rebuild the hashing vectorisers bit-for-bit."""

    n_features_word: int = 2**18
    n_features_char: int = 2**18
    word_ngram: tuple[int, int] = (1, 2)
    char_ngram: tuple[int, int] = (2, 5)
    token_pattern: str = r"(?u)\b\w+\b|[!?]"
    sublinear_tf: bool = True

    def to_json(self) -> dict:
        d = asdict(self)
        d["word_ngram"], d["char_ngram"] = list(self.word_ngram), list(self.char_ngram)
        return d

    @classmethod
    def from_json(cls, d: dict) -> FeatureConfig:
        d = dict(d)
        d["word_ngram"], d["char_ngram"] = tuple(d["word_ngram"]), tuple(d["char_ngram"])
        return cls(**d)

    @property
    def n_features(self) -> int:
        return self.n_features_word + self.n_features_char


class Featurizer:
    """Hashed word + char n-gram tf-idf features. ``fit`` only learns the idf vectors."""

    def __init__(self, config: FeatureConfig | None = None):
        self.config = config or FeatureConfig()
        c = self.config
        common = dict(alternate_sign=False, norm=None, lowercase=True, dtype=np.float32)
        self._word = HashingVectorizer(
            n_features=c.n_features_word, ngram_range=c.word_ngram, token_pattern=c.token_pattern, **common
        )
        self._char = HashingVectorizer(
            n_features=c.n_features_char, analyzer="char_wb", ngram_range=c.char_ngram, **common
        )
        self.idf_word: np.ndarray | None = None
        self.idf_char: np.ndarray | None = None

    def _counts(self, texts) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        texts = texts if isinstance(texts, pd.Series) else pd.Series(list(texts), dtype=object)
        return self._word.transform(texts), self._char_counts(texts)

    def _char_counts(self, texts: pd.Series) -> sp.csr_matrix:
        """The ``char_wb`` hasher's counts, computed once per distinct word of the batch.

        ``char_wb`` n-grams never cross a word boundary (scikit-learn lower-cases, splits on whitespace and pads
        each word with one space), so a text's counts are the sum of its words' counts:
        ``counts = (texts × words occurrence matrix) @ (words × buckets counts)`` — the same matrix as
        ``HashingVectorizer.transform(texts)``; the distinct words are hashed in one vectorised pass
        (:mod:`.charhash`)."""
        words = texts.astype(str).str.lower().str.split()
        lengths = words.str.len().to_numpy(dtype=np.int64)
        flat = np.fromiter((w for ws in words for w in ws), dtype=object, count=int(lengths.sum()))
        codes, uniques = pd.factorize(flat, sort=False)
        per_word = char_wb_counts(np.asarray(uniques, dtype=object), self.config.char_ngram, self.config.n_features_char)
        occurrences = sp.csr_matrix(
            (np.ones(len(codes), dtype=np.float32), (np.repeat(np.arange(len(texts)), lengths), codes)),
            shape=(len(texts), len(uniques)),
        )
        counts = (occurrences @ per_word).tocsr()
        counts.sort_indices()
        return counts

    @staticmethod
    def _idf(counts: sp.csr_matrix) -> np.ndarray:
        n = counts.shape[0]
        df = np.bincount(counts.indices, minlength=counts.shape[1])
        return (np.log((1.0 + n) / (1.0 + df)) + 1.0).astype(np.float32)

    def fit(self, texts) -> Featurizer:
        self.fit_transform(texts)
        return self

    def _weight(self, counts: sp.csr_matrix, idf: np.ndarray) -> sp.csr_matrix:
        x = counts.astype(np.float32)
        if self.config.sublinear_tf:
            np.log(x.data, out=x.data)
            x.data += 1.0
        x = x @ sp.diags(idf, format="csr", dtype=np.float32)
        return normalize(x, norm="l2", copy=False)

    def transform(self, texts) -> sp.csr_matrix:
        return self.transform_with_word_counts(texts)[0]

    def transform_with_word_counts(self, texts) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        """The features and the raw word n-gram counts they were built from (for :func:`fold_binary`)."""
        if self.idf_word is None or self.idf_char is None:
            raise RuntimeError("Featurizer is not fitted (no idf vectors)")
        w, c = self._counts(texts)
        return sp.hstack([self._weight(w, self.idf_word), self._weight(c, self.idf_char)], format="csr"), w

    def fit_transform(self, texts) -> sp.csr_matrix:
        """Learn the idf vectors on ``texts`` and return their features (hashing done once)."""
        w, c = self._counts(texts)
        self.idf_word, self.idf_char = self._idf(w), self._idf(c)
        return sp.hstack([self._weight(w, self.idf_word), self._weight(c, self.idf_char)], format="csr")


#: Hashing space of the small n-gram block used by the depth and topic models (kept small: the artefact stores a
#: dense ``(n, k)`` weight matrix for it).
SMALL_HASH_FEATURES = 2**14


def small_hasher(n_features: int = SMALL_HASH_FEATURES, token_pattern: str = r"(?u)\b\w+\b|[!?]") -> HashingVectorizer:
    """Stateless binary word 1–2-gram hasher, L2-normalised rows (no idf): the n-gram block of the depth and topic
    models."""
    return HashingVectorizer(
        n_features=n_features, ngram_range=(1, 2), token_pattern=token_pattern, alternate_sign=False, binary=True,
        norm="l2", lowercase=True, dtype=np.float32,
    )


def fold_binary(word_counts: sp.csr_matrix, n_features: int) -> sp.csr_matrix:
    """The :func:`small_hasher` block computed from word 1–2-gram counts hashed into a larger power-of-two space
    with the same token pattern, without hashing the text again.

    scikit-learn's hasher puts a token in bucket ``|h| mod n`` (``h`` the signed 32-bit MurmurHash3), so for
    ``n_small`` dividing ``n_large`` the small bucket is the large bucket ``mod n_small``: fold the column indices,
    set every present bucket to 1 (``binary=True``) and L2-normalise rows — identical to ``small_hasher``."""
    if word_counts.shape[1] % n_features:
        raise ValueError(f"cannot fold {word_counts.shape[1]} hashed columns into {n_features}")
    folded = sp.csr_matrix(
        (np.ones_like(word_counts.data, dtype=np.float32), word_counts.indices % n_features, word_counts.indptr),
        shape=(word_counts.shape[0], n_features),
    )
    folded.sum_duplicates()
    folded.data[:] = 1.0
    return normalize(folded, norm="l2", copy=False)

