"""Penetration: disclosure rate, depth, breadth, balance and their trajectories (THEORY.md §3).

* breadth = number of distinct topics (Altman–Taylor areas) disclosed;
* balance index over k speakers = sum_s |D_s - mean(D)| / sum_s D_s with D_s the speaker's
  number of disclosures (for two speakers: |D_A - D_B| / (D_A + D_B)); 0 = balanced, 1 = one-sided;
* depth slope = OLS slope of depth on turn position scaled to [0, 1] (deepening > 0).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from reciprocity.measure.pairs import positional
from reciprocity.schema import CONVERSATION, SPEAKER

ROLLING_WINDOW = 3


def _topic_rows(coded: pd.DataFrame) -> pd.DataFrame:
    """One row per (utterance position, topic) for disclosed topics."""
    topics = coded["topics"].explode().dropna()
    return pd.DataFrame({"position": topics.index.to_numpy(), "topic": topics.to_numpy()})


def trajectories(coded: pd.DataFrame) -> pd.DataFrame:
    """Per-utterance cumulative depth and breadth, for the dyad and for the speaker."""
    coded = positional(coded)
    by_conversation = coded.groupby(CONVERSATION, sort=False)
    by_speaker = coded.groupby([CONVERSATION, SPEAKER], sort=False)
    out = pd.DataFrame(index=coded.index)
    out["cum_max_depth"] = by_conversation["depth"].cummax()
    out["rolling_depth"] = _rolling_depth(coded, by_conversation)
    out["speaker_cum_max_depth"] = by_speaker["depth"].cummax()
    topic_rows = _topic_rows(coded)
    topic_rows[CONVERSATION] = coded[CONVERSATION].to_numpy()[topic_rows["position"]]
    topic_rows[SPEAKER] = coded[SPEAKER].to_numpy()[topic_rows["position"]]
    for column, keys in (("cum_breadth", [CONVERSATION]), ("speaker_cum_breadth", [CONVERSATION, SPEAKER])):
        first = topic_rows.drop_duplicates(keys + ["topic"])
        new_topics = np.bincount(first["position"], minlength=len(coded))
        group = by_conversation if column == "cum_breadth" else by_speaker
        out[column] = pd.Series(new_topics, index=coded.index).groupby(group.ngroup()).cumsum().astype("int64")
    return out


def _rolling_depth(coded: pd.DataFrame, by_conversation) -> np.ndarray:
    """Mean depth of the row and the previous ``ROLLING_WINDOW - 1`` rows of its conversation (fewer at the start).

    Vectorised when each conversation's rows are contiguous (as :func:`reciprocity.corpus.validate` leaves
    them): the same sums, in the same order, as the mean of the shifted columns, without the (rows x window) frame.
    """
    depth = coded["depth"]
    codes = pd.factorize(coded[CONVERSATION])[0]
    if len(codes) and (np.any(np.diff(codes) < 0) or depth.isna().any()):
        window = pd.concat([by_conversation["depth"].shift(lag) for lag in range(ROLLING_WINDOW)], axis=1)
        return window.mean(axis=1).to_numpy()
    values = depth.to_numpy(float)
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]]) if len(codes) else np.zeros(0, np.int64)
    position = np.arange(len(codes)) - np.repeat(starts, np.diff(np.r_[starts, len(codes)]))
    total = values.copy()
    for lag in range(1, ROLLING_WINDOW):
        shifted = np.zeros_like(values)
        shifted[lag:] = values[:-lag]
        total += np.where(position >= lag, shifted, 0.0)
    return total / np.minimum(position + 1, ROLLING_WINDOW)


def _breadth(coded: pd.DataFrame, keys: list[str]) -> pd.Series:
    topic_rows = _topic_rows(coded)
    for key in keys:
        topic_rows[key] = coded[key].to_numpy()[topic_rows["position"]]
    return topic_rows.groupby(keys)["topic"].nunique()


def speaker_profile(coded: pd.DataFrame) -> pd.DataFrame:
    """Per conversation × speaker: utterances, disclosure rate, mean/max depth, breadth."""
    keys = [CONVERSATION, SPEAKER]
    grouped = coded.groupby(keys, sort=False)
    profile = grouped.agg(
        n_utterances=("disclosure", "size"),  # any column: size counts rows (text may be Arrow-backed)
        n_disclosures=("disclosure", "sum"),
        disclosure_rate=("disclosure", "mean"),
        mean_depth=("depth", "mean"),
        max_depth=("depth", "max"),
        max_layer=("layer", "max"),
    )
    profile["max_layer"] = profile["max_layer"].astype("int64")   # also for narrow (int8) layer codes
    profile["breadth"] = _breadth(coded, keys).reindex(profile.index).fillna(0).astype("int64")
    return profile.reset_index()


def conversation_profile(coded: pd.DataFrame) -> pd.DataFrame:
    """Per conversation: size, disclosure rate, depth, breadth, balance and timing of depth."""
    coded = positional(coded)
    grouped = coded.groupby(CONVERSATION, sort=False)
    position = grouped.cumcount() / (grouped["turn"].transform("size") - 1).clip(lower=1)
    profile = grouped.agg(
        n_utterances=("disclosure", "size"),  # any column: size counts rows (text may be Arrow-backed)
        n_speakers=(SPEAKER, "nunique"),
        disclosure_rate=("disclosure", "mean"),
        mean_depth=("depth", "mean"),
        max_depth=("depth", "max"),
    )
    profile["breadth"] = _breadth(coded, [CONVERSATION]).reindex(profile.index).fillna(0).astype("int64")
    disclosures = coded.groupby([CONVERSATION, SPEAKER], sort=False)["disclosure"].sum()
    spread = (disclosures - disclosures.groupby(level=0).transform("mean")).abs()
    total = disclosures.groupby(level=0).sum()
    profile["balance_index"] = (spread.groupby(level=0).sum() / total.where(total > 0)).reindex(profile.index)
    positioned = coded[[CONVERSATION]].assign(position=position)
    core = positioned.loc[coded["layer"] >= 3]
    profile["first_core_position"] = core.groupby(CONVERSATION)["position"].min().reindex(profile.index)
    peak = positioned.loc[coded["depth"] == grouped["depth"].transform("max")]
    profile["first_peak_position"] = peak.groupby(CONVERSATION)["position"].min().reindex(profile.index)
    centred = position - position.groupby(coded[CONVERSATION]).transform("mean")
    slope_num = (centred * coded["depth"]).groupby(coded[CONVERSATION], sort=False).sum()
    slope_den = (centred**2).groupby(coded[CONVERSATION], sort=False).sum()
    profile["depth_slope"] = (slope_num / slope_den.where(slope_den > 0)).reindex(profile.index)
    return profile.reset_index()
