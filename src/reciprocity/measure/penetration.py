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
from reciprocity.measure.stages import explode_topics
from reciprocity.schema import CONVERSATION, SPEAKER

ROLLING_WINDOW = 3


def _topic_codes(coded: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(utterance position, topic code) of every disclosed topic, in table order (``explode().dropna()`` by
    position), the topics numbered by value (equal topics share a code), so that later steps hash integers."""
    rows, codes, _ = explode_topics(coded["topics"])
    if "disclosure" in coded.columns:  # topics of utterances that disclose nothing are not disclosed topics
        keep = coded["disclosure"].to_numpy(dtype=bool)[rows]
        rows, codes = rows[keep], codes[keep]
    return rows, codes


def _group_codes(coded: pd.DataFrame, keys: list[str], first: np.ndarray | None = None) -> np.ndarray:
    """Integer code of every row's key combination, groups numbered in order of first appearance.

    Grouping by these codes (``sort=False``) forms the same groups, in the same order, as grouping by the key
    columns, but hashes the (object) key columns once instead of in every groupby. Rows with a missing key get
    NaN (float codes), which groupby drops as it drops missing keys. ``first``: the codes of ``keys[0]`` alone
    (this function's result for it), when the caller has them already.
    """
    if first is None:
        codes = pd.factorize(coded[keys[0]])[0].astype(np.int64)
    else:
        codes = np.nan_to_num(first, nan=-1).astype(np.int64)
    missing = codes < 0
    for key in keys[1:]:
        other = pd.factorize(coded[key])[0].astype(np.int64)
        missing |= other < 0
        codes = pd.factorize(codes * (int(other.max(initial=-1)) + 2) + other)[0]
    if missing.any():
        codes = codes.astype(float)
        codes[missing] = np.nan
        # renumber the remaining groups 0, 1, ... in order of first appearance
        codes[~missing] = pd.factorize(codes[~missing])[0]
    return codes


def _first_rows(codes: np.ndarray, n_groups: int) -> np.ndarray:
    """Position of the first row of each group (codes 0..n_groups-1; NaN codes ignored)."""
    rows = np.arange(len(codes))
    valid = ~np.isnan(codes) if codes.dtype.kind == "f" else np.ones(len(codes), dtype=bool)
    first = np.full(n_groups, len(codes), dtype=np.int64)
    np.minimum.at(first, codes[valid].astype(np.int64), rows[valid])
    return first


def _keyed(profile: pd.DataFrame, coded: pd.DataFrame, keys: list[str], codes: np.ndarray) -> pd.DataFrame:
    """``profile`` (indexed by group code 0..g-1) with the key columns in front and a fresh index, as
    ``groupby(keys).agg(...).reset_index()`` returns it."""
    first = _first_rows(codes, len(profile))
    columns = {key: coded[key].array.take(first) for key in keys}     # the key columns keep their dtype
    columns.update({name: profile[name].to_numpy() for name in profile.columns})
    return pd.DataFrame(columns, copy=False)


def trajectories(coded: pd.DataFrame) -> pd.DataFrame:
    """Per-utterance cumulative depth and breadth, for the dyad and for the speaker."""
    coded = positional(coded)
    conversation = _group_codes(coded, [CONVERSATION])
    speaker = _group_codes(coded, [CONVERSATION, SPEAKER], conversation)
    depth = coded["depth"]
    out = pd.DataFrame(index=coded.index)
    out["cum_max_depth"] = depth.groupby(conversation, sort=False).cummax()
    out["rolling_depth"] = _rolling_depth(coded, conversation)
    out["speaker_cum_max_depth"] = depth.groupby(speaker, sort=False).cummax()
    positions, topics = _topic_codes(coded)
    n_topics = int(topics.max()) + 1 if len(topics) else 1
    for column, group in (("cum_breadth", conversation), ("speaker_cum_breadth", speaker)):
        # the first mention of each (group, topic) opens a new topic (``drop_duplicates`` on integer keys)
        key = pd.Series(group[positions] * n_topics + topics, copy=False)
        first = positions[~key.duplicated().to_numpy()]
        del key
        new_topics = np.bincount(first, minlength=len(coded))
        # groups numbered as ``ngroup()`` numbers them (rows with a missing key: -1)
        ngroup = np.nan_to_num(group, nan=-1).astype(np.int64) if group.dtype.kind == "f" else group
        out[column] = pd.Series(new_topics, index=coded.index).groupby(ngroup).cumsum().astype("int64")
    return out


def _rolling_depth(coded: pd.DataFrame, conversation: np.ndarray) -> np.ndarray:
    """Mean depth of the row and the previous ``ROLLING_WINDOW - 1`` rows of its conversation (fewer at the start).

    ``conversation``: :func:`_group_codes` of the conversation column. Vectorised when each conversation's rows
    are contiguous (as :func:`reciprocity.corpus.validate` leaves them): the same sums, in the same order, as the
    mean of the shifted columns, without the (rows x window) frame.
    """
    depth = coded["depth"]
    codes = conversation
    if len(codes) and (codes.dtype.kind == "f" or np.any(np.diff(codes) < 0) or depth.isna().any()):
        by_conversation = depth.groupby(conversation, sort=False)
        window = pd.concat([by_conversation.shift(lag) for lag in range(ROLLING_WINDOW)], axis=1)
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


def _breadth(coded: pd.DataFrame, codes: np.ndarray, n_groups: int) -> np.ndarray:
    """Number of distinct disclosed topics per group (``codes`` from :func:`_group_codes`), as int64."""
    positions, topics = _topic_codes(coded)
    group = codes[positions]
    if group.dtype.kind == "f":
        keep = ~np.isnan(group)
        group, topics = group[keep].astype(np.int64), topics[keep]
    n_topics = int(topics.max()) + 1 if len(topics) else 1
    pairs = pd.unique(group * n_topics + topics)        # distinct (group, topic) pairs (hashing int64 keys)
    return np.bincount(pairs // n_topics, minlength=n_groups).astype("int64")


def speaker_profile(coded: pd.DataFrame) -> pd.DataFrame:
    """Per conversation × speaker: utterances, disclosure rate, mean/max depth, breadth."""
    keys = [CONVERSATION, SPEAKER]
    codes = _group_codes(coded, keys)
    grouped = coded.groupby(codes, sort=False)
    profile = grouped.agg(
        n_utterances=("disclosure", "size"),  # any column: size counts rows (text may be Arrow-backed)
        n_disclosures=("disclosure", "sum"),
        disclosure_rate=("disclosure", "mean"),
        mean_depth=("depth", "mean"),
        max_depth=("depth", "max"),
        max_layer=("layer", "max"),
    )
    profile["max_layer"] = profile["max_layer"].astype("int64")   # also for narrow (int8) layer codes
    profile["breadth"] = _breadth(coded, codes, len(profile))
    return _keyed(profile, coded, keys, codes)


def conversation_profile(coded: pd.DataFrame) -> pd.DataFrame:
    """Per conversation: size, disclosure rate, depth, breadth, balance and timing of depth."""
    coded = positional(coded)
    conversation = _group_codes(coded, [CONVERSATION])
    speaker = _group_codes(coded, [CONVERSATION, SPEAKER], conversation)
    grouped = coded.groupby(conversation, sort=False)
    position = grouped.cumcount() / (grouped["turn"].transform("size") - 1).clip(lower=1)
    profile = grouped.agg(
        n_utterances=("disclosure", "size"),  # any column: size counts rows (text may be Arrow-backed)
        disclosure_rate=("disclosure", "mean"),
        mean_depth=("depth", "mean"),
        max_depth=("depth", "max"),
    )
    n_groups = len(profile)
    # distinct speakers per conversation: the conversation of each (conversation, speaker) group, counted
    speaker_first = _first_rows(speaker, int(np.nanmax(speaker)) + 1 if len(speaker) else 0)
    n_speakers = np.bincount(conversation[speaker_first].astype(np.int64), minlength=n_groups)
    profile.insert(1, "n_speakers", n_speakers.astype("int64"))
    profile["breadth"] = _breadth(coded, conversation, n_groups)
    disclosures = coded["disclosure"].groupby(speaker, sort=False).sum()
    speaker_conversation = conversation[speaker_first]             # the conversation of each speaker group
    spread = (disclosures - disclosures.groupby(speaker_conversation).transform("mean")).abs()
    total = disclosures.groupby(speaker_conversation).sum()
    profile["balance_index"] = (spread.groupby(speaker_conversation).sum() / total.where(total > 0)).reindex(
        profile.index)
    positioned = pd.DataFrame({"conversation": conversation, "position": position.to_numpy()}, copy=False)
    core = positioned.loc[coded["layer"].to_numpy() >= 3]
    profile["first_core_position"] = core.groupby("conversation")["position"].min().reindex(profile.index)
    peak = positioned.loc[(coded["depth"] == grouped["depth"].transform("max")).to_numpy()]
    profile["first_peak_position"] = peak.groupby("conversation")["position"].min().reindex(profile.index)
    centred = position - position.groupby(conversation).transform("mean")
    slope_num = (centred * coded["depth"]).groupby(conversation, sort=False).sum()
    slope_den = (centred**2).groupby(conversation, sort=False).sum()
    profile["depth_slope"] = (slope_num / slope_den.where(slope_den > 0)).reindex(profile.index)
    return _keyed(profile, coded, [CONVERSATION], conversation)
