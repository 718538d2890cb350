"""Turn-level reciprocity with a within-dyad shuffle null (THEORY.md §3).

For the exchange pairs (d_prev, d_next) of a conversation:

* lagged matching  r_lag = corr(d_{t-1}, d_t), Pearson over pairs; corpus level by Fisher-z mean;
* matching index   m = 1 - |d_t - d_{t-1}| / (d_t + d_{t-1} + eps), averaged over pairs;
* conditional reciprocity  Rec = P(next discloses | prev disclosed) - P(next discloses).

Null baseline: each speaker's codes are shuffled across that speaker's own turns (keeping
every speaker's marginal distribution, destroying the turn-to-turn contingency); the one-sided
permutation p-value is p = (1 + #{null >= observed}) / (B + 1) (Phipson & Smyth 2010).
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


def fisher_mean(r: np.ndarray) -> float:
    """Mean correlation via Fisher's z: tanh(mean(atanh(r))), ignoring undefined r."""
    r = r[~np.isnan(r)]
    return float(np.tanh(np.mean(np.arctanh(np.clip(r, -0.999, 0.999))))) if len(r) else float("nan")


def _p_value(observed: np.ndarray, null: np.ndarray) -> np.ndarray:
    """One-sided permutation p-value per column; NaN where the statistic is undefined."""
    valid = ~np.isnan(null)
    exceed = ((null >= observed - EPSILON) & valid).sum(axis=0)
    p = (1.0 + exceed) / (1.0 + valid.sum(axis=0))
    return np.where(np.isnan(observed), np.nan, p)


def _bootstrap_ci(values: np.ndarray, statistic, rng: np.random.Generator, n_boot: int = 1000) -> tuple[float, float]:
    """Percentile bootstrap CI (95%) over dyads."""
    values = values[~np.isnan(values)]
    if len(values) < 2:
        return float("nan"), float("nan")
    draws = rng.integers(0, len(values), size=(n_boot, len(values)))
    estimates = np.array([statistic(values[row]) for row in draws])
    low, high = np.nanpercentile(estimates, [2.5, 97.5])
    return float(low), float(high)


def reciprocity_tests(coded: pd.DataFrame, pairs: pd.DataFrame, *, n_permutations: int = 200,
                      seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Observed reciprocity, shuffle-null mean and permutation p-values.

    Returns a per-conversation frame, a per-speaker (as responder) frame and a corpus summary.
    """
    rng = np.random.default_rng(seed)
    conversations, conversation_code = np.unique(coded[CONVERSATION].to_numpy(), return_inverse=True)
    speaker_key = coded[CONVERSATION].astype(str) + "\x1f" + coded[SPEAKER].astype(str)
    speaker_code, speaker_names = pd.factorize(speaker_key)
    depth = coded["depth"].to_numpy(float)
    disclosed = coded["disclosure"].to_numpy(bool)
    prev, nxt = pairs["prev"].to_numpy(), pairs["next"].to_numpy()
    by_conversation = conversation_code[nxt]
    by_responder = speaker_code[nxt]
    n_conv, n_spk = len(conversations), len(speaker_names)

    observed = pair_statistics(depth, disclosed, prev, nxt, by_conversation, n_conv)
    observed_spk = pair_statistics(depth, disclosed, prev, nxt, by_responder, n_spk)
    null_r = np.full((n_permutations, n_conv), np.nan)
    null_rec = np.full((n_permutations, n_conv), np.nan)
    null_rec_spk = np.full((n_permutations, n_spk), np.nan)
    for b in range(n_permutations):
        order = shuffle_within(speaker_code, rng)
        stats = pair_statistics(depth[order], disclosed[order], prev, nxt, by_conversation, n_conv)
        null_r[b], null_rec[b] = stats.r_lag, stats.conditional
        null_rec_spk[b] = pair_statistics(depth[order], disclosed[order], prev, nxt, by_responder, n_spk).conditional

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # groups with no defined statistic
        per_conversation = pd.DataFrame({
            CONVERSATION: conversations,
            "n_exchanges": observed.n_pairs.astype(int),
            "lagged_matching": observed.r_lag,
            "lagged_matching_null": np.nanmean(null_r, axis=0),
            "lagged_matching_p": _p_value(observed.r_lag, null_r),
            "matching_index": observed.matching,
            "conditional_reciprocity": observed.conditional,
            "conditional_reciprocity_null": np.nanmean(null_rec, axis=0),
            "conditional_reciprocity_p": _p_value(observed.conditional, null_rec),
        })
        conversation_of, speaker_of = zip(*(name.split("\x1f", 1) for name in speaker_names)) if n_spk else ((), ())
        per_speaker = pd.DataFrame({
            CONVERSATION: list(conversation_of),
            SPEAKER: list(speaker_of),
            "n_responses": observed_spk.n_pairs.astype(int),
            "conditional_reciprocity": observed_spk.conditional,
            "conditional_reciprocity_null": np.nanmean(null_rec_spk, axis=0),
            "conditional_reciprocity_p": _p_value(observed_spk.conditional, null_rec_spk),
        })
        null_mean_r = np.array([fisher_mean(row) for row in null_r])
        null_mean_rec = np.nanmean(null_rec, axis=1) if n_conv else np.array([])
    mean_r, mean_rec = fisher_mean(observed.r_lag), float(np.nanmean(observed.conditional)) if np.isfinite(observed.conditional).any() else float("nan")
    summary = {
        "n_permutations": n_permutations,
        "seed": seed,
        "lagged_matching": _summary(mean_r, null_mean_r, _bootstrap_ci(observed.r_lag, fisher_mean, rng)),
        "conditional_reciprocity": _summary(mean_rec, null_mean_rec, _bootstrap_ci(observed.conditional, np.mean, rng)),
    }
    return per_conversation, per_speaker, summary


def _summary(observed: float, null: np.ndarray, ci: tuple[float, float]) -> dict:
    null = null[~np.isnan(null)]
    if np.isnan(observed) or not len(null):
        return {"observed": observed, "null_mean": float("nan"), "observed_minus_null": float("nan"),
                "p_value": float("nan"), "ci95": list(ci)}
    null_mean = float(null.mean())
    return {
        "observed": observed,
        "null_mean": null_mean,
        "observed_minus_null": observed - null_mean,
        "p_value": float((1 + np.sum(null >= observed - EPSILON)) / (1 + len(null))),
        "ci95": list(ci),
    }

