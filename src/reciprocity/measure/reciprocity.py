"""Turn-level reciprocity against three null baselines (THEORY.md §3).

For the exchange pairs (d_prev, d_next) of a conversation:

* lagged matching  r_lag = corr(d_{t-1}, d_t), Pearson over pairs; corpus level by Fisher-z mean;
* matching index   m = 1 - |d_t - d_{t-1}| / (d_t + d_{t-1} + eps), averaged over pairs;
* conditional reciprocity  Rec = P(next discloses | prev disclosed) - P(next discloses).

Null baselines (each re-computes the statistics on re-arranged codes, pairs kept fixed):

* ``shuffle``  — each speaker's codes are shuffled across that speaker's own turns (keeps every
  speaker's marginal distribution, destroys the turn-to-turn contingency *and* the speaker's own
  autocorrelation; exact when turns are exchangeable, anti-conservative when a speaker's depth
  drifts or is autocorrelated);
* ``circular`` — each speaker's sequence is rotated by a uniform random offset in {0..n_s-1}
  (keeps each speaker's autocorrelation and drift shape up to the wrap point, breaks the
  alignment between speakers; the "toroidal shift" test for two autocorrelated series);
* ``pseudo``   — pseudo-dyads (Bernieri et al. 1988; Ramseyer & Tschacher 2010): in a
  two-speaker conversation c, the first speaker A keeps her turns and the other speaker's k-th
  turn takes the code of the k-th turn of the second speaker of another two-speaker
  conversation c' of similar length (index taken modulo that speaker's number of turns). The
  null of a dyad is the full set of its K nearest-in-length partners (enumerated, not sampled,
  so per-dyad p-values are exact ranks); ties in length are broken by the seed. The default
  K = 99 puts the p-values on a 1/100 grid, so p <= 0.05 has probability 0.05 under the null
  (with K = 50 it would be 2/51 = 0.039: needlessly conservative).

One-sided permutation p-value (reciprocity > null): p = (1 + #{null > observed} + U #{null ==
observed}) / (B + 1), U ~ U(0, 1) (Phipson & Smyth 2010, with ties broken at random, see
:meth:`_Tally.p_value`). Corpus-level nulls average the per-dyad null draws (for pseudo-dyads,
each draw picks one of the K partners per dyad at random). Bootstrap CIs are percentile
intervals over dyads (B_boot resamples of dyads drawn with replacement, vectorised), for the
observed corpus statistic and for observed - null.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from reciprocity._compiled import optional_kernel
from reciprocity.measure.pairs import sorted_codes
from reciprocity.schema import CONVERSATION, SPEAKER

EPSILON = 1e-9


@dataclass(frozen=True)
class PairStatistics:
    """Per-group reciprocity statistics (arrays of one value per group)."""

    n_pairs: np.ndarray
    r_lag: np.ndarray
    matching: np.ndarray
    conditional: np.ndarray


def pair_statistics(depth: np.ndarray, disclosed: np.ndarray, prev: np.ndarray, nxt: np.ndarray,
                    group: np.ndarray, n_groups: int) -> PairStatistics:
    """Lagged matching, matching index and conditional reciprocity per group, from sums (vectorised; one
    pair-length scratch array is reused for the products, so few pair-length temporaries are alive at once)."""

    def total(values: np.ndarray) -> np.ndarray:
        return np.bincount(group, weights=values, minlength=n_groups)

    def count(mask: np.ndarray) -> np.ndarray:
        return np.bincount(group[mask], minlength=n_groups).astype(float)

    x, y = depth[prev], depth[nxt]
    n = np.bincount(group, minlength=n_groups).astype(float)
    sx, sy = total(x), total(y)
    scratch = np.multiply(x, y)
    sxy = total(scratch)
    sxx = total(np.multiply(x, x, out=scratch))
    syy = total(np.multiply(y, y, out=scratch))
    # matching index terms 1 - |y - x| / (x + y + eps), computed in place
    np.subtract(y, x, out=scratch)
    np.abs(scratch, out=scratch)
    x += y
    x += EPSILON
    scratch /= x
    np.subtract(1.0, scratch, out=scratch)
    matching_sum = total(scratch)
    del x, y, scratch
    prev_disclosed, next_disclosed = disclosed[prev].astype(bool), disclosed[nxt].astype(bool)
    n_prev, n_next = count(prev_disclosed), count(next_disclosed)
    prev_disclosed &= next_disclosed
    n_both = count(prev_disclosed)
    del prev_disclosed, next_disclosed
    with np.errstate(invalid="ignore", divide="ignore"):
        numerator = n * sxy - sx * sy
        denominator = np.sqrt((n * sxx - sx**2) * (n * syy - sy**2))
        r_lag = np.where((n >= 3) & (denominator > EPSILON), numerator / denominator, np.nan)
        matching = matching_sum / n
        conditional = np.where(n_prev > 0, n_both / n_prev - n_next / n, np.nan)
    return PairStatistics(n, np.clip(r_lag, -1, 1), matching, conditional)


#: Null baselines in the order they are reported.
NULLS: tuple[str, ...] = ("shuffle", "circular", "pseudo")
NULL_LABELS = {"shuffle": "shuffle", "circular": "circular_shift", "pseudo": "pseudo_dyad"}


def circular_shift_within(groups: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Rotate every group's rows (in row order) by its own uniform random offset.

    Returns ``source`` with ``values[source]`` the shifted values: the i-th row of a group of
    size n takes the value of its ((i + k) mod n)-th row, k ~ U{0..n-1} per group.
    """
    n = len(groups)
    if n == 0:
        return np.arange(0)
    order = np.argsort(groups, kind="stable")
    sizes = np.bincount(groups)
    starts = np.cumsum(sizes) - sizes
    member = groups[order]
    within = np.arange(n) - starts[member]
    shift = rng.integers(0, np.maximum(sizes, 1))
    source_sorted = order[starts[member] + (within + shift[member]) % sizes[member]]
    source = np.empty(n, dtype=np.int64)
    source[order] = source_sorted
    return source


@dataclass(frozen=True)
class PseudoDyads:
    """Candidate partners for pseudo-dyads: ``source(k)`` re-maps rows for the k-th candidate."""

    eligible: np.ndarray        # per conversation: exactly two speakers and a partner pool
    candidates: np.ndarray      # (n_conversations, K) partner conversation codes (-1 = none)
    role_b: np.ndarray          # per row: True for the non-first speaker of the conversation
    index_in_role: np.ndarray   # per row: k-th turn of that speaker
    conversation: np.ndarray    # per row: conversation code
    b_rows: np.ndarray          # rows of second speakers, grouped by conversation, in turn order
    b_start: np.ndarray         # per conversation: start of its block in b_rows
    b_count: np.ndarray         # per conversation: number of second-speaker turns

    @property
    def k(self) -> int:
        return self.candidates.shape[1]

    def source(self, k: int) -> np.ndarray:
        """Row re-mapping for the k-th nearest-in-length partner of every eligible dyad."""
        n = len(self.conversation)
        source = np.arange(n)
        partner = self.candidates[self.conversation, k]
        rows = self.role_b & (partner >= 0)
        p = partner[rows]
        source[rows] = self.b_rows[self.b_start[p] + self.index_in_role[rows] % self.b_count[p]]
        return source


def pseudo_dyads(conversation_code: np.ndarray, speakers: np.ndarray, n_conversations: int,
                 rng: np.random.Generator, pool: int = 99, *, speaker_code: np.ndarray | None = None) -> PseudoDyads:
    """Pair each two-speaker conversation with its ``pool`` nearest-in-length others (vectorised).

    ``speaker_code`` (optional): integer codes of (conversation, speaker), as ``speakers`` would give.
    """
    conversation_code = np.asarray(conversation_code)
    if speaker_code is None:
        speaker_code = pd.MultiIndex.from_arrays([conversation_code, np.asarray(speakers)]).factorize()[0]
    speaker_code = np.asarray(speaker_code)
    n = len(conversation_code)
    # first speaker of each conversation: the speaker of its first row (in row order)
    first_row = np.zeros(n_conversations, dtype=np.int64)
    present, first_index = np.unique(conversation_code, return_index=True)
    first_row[present] = first_index
    first_speaker = speaker_code[first_row][conversation_code] if n else speaker_code
    role_b = speaker_code != first_speaker
    conversation_of_speaker = np.zeros(int(speaker_code.max()) + 1 if n else 0, dtype=np.int64)
    conversation_of_speaker[speaker_code] = conversation_code
    n_speakers = np.bincount(conversation_of_speaker, minlength=n_conversations)
    # k-th turn of its speaker's role within the conversation: running count per (conversation, role)
    key = conversation_code.astype(np.int64) * 2 + role_b
    order = np.argsort(key, kind="stable")
    counts = np.bincount(key, minlength=2 * n_conversations)
    starts = np.cumsum(counts) - counts
    index_in_role = np.empty(n, dtype=np.int32 if n < 2**31 - 1 else np.int64)
    index_in_role[order] = np.arange(n) - starts[key[order]]
    del key, order, first_speaker
    b_count = np.bincount(conversation_code[role_b], minlength=n_conversations)
    b_start = np.cumsum(b_count) - b_count
    b_rows = np.flatnonzero(role_b)[np.argsort(conversation_code[role_b], kind="stable")]
    two = np.flatnonzero((n_speakers == 2) & (b_count > 0))
    k = int(min(pool, max(len(two) - 1, 0)))
    index = np.int32 if n_conversations < 2**31 - 1 else np.int64      # conversation codes (n_conversations x K)
    candidates = np.full((n_conversations, max(k, 0)), -1, dtype=index)
    eligible = np.zeros(n_conversations, dtype=bool)
    if k >= 1:
        length = np.bincount(conversation_code, minlength=n_conversations)[two]
        ranked = two[np.lexsort((rng.random(len(two)), length))].astype(index)
        m = len(ranked)
        q = np.arange(m, dtype=index)
        lo = np.clip(q - k // 2, 0, m - 1 - k).astype(index)
        offsets = lo[:, None] + np.arange(k, dtype=index)[None, :]
        offsets += offsets >= q[:, None]                  # skip the dyad itself
        candidates[ranked] = ranked[offsets]
        del offsets
        eligible[ranked] = True
    conversation = np.asarray(conversation_code)
    return PseudoDyads(eligible, candidates, role_b, index_in_role, conversation, b_rows, b_start, b_count)


def fisher_mean(r: np.ndarray) -> float:
    """Mean correlation via Fisher's z: tanh(mean(atanh(r))), ignoring undefined r."""
    r = r[~np.isnan(r)]
    return float(np.tanh(np.mean(np.arctanh(np.clip(r, -0.999, 0.999))))) if len(r) else float("nan")


def fisher_mean_rows(r: np.ndarray, axis: int = -1) -> np.ndarray:
    """:func:`fisher_mean` along an axis of a matrix (NaN-aware, vectorised)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.tanh(np.nanmean(np.arctanh(np.clip(r, -0.999, 0.999)), axis=axis))


def _nanmean_rows(values: np.ndarray, axis: int = -1) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(values, axis=axis)


def _bootstrap_ci(values: np.ndarray, statistic, rng: np.random.Generator, n_boot: int = 1000,
                  minus: np.ndarray | None = None, chunk_elements: int = 2_000_000) -> tuple[float, float]:
    """Percentile bootstrap CI (95%) over dyads, vectorised in chunks of resamples.

    ``statistic`` is ``"fisher"`` (Fisher-z mean), ``"mean"``, or a callable mapping an
    (n_boot, n) matrix to n_boot estimates along axis 1. With ``minus`` (same length as
    ``values``) the CI is for statistic(values) - statistic(minus) on the same resampled dyads.
    The resamples are the rows of ``rng.integers(0, n, size=(n_boot, n))`` (drawn in chunks of
    rows, which yields the same stream), so memory stays at ``chunk_elements`` indices.
    """
    keep = ~np.isnan(values) if minus is None else ~(np.isnan(values) | np.isnan(minus))
    values = values[keep]
    n = len(values)
    if n < 2:
        return float("nan"), float("nan")
    if isinstance(statistic, str):
        return _bootstrap_many([(values, minus[keep] if minus is not None else None)], statistic, rng, n_boot,
                               chunk_elements)[0]
    else:
        other = minus[keep] if minus is not None else None

        def function(draws: np.ndarray) -> np.ndarray:
            estimate = statistic(values[draws])
            return estimate - statistic(other[draws]) if other is not None else estimate
    rows = max(1, chunk_elements // n)
    estimates = np.concatenate([function(rng.integers(0, n, size=(min(rows, n_boot - start), n), dtype=np.int32))
                                for start in range(0, n_boot, rows)])
    low, high = np.nanpercentile(estimates, [2.5, 97.5])
    return float(low), float(high)


def _bootstrap_many(items: list[tuple[np.ndarray, np.ndarray | None]], statistic: str, rng: np.random.Generator,
                    n_boot: int = 1000, chunk_elements: int = 1_000_000, kernel=None) -> list[tuple[float, float]]:
    """Percentile CIs (95%) of several statistics over the same dyads, from one set of resamples.

    ``items`` are (values, minus or None) arrays without NaN, all of the same length n; each CI is
    for statistic(values) (- statistic(minus)) over the rows of ``rng.integers(0, n, size=(n_boot, n))``
    (drawn in chunks of rows, which yields the same stream), as :func:`_bootstrap_ci` for one item. With the compiled
    ``kernel`` the means over each resample are summed directly (same resamples, same CIs up to rounding).
    """
    n = len(items[0][0]) if items else 0
    if n < 2:
        return [(float("nan"), float("nan"))] * len(items)
    if statistic == "fisher":
        transform = lambda v: np.arctanh(np.clip(v, -0.999, 0.999))  # noqa: E731
        finish = np.tanh
    elif statistic == "mean":
        transform, finish = (lambda v: v), (lambda m: m)  # noqa: E731
    else:
        raise ValueError(f"unknown statistic {statistic!r}")
    columns = [(transform(values), transform(minus) if minus is not None else None) for values, minus in items]
    estimates: list[list[np.ndarray]] = [[] for _ in items]
    rows = max(1, chunk_elements // n)
    # one column per statistic (and one per subtracted null)
    stacked = np.column_stack([v for z, z_minus in columns for v in ((z,) if z_minus is None else (z, z_minus))])
    stacked_rows = np.ascontiguousarray(stacked.T) if kernel is not None else None
    for start in range(0, n_boot, rows):
        draws = rng.integers(0, n, size=(min(rows, n_boot - start), n), dtype=np.int32)
        if kernel is not None:
            means = kernel.resample_means(draws, stacked_rows)
        else:
            means = _resample_means(draws, stacked)
        del draws
        j = 0
        for out, (z, z_minus) in zip(estimates, columns):
            estimate = finish(means[:, j])
            j += 1
            if z_minus is not None:
                estimate = estimate - finish(means[:, j])
                j += 1
            out.append(estimate)
    result = []
    for out in estimates:
        low, high = np.nanpercentile(np.concatenate(out), [2.5, 97.5])
        result.append((float(low), float(high)))
    return result


def _resample_means(draws: np.ndarray, stacked: np.ndarray) -> np.ndarray:
    """Means of the columns of ``stacked`` over each row of dyad indices ``draws``: (resample x dyad) counts times
    the (dyad x column) matrix."""
    n = draws.shape[1]
    flat = draws.astype(np.int64)
    flat += (np.arange(len(draws), dtype=np.int64) * n)[:, None]
    counts = np.bincount(flat.reshape(-1), minlength=flat.size).reshape(flat.shape).astype(float)
    del flat
    return (counts @ stacked) / n


class _BootstrapPlan:
    """Bootstrap CI requests that share resamples: one set of dyad resamples per (statistic, dyads kept)."""

    def __init__(self, rng: np.random.Generator, n_boot: int, kernel=None):
        self.rng, self.n_boot, self.kernel = rng, n_boot, kernel
        self.groups: dict[tuple, list] = {}
        self.results: dict[tuple, list] = {}

    def request(self, statistic: str, values: np.ndarray, minus: np.ndarray | None = None) -> tuple:
        keep = ~np.isnan(values) if minus is None else ~(np.isnan(values) | np.isnan(minus))
        key = (statistic, keep.tobytes())
        group = self.groups.setdefault(key, [keep, []])
        item = (values[keep], minus[keep] if minus is not None else None)
        for index, (v, m) in enumerate(group[1]):   # identical requests (e.g. the observed CI) are computed once
            if np.array_equal(v, item[0]) and ((m is None and item[1] is None)
                                               or (m is not None and item[1] is not None and np.array_equal(m, item[1]))):
                return key, index
        group[1].append(item)
        return key, len(group[1]) - 1

    def run(self) -> None:
        for key, (_, items) in self.groups.items():
            self.results[key] = _bootstrap_many(items, key[0], self.rng, self.n_boot, kernel=self.kernel)

    def __getitem__(self, handle: tuple) -> tuple[float, float]:
        return self.results[handle[0]][handle[1]]


class _NullEngine:
    """Null statistics, conversation chunk by conversation chunk (memory bounded by ``chunk_elements``).

    Rows are laid out by conversation, then speaker, then row order; exchange pairs by conversation,
    then responder. A chunk is a run of whole conversations whose rows times the number of draws stay
    within ``chunk_elements``. For a chunk and a batch of B draws, a draw is a (B, rows) map of source
    rows (row i takes the codes of row ``source[b, i]``); the pair features (x, y, x^2, y^2, xy for depth;
    prev disclosed, both disclosed, next disclosed) are summed per responder with ``np.add.reduceat``
    over contiguous pair segments, then per conversation. Depth codes on a quarter-point grid are summed
    in float32 (those sums are exact), others in float64; disclosure counts are exact in float32.

    Shuffle and circular-shift draws permute each speaker's rows, so the linear sums (x, y, x^2, y^2) are
    conversation totals plus corrections from the few rows that open or answer other than exactly one pair;
    only xy and the disclosure counts are computed per pair. With depth on a small non-negative quarter-point
    grid, rows carry a one-byte code (level, disclosed), those draws permute the codes themselves, and each
    pair's four features are one packed int64 from a look-up table (exact integer sums). All paths give
    identical statistics.
    """

    def __init__(self, depth: np.ndarray, disclosed: np.ndarray, prev: np.ndarray, nxt: np.ndarray,
                 speaker_code: np.ndarray, n_speakers: int, conversation_code: np.ndarray, n_conversations: int):
        n = len(depth)
        grid = depth * 4
        exact = n == 0 or (bool(np.all(grid == np.round(grid))) and float(np.abs(depth).max()) <= 64)
        self.dtype = np.float32 if exact else np.float64
        self.index = np.int32 if n < 2**31 - 1 else np.int64
        self.depth = depth.astype(self.dtype)
        self.disclosed = disclosed.astype(np.float32)
        self.n_conversations = n_conversations
        # rows: by conversation, speaker, row (lexsort is stable)
        self.order = np.lexsort((speaker_code, conversation_code)).astype(self.index)
        position = np.empty(n, dtype=np.int64)
        position[self.order] = np.arange(n)
        speaker_sorted = speaker_code[self.order]
        new_speaker = np.r_[True, speaker_sorted[1:] != speaker_sorted[:-1]] if n else np.zeros(0, bool)
        self.speaker_start = np.flatnonzero(new_speaker)                      # layout speakers
        self.speaker_size = np.diff(np.r_[self.speaker_start, n])
        self.speaker_id = speaker_sorted[self.speaker_start]                  # speaker code per layout speaker
        self.row_speaker = (np.cumsum(new_speaker) - 1).astype(self.index)    # layout speaker per layout row
        self.speaker_rank = np.empty(n_speakers, dtype=np.int64)
        self.speaker_rank[self.speaker_id] = np.arange(len(self.speaker_id))
        del speaker_sorted, new_speaker
        conversation_sorted = conversation_code[self.order]
        self.conversation_row_start = np.searchsorted(conversation_sorted, np.arange(n_conversations + 1))
        self.conversation_speaker_start = np.searchsorted(
            conversation_sorted[self.speaker_start], np.arange(n_conversations + 1))
        del conversation_sorted
        # pairs: by conversation, responder, row
        responder = speaker_code[nxt]
        pair_conversation = conversation_code[nxt]
        pair_order = np.lexsort((nxt, responder, pair_conversation))
        self.lp = position[prev[pair_order]].astype(self.index)
        self.ln = position[nxt[pair_order]].astype(self.index)
        del position
        responder = responder[pair_order]
        pair_conversation = pair_conversation[pair_order]
        del pair_order
        self.conversation_pair_start = np.searchsorted(pair_conversation, np.arange(n_conversations + 1))
        new_segment = np.r_[True, responder[1:] != responder[:-1]] if len(responder) else np.zeros(0, bool)
        self.segment_start = np.flatnonzero(new_segment)
        self.segment_rank = self.speaker_rank[responder[self.segment_start]]   # layout speaker of each segment
        self.segment_conversation = pair_conversation[self.segment_start]
        self.n_pairs_conversation = np.diff(self.conversation_pair_start).astype(float)
        self.n_pairs_speaker = np.zeros(len(self.speaker_id))
        self.n_pairs_speaker[self.segment_rank] = np.diff(np.r_[self.segment_start, len(responder)])
        # Linear pair sums as row sums: sum over pairs of f(x) = sum over rows of w_prev[row] f(value of row), with
        # w_prev the number of pairs a row opens (w_next: answers). A draw that permutes each speaker's rows keeps
        # every conversation's total of f over its rows, so sum_pairs f(x) = total + sum over the few rows with
        # w_prev != 1 of (w_prev - 1) f(drawn value): only those "correction" rows are gathered per draw.
        w_prev = np.bincount(self.lp, minlength=n) if n else np.zeros(0, np.int64)
        w_next = np.bincount(self.ln, minlength=n) if n else np.zeros(0, np.int64)
        corrected = np.flatnonzero((w_prev != 1) | (w_next != 1))
        self.correction_row = corrected                                        # layout rows, by conversation
        self.correction_prev = (w_prev[corrected] - 1).astype(self.dtype)
        self.correction_next = (w_next[corrected] - 1).astype(self.dtype)
        del w_prev, w_next
        self.conversation_correction_start = np.searchsorted(corrected, self.conversation_row_start)
        layout_depth = self.depth[self.order].astype(float)
        row_conversation = np.repeat(np.arange(n_conversations), np.diff(self.conversation_row_start))
        self.total_depth = np.bincount(row_conversation, weights=layout_depth, minlength=n_conversations)
        self.total_depth2 = np.bincount(row_conversation, weights=layout_depth ** 2, minlength=n_conversations)
        del layout_depth, row_conversation
        self.packed = self._packing(exact, len(self.lp))
        self.layout_code = self.packed["code"][self.order] if self.packed is not None else None

    def _packing(self, exact: bool, n_pairs: int) -> dict | None:
        """Integer packing of the pair features for depth on a small quarter-point grid (else None).

        Each row gets a one-byte code (depth level, disclosed); a pair's features 16·x·y, prev disclosed,
        both disclosed and next disclosed are packed into one int64 by table look-up, so a draw needs one
        byte gather per row and one look-up and one sum per pair. Field widths are chosen so that no sum over
        a responder segment can overflow into the next field; the sums are exact (integers).
        """
        if not exact or not len(self.depth) or not n_pairs:
            return None
        levels, level_code = np.unique(self.depth, return_inverse=True)
        if len(levels) > 64 or levels[0] < 0:
            return None
        longest = int(np.diff(np.r_[self.segment_start, n_pairs]).max())
        product = int(round(float(levels[-1]) ** 2 * 16))
        bits_xy, bits_flag = (product * longest).bit_length(), longest.bit_length()
        if bits_xy + 3 * bits_flag > 63:
            return None
        n_codes = 2 * len(levels)
        code = (level_code.reshape(-1) * 2 + self.disclosed.astype(np.int64)).astype(np.uint8)
        cx, cy = np.divmod(np.arange(n_codes * n_codes), n_codes)
        x, y = levels[cx // 2].astype(float), levels[cy // 2].astype(float)
        px, ny = cx % 2, cy % 2
        shifts = (0, bits_xy, bits_xy + bits_flag, bits_xy + 2 * bits_flag)
        table = (np.rint(16 * x * y).astype(np.int64) << shifts[0]) | (px.astype(np.int64) << shifts[1]) \
            | ((px * ny).astype(np.int64) << shifts[2]) | (ny.astype(np.int64) << shifts[3])
        packed = {"code": code, "n_codes": n_codes, "table": table, "shifts": shifts,
                  "masks": ((1 << bits_xy) - 1, (1 << bits_flag) - 1), "level": levels.astype(self.dtype)}
        return packed

    def chunks(self, batch: int, chunk_elements: int):
        """(first, last) conversation ranges with about ``chunk_elements // batch`` rows each (whole conversations)."""
        rows = max(1, chunk_elements // max(batch, 1))
        start = 0
        bounds = self.conversation_row_start
        while start < self.n_conversations:
            stop = int(np.searchsorted(bounds, bounds[start] + rows, side="right")) - 1
            stop = min(max(stop, start + 1), self.n_conversations)
            yield start, stop
            start = stop

    # ------------------------------------------------------------------------------------ draws (source maps)

    def _identity(self, c0: int, c1: int, batch: int) -> np.ndarray:
        rows = self.order[self.conversation_row_start[c0]:self.conversation_row_start[c1]]
        return np.broadcast_to(rows[:, None], (len(rows), batch)).copy()

    def shuffle(self, rng: np.random.Generator, c0: int, c1: int, batch: int) -> np.ndarray:
        """(rows, B) source maps: a uniform random permutation of each speaker's rows, independently per draw.

        With packed codes (:meth:`_packing`) the draws permute the one-byte row codes themselves (uint8
        result, read by :meth:`statistics` as codes): the same draws, a quarter of the memory traffic."""
        if self.layout_code is not None:
            rows = self.layout_code[self.conversation_row_start[c0]:self.conversation_row_start[c1]]
            source = np.broadcast_to(rows[:, None], (len(rows), batch)).copy()
        else:
            source = self._identity(c0, c1, batch)
        r0 = self.conversation_row_start[c0]
        k0, k1 = self.conversation_speaker_start[c0], self.conversation_speaker_start[c1]
        sizes = self.speaker_size[k0:k1]
        starts = self.speaker_start[k0:k1] - r0
        for size in np.unique(sizes[sizes > 1]):
            block = starts[sizes == size][:, None] + np.arange(size)[None, :]          # (count, size) local rows
            # permute along a contiguous last axis (count, B, size) of 8-byte items: Generator.permuted has a fast
            # path for those (about twice as fast as for 1- or 4-byte items or a strided axis)
            values = source[block].transpose(0, 2, 1).astype(np.int64)
            rng.permuted(values, axis=2, out=values)
            source[block] = values.transpose(0, 2, 1)
        return source

    def rotate(self, rng: np.random.Generator, c0: int, c1: int, batch: int) -> np.ndarray:
        """(rows, B) source maps rotating each speaker's rows (in row order) by its own uniform offset per draw
        (as :func:`circular_shift_within`)."""
        r0, r1 = self.conversation_row_start[c0], self.conversation_row_start[c1]
        k0, k1 = self.conversation_speaker_start[c0], self.conversation_speaker_start[c1]
        sizes = self.speaker_size[k0:k1]
        shift = rng.integers(0, sizes[:, None], size=(k1 - k0, batch)).astype(self.index)
        speaker = self.row_speaker[r0:r1] - k0
        start = self.speaker_start[speaker + k0]
        size = sizes[speaker].astype(self.index)[:, None]
        local = shift[speaker]                                     # (rows, B), in the chunk's index dtype
        local += (np.arange(r0, r1) - start).astype(self.index)[:, None]
        local -= np.where(local >= size, size, self.index(0))
        local += start.astype(self.index)[:, None]
        return self.order[local] if self.layout_code is None else self.layout_code[local]

    def pseudo(self, pseudo: PseudoDyads, c0: int, c1: int, ks: range) -> np.ndarray:
        """(rows, K) pseudo-dyad source maps for candidates ``ks`` (as :meth:`PseudoDyads.source`)."""
        rows = self.order[self.conversation_row_start[c0]:self.conversation_row_start[c1]].astype(np.int64)
        source = np.broadcast_to(rows[:, None], (len(rows), len(ks))).copy()
        partner = pseudo.candidates[pseudo.conversation[rows], ks.start:ks.stop]         # (rows, K)
        take = pseudo.role_b[rows][:, None] & (partner >= 0)
        p = partner[take]
        index = np.broadcast_to(pseudo.index_in_role[rows][:, None], take.shape)[take]
        source[take] = pseudo.b_rows[pseudo.b_start[p] + index % pseudo.b_count[p]]
        return source

    # ------------------------------------------------------------------------------------ statistics

    def statistics(self, source: np.ndarray, c0: int, c1: int, speakers: bool = True, permutation: bool = False
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """(r_lag, conditional) per conversation ``c0..c1`` and conditional per layout speaker of the chunk,
        each (B, groups), for (rows of the chunk, B) ``source`` maps.

        ``permutation=True`` promises that every draw permutes each speaker's rows (shuffle, rotation): the
        linear depth sums then come from conversation totals plus the correction rows (same values, less work).
        """
        if permutation:
            return self._permutation_statistics(source, c0, c1, speakers)
        batch = source.shape[1]
        r0 = self.conversation_row_start[c0]
        q0, q1 = self.conversation_pair_start[c0], self.conversation_pair_start[c1]
        k0, k1 = self.conversation_speaker_start[c0], self.conversation_speaker_start[c1]
        n_conv = c1 - c0
        by_conversation = np.zeros((n_conv, 8, batch))
        by_speaker = np.zeros((k1 - k0, 3, batch)) if speakers else None
        if q1 > q0:
            g0, g1 = np.searchsorted(self.segment_start, [q0, q1])
            lp, ln = self.lp[q0:q1] - r0, self.ln[q0:q1] - r0
            n_pairs = q1 - q0
            features = np.empty((n_pairs, 8, batch), dtype=self.dtype)
            values = self.depth[source]                                            # (rows, B)
            x, y = values[lp], values[ln]
            del values
            features[:, 0], features[:, 1] = x, y
            np.multiply(x, x, out=features[:, 2])
            np.multiply(y, y, out=features[:, 3])
            np.multiply(x, y, out=features[:, 4])
            del x, y
            _flag_features(self, source, lp, ln, features[:, 5:8])
            segment_sums = _segment_sums(self, features.reshape(n_pairs, 8 * batch), g0, g1, q0)
            del features
            rows, summed = _conversation_sums(self, segment_sums, g0, g1, c0)
            by_conversation[rows] = summed.reshape(-1, 8, batch)
            if speakers:
                by_speaker[self.segment_rank[g0:g1] - k0] = segment_sums.reshape(-1, 8, batch)[:, 5:]
            del segment_sums
        return _finish_statistics(self, by_conversation, by_speaker, c0, c1, k0, k1, speakers)


def _permutation_statistics(self, source: np.ndarray, c0: int, c1: int, speakers: bool
                            ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """:meth:`_NullEngine.statistics` for within-speaker permutations: pair features xy, prev disclosed,
    both disclosed, next disclosed (packed into one integer per pair when the codes allow); sums of x, y,
    x^2, y^2 from conversation totals and the correction rows."""
    from scipy import sparse

    batch = source.shape[1]
    r0 = self.conversation_row_start[c0]
    q0, q1 = self.conversation_pair_start[c0], self.conversation_pair_start[c1]
    k0, k1 = self.conversation_speaker_start[c0], self.conversation_speaker_start[c1]
    n_conv = c1 - c0
    sums = np.zeros((n_conv, 8, batch))                       # sx, sy, sxx, syy, sxy, n_prev, n_both, n_next
    by_speaker = np.zeros((k1 - k0, 3, batch)) if speakers else None
    packed = self.packed
    if packed is not None:
        # (rows, B) one byte per row: drawn codes themselves (uint8, from shuffle/rotate) or a source map
        codes = source if source.dtype == np.uint8 else packed["code"][source]
        values = None
    else:
        values = self.depth[source]                                                # (rows, B)
    if q1 > q0:
        g0, g1 = np.searchsorted(self.segment_start, [q0, q1])
        lp, ln = self.lp[q0:q1] - r0, self.ln[q0:q1] - r0
        n_pairs = q1 - q0
        if packed is not None:
            pair_code = codes[lp].astype(np.uint16)
            pair_code *= packed["n_codes"]
            pair_code += codes[ln]
            features = packed["table"][pair_code]                                  # (pairs, B) packed int64
            del pair_code
            packed_sums = np.add.reduceat(features, self.segment_start[g0:g1] - q0, axis=0)
            del features
            mask_xy, mask_flag = packed["masks"]
            _, s1, s2, s3 = packed["shifts"]
            segment_sums = np.empty((g1 - g0, 4, batch))
            segment_sums[:, 0] = (packed_sums & mask_xy) / 16.0
            segment_sums[:, 1] = (packed_sums >> s1) & mask_flag
            segment_sums[:, 2] = (packed_sums >> s2) & mask_flag
            segment_sums[:, 3] = packed_sums >> s3
            del packed_sums
            segment_sums = segment_sums.reshape(g1 - g0, 4 * batch)
        else:
            features = np.empty((n_pairs, 4, batch), dtype=self.dtype)
            np.multiply(values[lp], values[ln], out=features[:, 0])
            _flag_features(self, source, lp, ln, features[:, 1:4])
            segment_sums = _segment_sums(self, features.reshape(n_pairs, 4 * batch), g0, g1, q0)
            del features
        rows, summed = _conversation_sums(self, segment_sums, g0, g1, c0)
        sums[rows, 4:] = summed.reshape(-1, 4, batch)
        if speakers:
            by_speaker[self.segment_rank[g0:g1] - k0] = segment_sums.reshape(-1, 4, batch)[:, 1:]
        del segment_sums
    # linear sums: conversation totals + corrections
    e0, e1 = self.conversation_correction_start[c0], self.conversation_correction_start[c1]
    sums[:, 0] = sums[:, 1] = self.total_depth[c0:c1, None]
    sums[:, 2] = sums[:, 3] = self.total_depth2[c0:c1, None]
    if e1 > e0:
        rows = self.correction_row[e0:e1] - r0
        drawn = values[rows] if packed is None else packed["level"][codes[rows] >> 1]     # (m, B)
        stacked = np.concatenate([drawn, drawn * drawn], axis=1)                   # (m, 2B)
        del drawn
        pointer = self.conversation_correction_start[c0:c1 + 1] - e0
        columns = np.arange(e1 - e0)
        for weights, (a, b) in ((self.correction_prev[e0:e1], (0, 2)), (self.correction_next[e0:e1], (1, 3))):
            matrix = sparse.csr_matrix((weights, columns, pointer), shape=(n_conv, e1 - e0))
            corrected = np.asarray(matrix @ stacked, dtype=float)
            sums[:, a] += corrected[:, :batch]
            sums[:, b] += corrected[:, batch:]
        del stacked
    return _finish_statistics(self, sums, by_speaker, c0, c1, k0, k1, speakers)


def _flag_features(self, source: np.ndarray, lp: np.ndarray, ln: np.ndarray, out: np.ndarray) -> None:
    """Write the disclosure features of each pair and draw into ``out`` (pairs, 3, B): prev disclosed, both
    disclosed, next disclosed, for (rows, B) ``source`` maps and the chunk's pair rows ``lp`` / ``ln``."""
    flags = self.disclosed[source]
    px, ny = flags[lp], flags[ln]
    del flags
    out[:, 0], out[:, 2] = px, ny
    np.multiply(px, ny, out=out[:, 1])


def _segment_sums(self, features: np.ndarray, g0: int, g1: int, q0: int) -> np.ndarray:
    """Sum the (pairs, k) feature rows of segments ``g0..g1`` (contiguous pairs from ``q0``): one sparse product."""
    from scipy import sparse

    n_pairs = features.shape[0]
    segments = np.r_[self.segment_start[g0:g1] - q0, n_pairs]
    to_segment = sparse.csr_matrix((np.ones(n_pairs, dtype=self.dtype), np.arange(n_pairs), segments),
                                   shape=(g1 - g0, n_pairs))
    return np.asarray(to_segment @ features, dtype=float)


def _conversation_sums(self, segment_sums: np.ndarray, g0: int, g1: int, c0: int) -> tuple[np.ndarray, np.ndarray]:
    """Sum segment rows by conversation; returns (conversation index within the chunk, sums)."""
    from scipy import sparse

    conversation = self.segment_conversation[g0:g1] - c0
    first = np.flatnonzero(np.r_[True, conversation[1:] != conversation[:-1]])
    to_conversation = sparse.csr_matrix((np.ones(g1 - g0), np.arange(g1 - g0), np.r_[first, g1 - g0]),
                                        shape=(len(first), g1 - g0))
    return conversation[first], to_conversation @ segment_sums


def _finish_statistics(self, sums: np.ndarray, by_speaker: np.ndarray | None, c0: int, c1: int, k0: int, k1: int,
                       speakers: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """r_lag and conditional reciprocity from the (conversations, 8, B) sums and (speakers, 3, B) counts."""
    sums = sums.transpose(1, 2, 0)                                                 # (8, B, conversations)
    sx, sy, sxx, syy, sxy = sums[:5]
    n = self.n_pairs_conversation[c0:c1][None]
    with np.errstate(invalid="ignore", divide="ignore"):
        numerator = n * sxy - sx * sy
        denominator = np.sqrt((n * sxx - sx**2) * (n * syy - sy**2))
        r_lag = np.clip(np.where((n >= 3) & (denominator > EPSILON), numerator / denominator, np.nan), -1, 1)
    conditional = _conditional(sums[5], sums[6], sums[7], n)
    conditional_spk = None
    if speakers:
        by_speaker = by_speaker.transpose(1, 2, 0)                                # (3, B, speakers)
        conditional_spk = _conditional(by_speaker[0], by_speaker[1], by_speaker[2], self.n_pairs_speaker[k0:k1][None])
    return r_lag, conditional, conditional_spk


_NullEngine._permutation_statistics = _permutation_statistics


def _conditional(n_prev: np.ndarray, n_both: np.ndarray, n_next: np.ndarray, n: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n_prev > 0, n_both / n_prev - n_next / n, np.nan)


class _Tally:
    """Running per-column permutation tallies: #{null > obs}, #{null == obs} (within EPSILON), #valid, sum."""

    def __init__(self, observed: np.ndarray):
        self.observed = observed
        self.greater = np.zeros(len(observed), dtype=np.int64)
        self.ties = np.zeros(len(observed), dtype=np.int64)
        self.valid = np.zeros(len(observed), dtype=np.int64)
        self.total = np.zeros(len(observed))

    def add(self, null: np.ndarray, columns: slice = slice(None)) -> None:
        """Tally (B, k) null draws of the columns ``columns``."""
        observed = self.observed[columns]
        valid = ~np.isnan(null)
        with np.errstate(invalid="ignore"):
            self.greater[columns] += ((null > observed + EPSILON) & valid).sum(axis=0)
            self.ties[columns] += ((np.abs(null - observed) <= EPSILON) & valid).sum(axis=0)
        self.valid[columns] += valid.sum(axis=0)
        self.total[columns] += np.where(valid, null, 0.0).sum(axis=0)

    def mean(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.valid > 0, self.total / np.maximum(self.valid, 1), np.nan)

    def p_value(self, rng: np.random.Generator | None) -> np.ndarray:
        """One-sided permutation p-value per column; NaN where the statistic is undefined.

        p = (1 + #{null > obs} + U * #{null == obs}) / (1 + B), U ~ U(0, 1) per column (ties within
        EPSILON broken at random). Without ties this is Phipson & Smyth's (1 + #{null >= obs}) / (B + 1);
        with ties (discrete statistics such as conditional reciprocity on short dyads) counting every
        tie as exceeding makes the test very conservative, while the random tie-break keeps it valid
        (p is never below the exact randomised p-value) and close to nominal size. ``rng=None``
        counts ties fully (U = 1). When every null draw ties with the observed value (e.g. every depth equal) the
        data carry no evidence either way and p is NaN, not a random number.
        """
        u = 1.0 if rng is None else rng.random(np.shape(self.observed))
        with np.errstate(invalid="ignore", divide="ignore"):
            p = (1.0 + self.greater + u * self.ties) / (1.0 + self.valid)
        degenerate = (self.ties == self.valid) & (self.valid > 0)
        return np.where(np.isnan(self.observed) | (self.valid == 0) | degenerate, np.nan, p)

    @classmethod
    def from_counts(cls, observed: np.ndarray, counts: np.ndarray, total: np.ndarray) -> "_Tally":
        """A tally from (3, k) counts (greater, ties, valid) and totals, as the compiled kernels return them."""
        tally = cls(observed)
        tally.greater, tally.ties, tally.valid = counts
        tally.total = total
        return tally


class _Remapped:
    """A :class:`_Tally` kept in the engine's speaker layout, read back in speaker-code order."""

    def __init__(self, tally: _Tally, rank: np.ndarray):
        self.tally, self.rank = tally, rank

    def mean(self) -> np.ndarray:
        return self.tally.mean()[self.rank]

    def p_value(self, rng: np.random.Generator | None) -> np.ndarray:
        return self.tally.p_value(rng)[self.rank]


class _CorpusDraws:
    """Per-draw corpus statistics accumulated over conversation chunks: Fisher-z mean of r, mean of Rec."""

    def __init__(self, n_draws: int):
        self.z = np.zeros(n_draws)
        self.z_count = np.zeros(n_draws)
        self.rec = np.zeros(n_draws)
        self.rec_count = np.zeros(n_draws)

    def add(self, draws: slice, r_lag: np.ndarray, conditional: np.ndarray) -> None:
        z = np.arctanh(np.clip(r_lag, -0.999, 0.999))
        valid = ~np.isnan(z)
        self.z[draws] += np.where(valid, z, 0.0).sum(axis=1)
        self.z_count[draws] += valid.sum(axis=1)
        valid = ~np.isnan(conditional)
        self.rec[draws] += np.where(valid, conditional, 0.0).sum(axis=1)
        self.rec_count[draws] += valid.sum(axis=1)

    @classmethod
    def from_sums(cls, sums: np.ndarray) -> "_CorpusDraws":
        """From (4, n_draws) sums: Fisher z, its count, Rec, its count (as the compiled kernel returns them)."""
        draws = cls(sums.shape[1])
        draws.z, draws.z_count, draws.rec, draws.rec_count = sums
        return draws

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        with np.errstate(invalid="ignore", divide="ignore"):
            r = np.tanh(np.where(self.z_count > 0, self.z / np.maximum(self.z_count, 1), np.nan))
            rec = np.where(self.rec_count > 0, self.rec / np.maximum(self.rec_count, 1), np.nan)
        return r, rec


def _compiled_kernel():
    """The compiled null kernels (:mod:`reciprocity.measure._null_kernel`), or None without Numba."""
    return optional_kernel("reciprocity.measure._null_kernel")


def null_engines() -> tuple[str, ...]:
    """Null engines usable here: ``"numba"`` (compiled kernels, optional extra ``numba``) and ``"numpy"``."""
    return ("numba", "numpy") if _compiled_kernel() is not None else ("numpy",)


def _compiled_permutation_nulls(kernel, engine: _NullEngine, key: int, circular: bool, n_permutations: int,
                                observed: PairStatistics, observed_spk_layout: np.ndarray
                                ) -> tuple[_Tally, _Tally, _Tally, _CorpusDraws]:
    """Shuffle or circular-shift nulls through :func:`reciprocity.measure._null_kernel.permutation_nulls`."""
    n_conv, n_spk = engine.n_conversations, len(engine.speaker_id)
    counts_r, counts_rec = np.zeros((3, n_conv), np.int64), np.zeros((3, n_conv), np.int64)
    counts_spk = np.zeros((3, n_spk), np.int64)
    total_r, total_rec, total_spk = np.zeros(n_conv), np.zeros(n_conv), np.zeros(n_spk)
    corpus = np.zeros((kernel.N_BLOCKS, 4, n_permutations))
    packed = engine.packed
    if packed is not None:
        codes, table, level = engine.layout_code, packed["table"], packed["level"].astype(np.float64)
        fields = np.array([packed["n_codes"], *packed["shifts"][1:], *packed["masks"]], dtype=np.int64)
    else:
        codes, table, level, fields = np.zeros(0, np.uint8), np.zeros(0, np.int64), np.zeros(0), np.zeros(6, np.int64)
    # the engine's own arrays as they are (any integer dtype; no int64 copies of the per-row and per-pair arrays)
    depth = engine.depth[engine.order].astype(np.float64) if packed is None else np.zeros(0)
    disclosed = engine.disclosed[engine.order].astype(np.uint8) if packed is None else np.zeros(0, np.uint8)
    kernel.permutation_nulls(
        np.uint64(key), circular, n_permutations, depth, disclosed, codes, table, level, fields,
        np.column_stack([engine.total_depth, engine.total_depth2]), engine.correction_row,
        np.column_stack([engine.correction_prev, engine.correction_next]).astype(np.float64),
        engine.conversation_row_start, engine.conversation_speaker_start, engine.speaker_start, engine.speaker_size,
        engine.conversation_correction_start, np.searchsorted(engine.segment_start, engine.conversation_pair_start),
        np.r_[engine.segment_start, len(engine.lp)], engine.segment_rank, engine.lp, engine.ln,
        engine.n_pairs_speaker, observed.r_lag, observed.conditional, observed_spk_layout,
        counts_r, counts_rec, counts_spk, total_r, total_rec, total_spk, corpus)
    del depth, disclosed
    return (_Tally.from_counts(observed.r_lag, counts_r, total_r),
            _Tally.from_counts(observed.conditional, counts_rec, total_rec),
            _Tally.from_counts(observed_spk_layout, counts_spk, total_spk),
            _CorpusDraws.from_sums(corpus.sum(axis=0)))


def _compiled_pseudo_nulls(kernel, engine: _NullEngine, pseudo: PseudoDyads, observed: PairStatistics
                           ) -> tuple[_Tally, _Tally, np.ndarray, np.ndarray]:
    """Pseudo-dyad nulls through :func:`reciprocity.measure._null_kernel.pseudo_nulls`; the per-candidate
    statistics are returned as (dyad, candidate) arrays: Fisher z of r_lag, and conditional reciprocity."""
    n_conv = engine.n_conversations
    counts_r, counts_rec = np.zeros((3, n_conv), np.int64), np.zeros((3, n_conv), np.int64)
    total_r, total_rec = np.zeros(n_conv), np.zeros(n_conv)
    # (dyad, candidate) layout: one dyad's candidates are contiguous for the corpus-level picks; Fisher z, not r
    pseudo_z = np.full((n_conv, pseudo.k), np.nan, dtype=np.float32)
    pseudo_rec = np.full((n_conv, pseudo.k), np.nan, dtype=np.float32)
    kernel.pseudo_nulls(
        engine.depth, engine.disclosed.astype(np.uint8), engine.order[engine.lp], engine.order[engine.ln],
        engine.conversation_pair_start, pseudo.eligible, pseudo.candidates, pseudo.role_b, pseudo.index_in_role,
        engine.depth[pseudo.b_rows], engine.disclosed[pseudo.b_rows].astype(np.uint8), pseudo.b_start,
        pseudo.b_count, observed.r_lag, observed.conditional, counts_r, counts_rec, total_r, total_rec,
        pseudo_z, pseudo_rec)
    return (_Tally.from_counts(observed.r_lag, counts_r, total_r),
            _Tally.from_counts(observed.conditional, counts_rec, total_rec), pseudo_z, pseudo_rec)


def reciprocity_tests(coded: pd.DataFrame, pairs: pd.DataFrame, *, n_permutations: int = 200,
                      seed: int = 0, pseudo_pool: int = 99, n_boot: int = 1000, batch_elements: int = 1_000_000,
                      engine: str = "auto") -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Observed reciprocity against shuffle, circular-shift and pseudo-dyad nulls.

    Returns a per-conversation frame, a per-speaker (as responder) frame and a corpus summary.

    Per conversation: ``lagged_matching``, ``matching_index``, ``conditional_reciprocity`` and,
    for the shuffle null, ``*_null`` / ``*_p`` (unchanged names); for the other nulls
    ``*_null_circular``, ``*_p_circular``, ``*_null_pseudo``, ``*_p_pseudo`` (pseudo-dyad
    columns are NaN for conversations without exactly two speakers). Per speaker: conditional
    reciprocity as responder with the shuffle and circular-shift nulls.

    Summary: ``lagged_matching`` and ``conditional_reciprocity`` (shuffle null, as before:
    observed, null_mean, observed_minus_null, p_value, ci95, plus difference_ci95) and
    ``nulls`` = {shuffle, circular_shift, pseudo_dyad} each with both statistics summarised the
    same way plus ``share_dyads_p_below_05``.

    ``engine``: ``"numba"`` (compiled kernels of :mod:`reciprocity.measure._null_kernel`, parallel over
    conversations; needs the optional ``numba`` extra), ``"numpy"`` (the chunked reference engine below) or
    ``"auto"`` (numba when importable). The engines draw the shuffle and circular-shift permutations from different
    random streams (equal in distribution, tested); pseudo-dyads, corpus-level pseudo-dyad picks, bootstrap
    resamples and tie-breaks come from their own seeded streams, so those agree between engines.

    NumPy engine: null draws are generated and reduced conversation chunk by conversation chunk, each chunk
    holding about ``batch_elements`` (rows x draws) values (a quarter of that for the pseudo-dyad statistics, which
    carry twice the features per pair; their candidates are enumerated, so that chunking changes no result):
    memory stays bounded, per-dyad p-values and null means are tallied as the draws come, and only the
    corpus-level draw statistics (sums of Fisher z and of Rec per draw) are kept. Pair features are summed per
    responder with one sparse indicator product per chunk. The shuffle uses ``Generator.permuted`` on blocks of
    equal-size speakers; draws are deterministic for a seed and ``batch_elements``. The compiled engine tallies
    each conversation's draws as it makes them (no rows x draws array at all); its draws are deterministic for a
    seed whatever the number of threads. Bootstrap CIs that resample the same dyads share one set of
    resamples (so the shuffle and circular-shift nulls report the same ``ci95`` of the observed
    statistic; the ``difference_ci95`` of each null uses the same resamples).
    """
    # independent streams, so that each part's draws do not depend on how the others were drawn (or on the engine)
    rng = np.random.default_rng(seed)                       # NumPy shuffle and circular-shift draws
    tie_rng = np.random.default_rng([seed, 1])              # tie-breaks of the p-values
    pseudo_rng = np.random.default_rng([seed, 3])           # pseudo-dyad length ties, corpus-level partner picks
    bootstrap_rng = np.random.default_rng([seed, 4])        # bootstrap resamples of dyads
    conversations, conversation_code = sorted_codes(coded[CONVERSATION])
    # (conversation, speaker) groups numbered in order of first appearance (as groupby(sort=False).ngroup())
    speaker_in_table = pd.factorize(coded[SPEAKER])[0].astype(np.int64)
    speaker_code = pd.factorize(conversation_code.astype(np.int64) * (int(speaker_in_table.max()) + 1 if len(coded)
                                                                      else 1) + speaker_in_table)[0]
    del speaker_in_table
    if len(coded) < 2**31 - 1:            # row-length code arrays in int32: less memory, same codes
        conversation_code, speaker_code = conversation_code.astype(np.int32), speaker_code.astype(np.int32)
    n_spk = int(speaker_code.max()) + 1 if len(speaker_code) else 0
    first_row = np.zeros(n_spk, dtype=np.int64)
    first_row[speaker_code[::-1]] = np.arange(len(speaker_code))[::-1]
    depth = coded["depth"].to_numpy(float)
    disclosed = coded["disclosure"].to_numpy(bool)
    prev, nxt = pairs["prev"].to_numpy(), pairs["next"].to_numpy()
    # a pair is a speaker change within a conversation (THEORY.md §3): the null engines rely on it
    invalid = (speaker_code[prev] == speaker_code[nxt]) | (conversation_code[prev] != conversation_code[nxt])
    if invalid.any():
        first = int(np.flatnonzero(invalid)[0])
        raise ValueError(f"pairs row {first} (prev={int(prev[first])}, next={int(nxt[first])}) is not a speaker "
                         f"change within one conversation; {int(invalid.sum())} such pair(s) (use turn_pairs)")
    del invalid
    by_conversation = conversation_code[nxt]
    by_responder = speaker_code[nxt]
    n_conv = len(conversations)

    observed = pair_statistics(depth, disclosed, prev, nxt, by_conversation, n_conv)
    observed_spk = pair_statistics(depth, disclosed, prev, nxt, by_responder, n_spk)
    del by_conversation, by_responder
    if engine not in ("auto", "numba", "numpy"):
        raise ValueError(f"engine must be 'auto', 'numba' or 'numpy', got {engine!r}")
    kernel = _compiled_kernel() if engine != "numpy" else None
    if engine == "numba" and kernel is None:
        raise ImportError("engine='numba' needs numba: pip install 'reciprocity[numba]'")
    layout = _NullEngine(depth, disclosed, prev, nxt, speaker_code, n_spk, conversation_code, n_conv)
    del depth, disclosed, prev, nxt                                # the layout keeps its own (narrower) copies
    rank = layout.speaker_rank                                     # speaker code -> layout speaker
    observed_spk_layout = np.empty(n_spk)
    observed_spk_layout[rank] = observed_spk.conditional

    # draws per chunk: all of them unless the largest conversation alone would exceed the element budget
    largest = int(np.diff(layout.conversation_row_start).max()) if n_conv else 1
    draw_batch = int(max(1, min(max(n_permutations, pseudo_pool), batch_elements // max(largest, 1))))

    tally_r: dict[str, _Tally] = {}
    tally_rec: dict[str, _Tally] = {}
    tally_rec_spk: dict[str, _Tally] = {}
    corpus: dict[str, _CorpusDraws] = {}
    keys = np.random.default_rng([seed, 2]).integers(0, 2**63, size=2)    # compiled draws: own stream
    for name in ("shuffle", "circular") if kernel is not None else ():
        tally_r[name], tally_rec[name], tally_rec_spk[name], corpus[name] = _compiled_permutation_nulls(
            kernel, layout, int(keys[int(name == "circular")]), name == "circular", n_permutations, observed,
            observed_spk_layout)
    for name in ("shuffle", "circular") if kernel is None else ():
        draw = layout.shuffle if name == "shuffle" else layout.rotate
        tally_r[name], tally_rec[name] = _Tally(observed.r_lag), _Tally(observed.conditional)
        tally_rec_spk[name] = _Tally(observed_spk_layout)
        corpus[name] = _CorpusDraws(n_permutations)
        for start in range(0, n_permutations, draw_batch):
            stop = min(n_permutations, start + draw_batch)
            for c0, c1 in layout.chunks(stop - start, batch_elements):
                r_lag, conditional, conditional_spk = layout.statistics(draw(rng, c0, c1, stop - start), c0, c1,
                                                                        permutation=True)
                k0, k1 = layout.conversation_speaker_start[c0], layout.conversation_speaker_start[c1]
                tally_r[name].add(r_lag, slice(c0, c1))
                tally_rec[name].add(conditional, slice(c0, c1))
                tally_rec_spk[name].add(conditional_spk, slice(k0, k1))
                corpus[name].add(slice(start, stop), r_lag, conditional)
                del r_lag, conditional, conditional_spk

    pseudo = pseudo_dyads(conversation_code, coded[SPEAKER].to_numpy(), n_conv, pseudo_rng, pseudo_pool,
                          speaker_code=speaker_code)
    if kernel is not None:
        tally_r["pseudo"], tally_rec["pseudo"], pseudo_z, pseudo_rec = _compiled_pseudo_nulls(
            kernel, layout, pseudo, observed)
    else:
        pseudo_r = np.full((pseudo.k, n_conv), np.nan, dtype=np.float32)   # kept for the corpus-level draws only
        pseudo_rec = np.full((pseudo.k, n_conv), np.nan, dtype=np.float32)
        tally_r["pseudo"], tally_rec["pseudo"] = _Tally(observed.r_lag), _Tally(observed.conditional)
    # pseudo-dyad statistics take the general path (8 features per pair and draw): smaller chunks bound its memory
    # like the permutation path's; the candidates are enumerated, so the chunking does not change any result
    pseudo_elements = max(1, batch_elements // 4)
    for start in range(0, pseudo.k if kernel is None else 0, draw_batch):
        ks = range(start, min(pseudo.k, start + draw_batch))
        for c0, c1 in layout.chunks(len(ks), pseudo_elements):
            eligible = pseudo.eligible[c0:c1]
            if not eligible.any():
                continue
            r_lag, conditional, _ = layout.statistics(layout.pseudo(pseudo, c0, c1, ks), c0, c1, speakers=False)
            r_lag = np.where(eligible, r_lag, np.nan)
            conditional = np.where(eligible, conditional, np.nan)
            tally_r["pseudo"].add(r_lag, slice(c0, c1))
            tally_rec["pseudo"].add(conditional, slice(c0, c1))
            pseudo_r[ks.start:ks.stop, c0:c1], pseudo_rec[ks.start:ks.stop, c0:c1] = r_lag, conditional
            del r_lag, conditional
    tally_rec_spk = {name: _Remapped(tally, rank) for name, tally in tally_rec_spk.items()}
    # the layout and the candidate lists are not needed any more (lower peak memory for the summary and bootstrap)
    n_candidates, pseudo_eligible = pseudo.k, pseudo.eligible
    del layout, pseudo

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # groups with no defined statistic
        columns = {
            CONVERSATION: conversations,
            "n_exchanges": observed.n_pairs.astype(int),
            "lagged_matching": observed.r_lag,
            "lagged_matching_null": tally_r["shuffle"].mean(),
            "lagged_matching_p": tally_r["shuffle"].p_value(tie_rng),
            "matching_index": observed.matching,
            "conditional_reciprocity": observed.conditional,
            "conditional_reciprocity_null": tally_rec["shuffle"].mean(),
            "conditional_reciprocity_p": tally_rec["shuffle"].p_value(tie_rng),
        }
        for name in ("circular", "pseudo"):
            columns[f"lagged_matching_null_{name}"] = tally_r[name].mean()
            columns[f"lagged_matching_p_{name}"] = tally_r[name].p_value(tie_rng)
            columns[f"conditional_reciprocity_null_{name}"] = tally_rec[name].mean()
            columns[f"conditional_reciprocity_p_{name}"] = tally_rec[name].p_value(tie_rng)
        per_conversation = pd.DataFrame(columns)
        per_speaker = pd.DataFrame({
            CONVERSATION: coded[CONVERSATION].to_numpy()[first_row],
            SPEAKER: coded[SPEAKER].to_numpy()[first_row],
            "n_responses": observed_spk.n_pairs.astype(int),
            "conditional_reciprocity": observed_spk.conditional,
            "conditional_reciprocity_null": tally_rec_spk["shuffle"].mean(),
            "conditional_reciprocity_p": tally_rec_spk["shuffle"].p_value(tie_rng),
            "conditional_reciprocity_null_circular": tally_rec_spk["circular"].mean(),
            "conditional_reciprocity_p_circular": tally_rec_spk["circular"].p_value(tie_rng),
        })

    finite_rec = np.isfinite(observed.conditional)
    nulls = {}
    bootstrap = _BootstrapPlan(bootstrap_rng, n_boot, kernel)
    for name in NULLS:
        if name == "pseudo":
            # corpus null draws: each draw pairs every dyad with one of its K partners at random
            draws = _CorpusDraws(n_permutations if n_candidates else 0)
            columns = np.arange(n_conv)
            # a quarter of the element budget per step: small temporaries (the draws do not depend on the step)
            step = max(1, batch_elements // 4 // max(n_conv, 1))
            for start in range(0, n_permutations if n_candidates else 0, step):
                stop = min(n_permutations, start + step)
                pick = pseudo_rng.integers(0, n_candidates, size=(stop - start, n_conv))
                if kernel is not None:
                    sums = kernel.picked_draw_sums(pseudo_z, pseudo_rec, pick)
                    for target, values in zip((draws.z, draws.z_count, draws.rec, draws.rec_count), sums):
                        target[start:stop] += values
                else:
                    draws.add(slice(start, stop), pseudo_r[pick, columns].astype(float),
                              pseudo_rec[pick, columns].astype(float))
                del pick
            draws_r, draws_rec = draws.result()
            mask = pseudo_eligible
            n_null = n_candidates
        else:
            draws_r, draws_rec = corpus[name].result()
            mask = np.ones(n_conv, dtype=bool)
            n_null = n_permutations
        obs_r = fisher_mean(observed.r_lag[mask])
        obs_rec_values = observed.conditional[mask & finite_rec]
        obs_rec = float(obs_rec_values.mean()) if len(obs_rec_values) else float("nan")
        suffix = "" if name == "shuffle" else "_" + name
        dyad_null_r = np.where(mask, per_conversation[f"lagged_matching_null{suffix}"].to_numpy(), np.nan)
        dyad_null_rec = np.where(mask, per_conversation[f"conditional_reciprocity_null{suffix}"].to_numpy(), np.nan)
        r_values = np.where(mask, observed.r_lag, np.nan)
        rec_values = np.where(mask, observed.conditional, np.nan)
        nulls[NULL_LABELS[name]] = {
            "n_null": int(n_null),
            "n_dyads": int(mask.sum()),
            "lagged_matching": (obs_r, draws_r, bootstrap.request("fisher", r_values),
                                bootstrap.request("fisher", r_values, dyad_null_r),
                                _share_below(per_conversation[f"lagged_matching_p{suffix}"].to_numpy())),
            "conditional_reciprocity": (obs_rec, draws_rec, bootstrap.request("mean", rec_values),
                                        bootstrap.request("mean", rec_values, dyad_null_rec),
                                        _share_below(per_conversation[f"conditional_reciprocity_p{suffix}"].to_numpy())),
        }
    bootstrap.run()
    for entry in nulls.values():
        for statistic in ("lagged_matching", "conditional_reciprocity"):
            observed_value, draws, ci, difference_ci, share = entry[statistic]
            entry[statistic] = _summary(observed_value, draws, bootstrap[ci], bootstrap[difference_ci], share)
    summary = {
        "n_permutations": n_permutations,
        "seed": seed,
        "lagged_matching": nulls["shuffle"]["lagged_matching"],
        "conditional_reciprocity": nulls["shuffle"]["conditional_reciprocity"],
        "nulls": nulls,
    }
    return per_conversation, per_speaker, summary


def _share_below(p: np.ndarray, alpha: float = 0.05) -> float:
    p = p[~np.isnan(p)]
    return float(np.mean(p <= alpha)) if len(p) else float("nan")


def _summary(observed: float, null: np.ndarray, ci: tuple[float, float],
             difference_ci: tuple[float, float] = (float("nan"), float("nan")),
             share_below: float = float("nan")) -> dict:
    null = null[~np.isnan(null)]
    base = {"ci95": list(ci), "difference_ci95": list(difference_ci), "share_dyads_p_below_05": share_below}
    if np.isnan(observed) or not len(null):
        return {"observed": observed, "null_mean": float("nan"), "observed_minus_null": float("nan"),
                "p_value": float("nan"), **base}
    null_mean = float(null.mean())
    return {
        "observed": observed,
        "null_mean": null_mean,
        "observed_minus_null": observed - null_mean,
        "p_value": float((1 + np.sum(null >= observed - EPSILON)) / (1 + len(null))),
        **base,
    }
