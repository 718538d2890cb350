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
:func:`_p_value`). Corpus-level nulls average the per-dyad null draws (for pseudo-dyads,
each draw picks one of the K partners per dyad at random). Bootstrap CIs are percentile
intervals over dyads (B_boot resamples of dyads drawn with replacement, vectorised), for the
observed corpus statistic and for observed - null.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

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
    """Lagged matching, matching index and conditional reciprocity per group, from sums (vectorised)."""

    def total(values: np.ndarray) -> np.ndarray:
        return np.bincount(group, weights=values, minlength=n_groups)

    x, y = depth[prev], depth[nxt]
    n = np.bincount(group, minlength=n_groups).astype(float)
    sx, sy = total(x), total(y)
    with np.errstate(invalid="ignore", divide="ignore"):
        numerator = n * total(x * y) - sx * sy
        denominator = np.sqrt((n * total(x * x) - sx**2) * (n * total(y * y) - sy**2))
        r_lag = np.where((n >= 3) & (denominator > EPSILON), numerator / denominator, np.nan)
        matching = total(1.0 - np.abs(y - x) / (x + y + EPSILON)) / n
        prev_disclosed = disclosed[prev].astype(float)
        next_disclosed = disclosed[nxt].astype(float)
        n_prev = total(prev_disclosed)
        conditional = np.where(
            n_prev > 0, total(prev_disclosed * next_disclosed) / n_prev - total(next_disclosed) / n, np.nan
        )
    return PairStatistics(n, np.clip(r_lag, -1, 1), matching, conditional)


def shuffle_within(groups: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A permutation of row positions that only moves rows within their group."""
    home = np.argsort(groups, kind="stable")
    shuffled = np.lexsort((rng.random(len(groups)), groups))
    permutation = np.empty_like(home)
    permutation[home] = shuffled
    return permutation



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
                 rng: np.random.Generator, pool: int = 99) -> PseudoDyads:
    """Pair each two-speaker conversation with its ``pool`` nearest-in-length others (vectorised)."""
    n = len(conversation_code)
    speaker_code = pd.factorize(pd.Series(conversation_code).astype(str) + "\x1f" + pd.Series(speakers).astype(str))[0]
    first_speaker = pd.Series(speaker_code).groupby(conversation_code).transform("first").to_numpy()
    role_b = speaker_code != first_speaker
    n_speakers = pd.Series(speaker_code).groupby(conversation_code).nunique().reindex(range(n_conversations)).fillna(0).to_numpy()
    index_in_role = pd.Series(role_b).groupby([conversation_code, role_b]).cumcount().to_numpy()
    b_count = np.bincount(conversation_code[role_b], minlength=n_conversations)
    b_start = np.cumsum(b_count) - b_count
    b_rows = np.flatnonzero(role_b)[np.argsort(conversation_code[role_b], kind="stable")]
    two = np.flatnonzero((n_speakers == 2) & (b_count > 0))
    k = int(min(pool, max(len(two) - 1, 0)))
    candidates = np.full((n_conversations, max(k, 0)), -1, dtype=np.int64)
    eligible = np.zeros(n_conversations, dtype=bool)
    if k >= 1:
        length = np.bincount(conversation_code, minlength=n_conversations)[two]
        ranked = two[np.lexsort((rng.random(len(two)), length))]
        m = len(ranked)
        q = np.arange(m)
        lo = np.clip(q - k // 2, 0, m - 1 - k)
        offsets = lo[:, None] + np.arange(k)[None, :]
        offsets = offsets + (offsets >= q[:, None])       # skip the dyad itself
        candidates[ranked] = ranked[offsets]
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


def _p_value(observed: np.ndarray, null: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
    """One-sided permutation p-value per column; NaN where the statistic is undefined.

    p = (1 + #{null > obs} + U * #{null == obs}) / (1 + B), U ~ U(0, 1) per column (ties within
    EPSILON broken at random). Without ties this is Phipson & Smyth's (1 + #{null >= obs}) / (B + 1);
    with ties (discrete statistics such as conditional reciprocity on short dyads) counting every
    tie as exceeding makes the test very conservative, while the random tie-break keeps it valid
    (p is never below the exact randomised p-value) and close to nominal size. ``rng=None``
    counts ties fully (U = 1).
    """
    valid = ~np.isnan(null)
    greater = ((null > observed + EPSILON) & valid).sum(axis=0)
    ties = ((np.abs(null - observed) <= EPSILON) & valid).sum(axis=0)
    u = 1.0 if rng is None else rng.random(np.shape(observed))
    with np.errstate(invalid="ignore", divide="ignore"):
        p = (1.0 + greater + u * ties) / (1.0 + valid.sum(axis=0))
    return np.where(np.isnan(observed) | (valid.sum(axis=0) == 0), np.nan, p)


def bootstrap_indices(n: int, rng: np.random.Generator, n_boot: int = 1000) -> np.ndarray:
    """(n_boot, n) matrix of dyad indices drawn with replacement."""
    return rng.integers(0, n, size=(n_boot, n)) if n else np.zeros((n_boot, 0), dtype=np.int64)


def _bootstrap_ci(values: np.ndarray, statistic, rng: np.random.Generator, n_boot: int = 1000,
                  minus: np.ndarray | None = None) -> tuple[float, float]:
    """Percentile bootstrap CI (95%) over dyads, vectorised.

    ``statistic`` is ``"fisher"`` (Fisher-z mean), ``"mean"``, or a callable mapping an
    (n_boot, n) matrix to n_boot estimates along axis 1. With ``minus`` (same length as
    ``values``) the CI is for statistic(values) - statistic(minus) on the same resampled dyads.
    """
    keep = ~np.isnan(values) if minus is None else ~(np.isnan(values) | np.isnan(minus))
    values = values[keep]
    if len(values) < 2:
        return float("nan"), float("nan")
    function = {"fisher": lambda m: fisher_mean_rows(m, axis=1), "mean": lambda m: _nanmean_rows(m, axis=1)}.get(
        statistic, statistic) if isinstance(statistic, str) else statistic
    draws = bootstrap_indices(len(values), rng, n_boot)
    estimates = function(values[draws])
    if minus is not None:
        estimates = estimates - function(minus[keep][draws])
    low, high = np.nanpercentile(estimates, [2.5, 97.5])
    return float(low), float(high)


def reciprocity_tests(coded: pd.DataFrame, pairs: pd.DataFrame, *, n_permutations: int = 200,
                      seed: int = 0, pseudo_pool: int = 99, n_boot: int = 1000
                      ) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
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
    """
    rng = np.random.default_rng(seed)
    tie_rng = np.random.default_rng([seed, 1])  # independent stream: tie-breaks do not shift the nulls
    conversations, conversation_code = np.unique(coded[CONVERSATION].to_numpy(), return_inverse=True)
    speaker_key = coded[CONVERSATION].astype(str) + "\x1f" + coded[SPEAKER].astype(str)
    speaker_code, speaker_names = pd.factorize(speaker_key)
    depth = coded["depth"].to_numpy(float)
    disclosed = coded["disclosure"].to_numpy(bool)
    prev, nxt = pairs["prev"].to_numpy(), pairs["next"].to_numpy()
    by_conversation = conversation_code[nxt]
    by_responder = speaker_code[nxt]
    n_conv, n_spk = len(conversations), len(speaker_names)

    def per_conversation_stats(source: np.ndarray) -> PairStatistics:
        return pair_statistics(depth[source], disclosed[source], prev, nxt, by_conversation, n_conv)

    def per_speaker_stats(source: np.ndarray) -> PairStatistics:
        return pair_statistics(depth[source], disclosed[source], prev, nxt, by_responder, n_spk)

    observed = per_conversation_stats(np.arange(len(depth)))
    observed_spk = per_speaker_stats(np.arange(len(depth)))

    null_r: dict[str, np.ndarray] = {}
    null_rec: dict[str, np.ndarray] = {}
    null_rec_spk: dict[str, np.ndarray] = {}
    for name, draw in (("shuffle", shuffle_within), ("circular", circular_shift_within)):
        null_r[name] = np.full((n_permutations, n_conv), np.nan)
        null_rec[name] = np.full((n_permutations, n_conv), np.nan)
        null_rec_spk[name] = np.full((n_permutations, n_spk), np.nan)
        for b in range(n_permutations):
            order = draw(speaker_code, rng)
            stats = per_conversation_stats(order)
            null_r[name][b], null_rec[name][b] = stats.r_lag, stats.conditional
            null_rec_spk[name][b] = per_speaker_stats(order).conditional

    pseudo = pseudo_dyads(conversation_code, coded[SPEAKER].to_numpy(), n_conv, rng, pseudo_pool)
    pseudo_r = np.full((pseudo.k, n_conv), np.nan)
    pseudo_rec = np.full((pseudo.k, n_conv), np.nan)
    for k in range(pseudo.k):
        stats = per_conversation_stats(pseudo.source(k))
        pseudo_r[k] = np.where(pseudo.eligible, stats.r_lag, np.nan)
        pseudo_rec[k] = np.where(pseudo.eligible, stats.conditional, np.nan)
    null_r["pseudo"], null_rec["pseudo"] = pseudo_r, pseudo_rec

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # groups with no defined statistic
        columns = {
            CONVERSATION: conversations,
            "n_exchanges": observed.n_pairs.astype(int),
            "lagged_matching": observed.r_lag,
            "lagged_matching_null": np.nanmean(null_r["shuffle"], axis=0),
            "lagged_matching_p": _p_value(observed.r_lag, null_r["shuffle"], tie_rng),
            "matching_index": observed.matching,
            "conditional_reciprocity": observed.conditional,
            "conditional_reciprocity_null": np.nanmean(null_rec["shuffle"], axis=0),
            "conditional_reciprocity_p": _p_value(observed.conditional, null_rec["shuffle"], tie_rng),
        }
        for name in ("circular", "pseudo"):
            columns[f"lagged_matching_null_{name}"] = np.nanmean(null_r[name], axis=0)
            columns[f"lagged_matching_p_{name}"] = _p_value(observed.r_lag, null_r[name], tie_rng)
            columns[f"conditional_reciprocity_null_{name}"] = np.nanmean(null_rec[name], axis=0)
            columns[f"conditional_reciprocity_p_{name}"] = _p_value(observed.conditional, null_rec[name], tie_rng)
        per_conversation = pd.DataFrame(columns)
        conversation_of, speaker_of = zip(*(name.split("\x1f", 1) for name in speaker_names)) if n_spk else ((), ())
        per_speaker = pd.DataFrame({
            CONVERSATION: list(conversation_of),
            SPEAKER: list(speaker_of),
            "n_responses": observed_spk.n_pairs.astype(int),
            "conditional_reciprocity": observed_spk.conditional,
            "conditional_reciprocity_null": np.nanmean(null_rec_spk["shuffle"], axis=0),
            "conditional_reciprocity_p": _p_value(observed_spk.conditional, null_rec_spk["shuffle"], tie_rng),
            "conditional_reciprocity_null_circular": np.nanmean(null_rec_spk["circular"], axis=0),
            "conditional_reciprocity_p_circular": _p_value(observed_spk.conditional, null_rec_spk["circular"], tie_rng),
        })

    mean_r = fisher_mean(observed.r_lag)
    finite_rec = np.isfinite(observed.conditional)
    mean_rec = float(np.mean(observed.conditional[finite_rec])) if finite_rec.any() else float("nan")
    nulls = {}
    for name in NULLS:
        r_null, rec_null = null_r[name], null_rec[name]
        if name == "pseudo":
            # corpus null draws: each draw pairs every dyad with one of its K partners at random
            if pseudo.k:
                pick = rng.integers(0, pseudo.k, size=(n_permutations, n_conv))
                r_null = np.take_along_axis(r_null, pick, axis=0)
                rec_null = np.take_along_axis(rec_null, pick, axis=0)
            mask = pseudo.eligible
        else:
            mask = np.ones(n_conv, dtype=bool)
        corpus_r = fisher_mean_rows(r_null, axis=1) if len(r_null) else np.array([])
        corpus_rec = _nanmean_rows(rec_null, axis=1) if len(rec_null) else np.array([])
        obs_r = fisher_mean(observed.r_lag[mask])
        obs_rec_values = observed.conditional[mask & finite_rec]
        obs_rec = float(obs_rec_values.mean()) if len(obs_rec_values) else float("nan")
        dyad_null_r = np.where(mask, per_conversation[f"lagged_matching_null{'' if name == 'shuffle' else '_' + name}"].to_numpy(), np.nan)
        dyad_null_rec = np.where(mask, per_conversation[f"conditional_reciprocity_null{'' if name == 'shuffle' else '_' + name}"].to_numpy(), np.nan)
        p_r = per_conversation[f"lagged_matching_p{'' if name == 'shuffle' else '_' + name}"].to_numpy()
        p_rec = per_conversation[f"conditional_reciprocity_p{'' if name == 'shuffle' else '_' + name}"].to_numpy()
        nulls[NULL_LABELS[name]] = {
            "n_null": int(len(null_r[name])),
            "n_dyads": int(mask.sum()),
            "lagged_matching": _summary(
                obs_r, corpus_r,
                _bootstrap_ci(np.where(mask, observed.r_lag, np.nan), "fisher", rng, n_boot),
                _bootstrap_ci(np.where(mask, observed.r_lag, np.nan), "fisher", rng, n_boot, minus=dyad_null_r),
                _share_below(p_r)),
            "conditional_reciprocity": _summary(
                obs_rec, corpus_rec,
                _bootstrap_ci(np.where(mask, observed.conditional, np.nan), "mean", rng, n_boot),
                _bootstrap_ci(np.where(mask, observed.conditional, np.nan), "mean", rng, n_boot, minus=dyad_null_rec),
                _share_below(p_rec)),
        }
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
