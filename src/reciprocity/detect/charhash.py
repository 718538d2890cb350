"""Vectorised ``char_wb`` n-gram hashing, bucket for bucket identical to scikit-learn's ``HashingVectorizer``.

scikit-learn builds every n-gram as a Python string and hashes it with MurmurHash3 (x86, 32 bit, seed 0) of its
UTF-8 bytes; the bucket is ``|h| mod n_features`` for the signed hash ``h``. Here the n-grams of a batch of words
are laid out as rows of a byte matrix and MurmurHash3 runs over all rows at once in ``uint32`` arithmetic
(Appleby's reference algorithm: 4-byte blocks, tail, length, final avalanche), so no Python object is made per
n-gram. ``tests/test_detect.py`` checks equality with scikit-learn on fuzzed text.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

_C1, _C2 = np.uint32(0xCC9E2D51), np.uint32(0x1B873593)


def _rotl(x: np.ndarray, r: int) -> np.ndarray:
    return (x << np.uint32(r)) | (x >> np.uint32(32 - r))


def murmurhash3_rows(data: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Signed 32-bit MurmurHash3 (seed 0) of each row ``data[i, :lengths[i]]`` (``uint8``, zero padded)."""
    n, width = data.shape
    padded = np.zeros((n, -(-width // 4) * 4), dtype=np.uint8)
    padded[:, :width] = data
    words = padded.view("<u4").astype(np.uint32)  # little-endian 4-byte blocks
    lengths = lengths.astype(np.uint32)
    n_blocks = lengths // np.uint32(4)
    h = np.zeros(n, dtype=np.uint32)
    with np.errstate(over="ignore"):
        for j in range(words.shape[1]):
            full = n_blocks > j
            k = words[:, j] * _C1
            k = _rotl(k, 15) * _C2
            mixed = _rotl(h ^ k, 13) * np.uint32(5) + np.uint32(0xE6546B64)
            h = np.where(full, mixed, h)
            tail_len = lengths - np.uint32(4 * j)
            tail = (n_blocks == j) & (tail_len > 0)
            if tail.any():  # the remaining 1-3 bytes of this block (higher bytes are zero padding)
                k = words[:, j] & ((np.uint32(1) << (np.minimum(tail_len, 3) * np.uint32(8))) - np.uint32(1))
                k = _rotl(k * _C1, 15) * _C2
                h = np.where(tail, h ^ k, h)
        h ^= lengths
        h ^= h >> np.uint32(16)
        h *= np.uint32(0x85EBCA6B)
        h ^= h >> np.uint32(13)
        h *= np.uint32(0xC2B2AE35)
        h ^= h >> np.uint32(16)
    return h.view(np.int32)


def bucket(signed: np.ndarray, n_features: int) -> np.ndarray:
    """scikit-learn's bucket of a signed hash: ``|h| mod n`` (``h = -2**31`` handled as it does)."""
    h = signed.astype(np.int64)
    out = np.abs(h) % n_features
    special = h == -(2**31)
    if special.any():
        out[special] = (2**31 - 1 - (n_features - 1)) % n_features
    return out


def char_wb_counts(words: np.ndarray, ngram_range: tuple[int, int], n_features: int) -> sp.csr_matrix:
    """Count matrix ``(len(words), n_features)`` of the ``char_wb`` n-grams of single, already lower-cased words
    (each padded with one space on both sides, as scikit-learn does; a padded word not longer than ``n`` is
    counted once as a whole and ends the n-gram loop)."""
    lo, hi = ngram_range
    n_words = len(words)
    if n_words == 0:
        return sp.csr_matrix((0, n_features), dtype=np.float32)
    padded = [f" {w} " for w in words]
    text = "".join(padded)
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)  # one code point per char
    raw = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    # byte offset of every char in the UTF-8 text (an n-gram is the contiguous byte run of its chars)
    nbytes = np.where(codes < 0x80, 1, np.where(codes < 0x800, 2, np.where(codes < 0x10000, 3, 4)))
    byte_at = np.r_[0, np.cumsum(nbytes)]
    word_len = np.fromiter((len(w) for w in padded), dtype=np.int64, count=n_words)
    start = np.r_[0, np.cumsum(word_len)[:-1]]
    rows, cols = [], []
    alive = np.ones(n_words, dtype=bool)  # words whose n-gram loop has not ended
    for n in range(lo, hi + 1):
        windows = np.where(alive, np.maximum(word_len - n + 1, 1), 0)
        total = int(windows.sum())
        if not total:
            break
        owner = np.repeat(np.arange(n_words), windows)
        first = np.repeat(start - (np.cumsum(windows) - windows), windows) + np.arange(total)
        size = np.minimum(n, word_len[owner])  # a short word is one n-gram of its own length
        b0 = byte_at[first]
        length = byte_at[first + size] - b0
        width = 4 * n
        source = np.concatenate([raw, np.zeros(width, dtype=np.uint8)])
        data = source[b0[:, None] + np.arange(width)]
        data[np.arange(width) >= length[:, None]] = 0
        rows.append(owner)
        cols.append(bucket(murmurhash3_rows(data, length), n_features))
        alive &= word_len > n
    r, k = np.concatenate(rows), np.concatenate(cols)
    out = sp.csr_matrix((np.ones(len(r), dtype=np.float32), (r, k)), shape=(n_words, n_features))
    out.sum_duplicates()
    return out
