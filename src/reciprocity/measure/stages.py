"""Penetration stages and depenetration (Altman & Taylor 1973; THEORY.md §1, §3).

Every quantity is computed for the **dyad** (all utterances of a conversation, in turn order) and for each
**speaker** (that speaker's own utterances, in turn order), vectorised over the whole table.

Trajectory quantities (``W`` = :attr:`StageRules.window` utterances for the dyad,
:attr:`StageRules.speaker_window` own utterances for a speaker; windows are truncated at the start):

* rolling depth ``r_t`` = mean depth of the last ``W`` utterances (0–3);
* cumulative breadth ``b_t`` = number of distinct topics disclosed so far;
* window breadth ``w_t`` = number of distinct topics disclosed in the last ``W`` utterances.

Stage rule (checked in this order, first match wins):

==========================  ==================================================================================
``stable``                  ``r`` ≥ ``stable_depth`` (2.0) on each of the last ``stable_min_turns`` (4) rows
                            *and* ``max(r) − min(r)`` over those rows ≤ ``stable_max_change`` (0.5): sustained
                            high depth with little change
``affective``               ``r`` ≥ ``affective_depth`` (1.75): intermediate/core layers are routine
``exploratory_affective``   ``r`` ≥ ``exploratory_depth`` (1.0), *or* ``b`` ≥ ``exploratory_breadth`` (3): the
                            peripheral layer is open and several areas of life have been touched
``orientation``             otherwise: surface talk, little breadth
==========================  ==================================================================================

Stages are labels of the current regime, not a ratchet: a dyad may fall back (that is what depenetration means).
Breadth only enters through topics; tables without topic codes are staged on depth alone.

Depenetration (sustained decline), at row ``t`` of a dyad or speaker series with two consecutive full windows:

* depth decline: ``mean depth(last W) ≤ mean depth(previous W) − depth_drop`` (1.0 layer);
* breadth decline: ``w_t ≤ w_{t−W} − breadth_drop`` (2 topics), i.e. fewer areas are being opened/kept open;
* a row is flagged when either decline holds on a run of at least ``min_run`` (2) consecutive rows (all rows of
  such a run are flagged). Runs of flagged rows are the **events** (:func:`depenetration_events`).

A wind-down from core back to intermediate (3,3 → 2,2) is *not* flagged: the drop is below one layer per window.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from reciprocity.schema import CONVERSATION, SPEAKER

STAGES: tuple[str, ...] = ("orientation", "exploratory_affective", "affective", "stable")
STAGE_DTYPE = pd.CategoricalDtype(list(STAGES), ordered=True)
#: Depenetration kinds by code (bit 1: depth decline, bit 2: breadth decline).
KIND_NAMES = np.array(["", "depth", "breadth", "depth+breadth"], dtype=object)


@dataclass(frozen=True)
class StageRules:
    """Thresholds of the stage and depenetration rules (see the module docstring)."""

    window: int = 4
    speaker_window: int = 3
    exploratory_depth: float = 1.0
    exploratory_breadth: int = 3
    affective_depth: float = 1.75
    stable_depth: float = 2.0
    stable_min_turns: int = 4
    stable_max_change: float = 0.5
    depth_drop: float = 1.0
    breadth_drop: int = 2
    min_run: int = 2


# --------------------------------------------------------------------------------------------------------------
# Vectorised group helpers. Every helper works on arrays already ordered so that each group is one contiguous block.


def group_starts(codes: np.ndarray) -> np.ndarray:
    """For each row, the position of the first row of its (contiguous) group."""
    n = len(codes)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    new = np.r_[True, codes[1:] != codes[:-1]]
    first = np.flatnonzero(new)
    return first[np.cumsum(new) - 1]


def group_ends(codes: np.ndarray) -> np.ndarray:
    """For each row, the position of the last row of its (contiguous) group."""
    n = len(codes)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    last_flag = np.r_[codes[1:] != codes[:-1], True]
    last = np.flatnonzero(last_flag)
    return last[np.cumsum(np.r_[True, codes[1:] != codes[:-1]]) - 1]


def rolling_sum(values: np.ndarray, starts: np.ndarray, window: int, offset: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Sum and count of ``values`` over rows ``(t−offset−window, t−offset]`` within the group (truncated)."""
    n = len(values)
    cs = np.r_[0.0, np.cumsum(values, dtype=float)]
    hi = np.arange(1 - offset, n + 1 - offset)             # i - offset + 1 (in place below: fewer temporaries)
    lo = hi - window                                      # i - offset - window + 1
    np.maximum(lo, starts, out=lo)
    np.maximum(hi, lo, out=hi)
    total = cs[hi]
    total -= cs[lo]
    del cs
    hi -= lo
    return total, hi.astype(float)


def rolling_mean(values: np.ndarray, starts: np.ndarray, window: int, offset: int = 0) -> np.ndarray:
    total, count = rolling_sum(values, starts, window, offset)
    empty = count <= 0
    np.maximum(count, 1, out=count)
    total /= count
    total[empty] = np.nan
    return total


def lagged(values: np.ndarray, starts: np.ndarray, lag: int, fill: float = np.nan) -> np.ndarray:
    """``values[t − lag]`` within the group, ``fill`` before the group start."""
    i = np.arange(len(values))
    src = i - lag
    ok = src >= starts
    out = np.full(len(values), fill, dtype=float)
    out[ok] = values[src[ok]]
    return out


def run_lengths(flag: np.ndarray, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each row: length of the run of equal ``flag`` it belongs to, and its position within the run (0-based)."""
    n = len(flag)
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    change = np.r_[True, (flag[1:] != flag[:-1]) | (codes[1:] != codes[:-1])]
    run_id = np.cumsum(change) - 1
    sizes = np.bincount(run_id)
    first = np.flatnonzero(change)
    return sizes[run_id], np.arange(n) - first[run_id]


def speaker_groups(conversation: np.ndarray, speakers: np.ndarray) -> np.ndarray:
    """Codes of (conversation code, speaker) pairs in order of first appearance (as factorizing the pairs)."""
    speaker = pd.factorize(speakers)[0].astype(np.int64)
    return pd.factorize(conversation.astype(np.int64) * (int(speaker.max()) + 1 if len(speaker) else 1) + speaker)[0]


def ordering(coded: pd.DataFrame, by_speaker: bool) -> tuple[np.ndarray, np.ndarray]:
    """Row order that makes each conversation (or conversation × speaker) contiguous, in turn order.

    Returns ``(order, codes)`` with ``codes`` the group code of each row in that order.
    """
    conversation = pd.factorize(coded[CONVERSATION])[0]
    turn = coded["turn"].to_numpy() if "turn" in coded.columns else np.arange(len(coded))
    if by_speaker:
        group = speaker_groups(conversation, coded[SPEAKER].to_numpy())
        order = np.lexsort((np.arange(len(coded)), turn, group))
        return order, group[order]
    order = np.lexsort((np.arange(len(coded)), turn, conversation))
    return order, conversation[order]


def topic_positions(topics: pd.Series, order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rank, topic code) of every (utterance, topic) pair, ranks in the given order, duplicates removed."""
    # explode by position, then drop missing values (as ``reset_index(drop=True).explode().dropna()``, without the
    # intermediate Series copies)
    exploded = pd.Series(topics.to_numpy(), copy=False).explode()
    values, rows = exploded.to_numpy(), exploded.index.to_numpy()
    del exploded
    keep = pd.notna(values)
    values, rows = values[keep], rows[keep]
    del keep
    if not len(values):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    position = rank[rows]
    del rank, rows
    # codes of str(topic) in order of first appearance (as factorizing ``values.astype(str)``), via the few uniques
    topic, uniques = pd.factorize(values)
    del values
    topic = pd.factorize(np.asarray([str(u) for u in uniques], dtype=object))[0][topic].astype(np.int64, copy=False)
    n_topics = int(topic.max()) + 1
    key = np.sort(position * n_topics + topic)       # sorted by (position, topic) ...
    key = key[np.r_[True, key[1:] != key[:-1]]]       # ... duplicates removed (np.unique, without its hashing)
    return key // n_topics, key % n_topics


def breadth_series(codes: np.ndarray, positions: np.ndarray, topics: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative breadth and window breadth (distinct topics in the last ``window`` rows) per ordered row."""
    n = len(codes)
    cumulative = np.zeros(n, dtype=np.int64)
    windowed = np.zeros(n, dtype=np.int64)
    if n == 0 or len(positions) == 0:
        return cumulative, windowed
    group = codes[positions]
    sort = np.lexsort((positions, topics, group))
    pos, top, grp = positions[sort], topics[sort], group[sort]
    del group, sort                             # temporaries freed early throughout: lower peak memory
    first = np.r_[True, (top[1:] != top[:-1]) | (grp[1:] != grp[:-1])]
    del top, grp
    cumulative = np.bincount(pos[first], minlength=n)
    starts = group_starts(codes)
    cumulative = np.cumsum(cumulative)
    cumulative = cumulative - np.r_[0, cumulative][starts]  # restart per group
    del starts
    # Each occurrence keeps its topic "in the window" until window rows later or until its next occurrence.
    stop = pos + (window - 1)
    following = np.r_[pos[1:] - 1, n]
    following[:-1][first[1:]] = n               # the last occurrence of each (group, topic) runs to the window's end
    del first
    np.minimum(stop, following, out=stop)
    del following
    np.minimum(stop, group_ends(codes)[pos], out=stop)
    diff = np.bincount(pos, minlength=n + 1) - np.bincount(stop + 1, minlength=n + 1)
    del stop
    windowed = np.cumsum(diff[:n])
    return cumulative.astype(np.int64), windowed.astype(np.int64)


# --------------------------------------------------------------------------------------------------------------


def _series(coded: pd.DataFrame, by_speaker: bool, rules: StageRules) -> dict[str, np.ndarray]:
    """Stage, rolling depth, breadth and depenetration for one level, returned in the table's row order."""
    window = rules.speaker_window if by_speaker else rules.window
    order, codes = ordering(coded, by_speaker)
    # breadth first, while few row arrays are held (lower peak memory)
    positions, topics = topic_positions(coded["topics"], order)
    cum_breadth, window_breadth = breadth_series(codes, positions, topics, window)
    del positions, topics
    starts = group_starts(codes)
    depth = coded["depth"].to_numpy(float)[order]
    rolling = rolling_mean(depth, starts, window)

    # Stage.
    k = rules.stable_min_turns
    # min / max of the last k rolling means, one lag at a time (no (k, n) stack): where all k are defined they
    # equal the NaN-ignoring min / max of the stack; elsewhere ``full`` is False and the row is not stable
    low = rolling.copy()
    high = rolling.copy()
    for j in range(1, k):
        lag = lagged(rolling, starts, j)
        np.minimum(low, lag, out=low)          # NaN propagates: NaN where any lag is undefined
        np.maximum(high, lag, out=high)
        del lag
    full = ~np.isnan(low)
    with np.errstate(invalid="ignore"):
        stable = full & (low >= rules.stable_depth) & (high - low <= rules.stable_max_change)
    del low, high
    stage = np.where(stable, 3, np.where(rolling >= rules.affective_depth, 2, np.where(
        (rolling >= rules.exploratory_depth) | (cum_breadth >= rules.exploratory_breadth), 1, 0))).astype(np.int8)
    del stable, full

    # Depenetration: two consecutive full windows.
    index = np.arange(len(codes))
    two_windows = index - starts >= 2 * window - 1
    previous = rolling_mean(depth, starts, window, offset=window)
    depth_decline = two_windows & (rolling <= previous - rules.depth_drop)
    breadth_before = lagged(window_breadth.astype(float), starts, window, fill=0.0)
    breadth_decline = two_windows & (window_breadth <= breadth_before - rules.breadth_drop)
    decline = depth_decline | breadth_decline
    length, _ = run_lengths(decline, codes)
    flagged = decline & (length >= rules.min_run)
    kind = depth_decline.astype(np.int8) + 2 * breadth_decline.astype(np.int8)   # index into KIND_NAMES

    values = {
        "stage": stage,
        "rolling_depth": rolling,
        "previous_depth": previous,
        "cum_breadth": cum_breadth,
        "window_breadth": window_breadth,
        "previous_breadth": breadth_before,
        "depenetration": flagged,
        "depenetration_kind": np.where(flagged, kind, 0).astype(np.int8),
    }
    del stage, rolling, previous, cum_breadth, window_breadth, breadth_before, flagged, kind
    del depth, two_windows, depth_decline, breadth_decline, decline, length, index
    out = {}
    for name in list(values):
        array = values.pop(name)               # freed as soon as it is restored to row order
        restored = np.empty_like(array)
        restored[order] = array
        out[name] = restored
        del array
    out["_order"], out["_codes"] = order, codes
    return out


def _stage_labels(codes: np.ndarray) -> pd.Categorical:
    return pd.Categorical.from_codes(codes.astype(np.int64), dtype=STAGE_DTYPE)


def stages(coded: pd.DataFrame, rules: StageRules = StageRules()) -> pd.DataFrame:
    """Per-utterance penetration stage and depenetration flags, aligned to ``coded`` (same index).

    ``coded`` needs ``conversation_id``, ``speaker``, ``depth`` and ``topics`` (lists; may be empty), and
    optionally ``turn`` (row order within a conversation otherwise). Columns:

    * ``stage`` / ``speaker_stage`` — ordered categorical over :data:`STAGES`, for the dyad / the speaker;
    * ``stage_rolling_depth`` / ``speaker_stage_rolling_depth`` — rolling mean depth used by the rule;
    * ``stage_breadth`` / ``speaker_stage_breadth`` — cumulative breadth; ``window_breadth`` (dyad);
    * ``depenetration`` (bool) and ``depenetration_kind`` (``"depth"``, ``"breadth"``, ``"depth+breadth"`` or
      ``""``) for the dyad; ``speaker_depenetration`` (bool) for the speaker's own series.
    """
    dyad = _series(coded, False, rules)
    columns = {
        "stage": _stage_labels(dyad["stage"]),
        "stage_rolling_depth": dyad["rolling_depth"],
        "stage_breadth": dyad["cum_breadth"],
        "window_breadth": dyad["window_breadth"],
        "depenetration": dyad["depenetration"].astype(bool),
        "depenetration_kind": KIND_NAMES[dyad["depenetration_kind"]],
    }
    del dyad                                   # its other series are not needed (lower peak memory)
    speaker = _series(coded, True, rules)
    columns.update({
        "speaker_stage": _stage_labels(speaker["stage"]),
        "speaker_stage_rolling_depth": speaker["rolling_depth"],
        "speaker_stage_breadth": speaker["cum_breadth"],
        "speaker_depenetration": speaker["depenetration"].astype(bool),
    })
    del speaker
    return pd.DataFrame(columns, index=coded.index)


EVENT_COLUMNS = ["conversation_id", "level", "speaker", "start_turn", "end_turn", "n_turns", "kind",
                 "depth_before", "depth_after", "breadth_before", "breadth_after"]


def depenetration_events(coded: pd.DataFrame, rules: StageRules = StageRules(), *,
                         levels: tuple[str, ...] = ("dyad", "speaker")) -> pd.DataFrame:
    """One row per depenetration episode (a run of consecutive flagged rows).

    Columns: ``conversation_id``, ``level`` (``"dyad"`` or ``"speaker"``), ``speaker`` (None for the dyad),
    ``start_turn``, ``end_turn``, ``n_turns`` (rows in the run), ``kind`` (``depth`` / ``breadth`` /
    ``depth+breadth``: every kind seen in the run), ``depth_before`` (mean depth of the window before the first
    flagged row's window), ``depth_after`` (mean depth of the last window of the run), ``breadth_before`` /
    ``breadth_after`` (window breadth, same windows).
    """
    turn = coded["turn"].to_numpy() if "turn" in coded.columns else np.arange(len(coded))
    frames = []
    for level in levels:
        by_speaker = level == "speaker"
        values = _series(coded, by_speaker, rules)
        order, codes = values["_order"], values["_codes"]
        flag = values["depenetration"][order]
        if not flag.any():
            continue
        # runs of flagged rows (ordered rows, within a group): start where a flagged row follows an unflagged
        # row or a group boundary
        flagged = np.flatnonzero(flag)
        starts = np.r_[True, (flagged[1:] != flagged[:-1] + 1) | (codes[flagged[1:]] != codes[flagged[:-1]])]
        bounds = np.flatnonzero(starts)
        first = order[flagged[bounds]]
        last = order[flagged[np.r_[bounds[1:] - 1, len(flagged) - 1]]]
        kind = values["depenetration_kind"][order][flagged]
        kinds = KIND_NAMES[np.bitwise_or.reduceat(kind, bounds)]   # every kind seen in the run
        n_turns = np.diff(np.r_[bounds, len(flagged)])
        frames.append(pd.DataFrame({
            "conversation_id": coded[CONVERSATION].to_numpy()[first],
            "level": level,
            "speaker": coded[SPEAKER].to_numpy()[first] if by_speaker else None,
            "start_turn": turn[first],
            "end_turn": turn[last],
            "n_turns": n_turns,
            "kind": kinds,
            "depth_before": values["previous_depth"][first],
            "depth_after": values["rolling_depth"][last],
            "breadth_before": values["previous_breadth"][first].astype(np.int64),
            "breadth_after": values["window_breadth"][last],
        }))
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in EVENT_COLUMNS})
    return pd.concat(frames, ignore_index=True)[EVENT_COLUMNS]


__all__ = ["STAGES", "StageRules", "depenetration_events", "stages"]
