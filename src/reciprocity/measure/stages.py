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
    n = len(values)
    out = np.full(n, fill, dtype=float)
    if lag < n:
        out[lag:] = values[:n - lag]          # the row ``lag`` places up (``values[t - lag]``) ...
        np.putmask(out, np.arange(n) - starts < lag, fill)   # ... unless it lies before the group start
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


class GroupKeys:
    """The grouping keys of a coded table, each computed once and shared by the dyad and speaker levels.

    ``conversation`` (codes in order of first appearance) and ``turn`` are in row order; ``speaker_group``
    (:func:`speaker_groups` of the rows) and the exploded topics are computed on first use. Factorizing the
    object columns and exploding the topic lists are the costly steps of staging a large table, so
    :func:`stages`, :func:`depenetration_events` and the alerts reuse one instance instead of redoing them.
    """

    def __init__(self, coded: pd.DataFrame):
        self.coded = coded
        self.n = len(coded)
        self.conversation = pd.factorize(coded[CONVERSATION])[0]
        self.turn = coded["turn"].to_numpy() if "turn" in coded.columns else np.arange(self.n)
        self._speaker_group = None
        self._dyad_order = None
        self._topics = None

    @property
    def speaker_group(self) -> np.ndarray:
        """(conversation, speaker) codes of the rows, in order of first appearance."""
        if self._speaker_group is None:
            self._speaker_group = speaker_groups(self.conversation, self.coded[SPEAKER].to_numpy())
        return self._speaker_group

    @property
    def dyad_order(self) -> np.ndarray | None:
        """Row order by (conversation, turn, row); None when that is the row order itself (a validated table)."""
        if self._dyad_order is None:
            conversation, turn, n = self.conversation, self.turn, self.n
            # already ordered: each next row starts a new (first-seen, hence larger) code or has no smaller turn
            step = np.diff(conversation)
            same = step == 0
            in_order = n < 2 or (np.asarray(turn).dtype.kind in "iuf"
                                 and bool(np.all((step > 0) | (same & (np.diff(turn) >= 0)))))
            del step, same
            self._dyad_order = False if in_order else np.lexsort((np.arange(n), turn, conversation))
        return None if self._dyad_order is False else self._dyad_order

    def ordering(self, by_speaker: bool) -> tuple[np.ndarray | None, np.ndarray]:
        """Row order that makes each conversation (or conversation × speaker) contiguous, in turn order, and the
        group code of each row in that order: ``(order, codes)``; ``order`` is None for the identity order."""
        dyad = self.dyad_order
        if not by_speaker:
            return dyad, (self.conversation if dyad is None else self.conversation[dyad])
        group = self.speaker_group
        # speakers are nested in conversations: a stable sort of the dyad-ordered rows by speaker group orders
        # them by (group, turn, row), as ``np.lexsort((rows, turn, group))``
        in_dyad_order = group if dyad is None else group[dyad]
        order = np.argsort(in_dyad_order, kind="stable")
        del in_dyad_order
        if dyad is not None:
            order = dyad[order]
        return order, group[order]

    @property
    def topics(self) -> tuple[np.ndarray, np.ndarray]:
        """(row, topic code) of every (utterance, topic) pair (see :func:`exploded_topics`)."""
        if self._topics is None:
            self._topics = exploded_topics(self.coded["topics"])
        return self._topics


def explode_topics(topics: pd.Series | np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(rows, codes, uniques)`` of every (utterance, topic) pair, missing topics dropped.

    The same pairs, in the same order, as ``pd.Series(topics).explode().dropna()`` (by position); ``codes``
    number the topic values in order of first appearance (``pd.factorize`` of the exploded values) and
    ``uniques`` holds those values. Rows usually share their topic list objects (a validated table holds one
    list per distinct topic set), so each distinct object is exploded once and its entries are copied to its rows
    with integer indexing, instead of exploding (and hashing the strings of) every row.
    """
    items = topics.to_numpy() if isinstance(topics, pd.Series) else np.asarray(topics, dtype=object)
    n = len(items)
    if n and items.dtype == object:
        objects, first = pd.factorize(np.fromiter(map(id, items), dtype=np.int64, count=n))
        n_objects = len(first)
    else:
        n_objects = n
    if n_objects * 2 > n or n == 0:                     # few shared objects: explode the rows themselves
        exploded = pd.Series(items, copy=False).explode()
        values, rows = exploded.to_numpy(), exploded.index.to_numpy()
        del exploded
        keep = pd.notna(values)
        codes, uniques = pd.factorize(values[keep])
        return rows[keep], codes.astype(np.int64, copy=False), np.asarray(uniques, dtype=object)
    # explode each distinct object once (its first row's value), then copy its entries to its rows
    first_row = np.full(n_objects, n, dtype=np.int64)
    np.minimum.at(first_row, objects, np.arange(n))
    exploded = pd.Series(items[first_row], copy=False).explode()
    keep = pd.notna(exploded.to_numpy())
    object_codes, uniques = pd.factorize(exploded.to_numpy()[keep])
    size = np.bincount(exploded.index.to_numpy()[keep], minlength=n_objects)   # kept entries per object
    del exploded, keep
    offset = np.r_[0, np.cumsum(size)[:-1]]
    count = size[objects]                               # entries per row
    rows = np.repeat(np.arange(n), count)
    entry = np.arange(len(rows)) - np.repeat(np.cumsum(count) - count, count) + offset[objects][rows]
    del count
    # renumber the values by first appearance over all rows, as factorizing the exploded rows would
    codes, order = pd.factorize(object_codes[entry])
    return rows, codes.astype(np.int64, copy=False), np.asarray(uniques, dtype=object)[order]


def exploded_topics(topics: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(row position, topic code) of every (utterance, topic) pair, missing topics dropped.

    Topic codes number ``str(topic)`` in order of first appearance (as factorizing ``values.astype(str)``).
    """
    rows, topic, uniques = explode_topics(topics)
    if not len(rows):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    # codes of str(topic) in order of first appearance, via the few uniques
    topic = pd.factorize(np.asarray([str(u) for u in uniques], dtype=object))[0][topic].astype(np.int64, copy=False)
    return rows, topic


def topic_positions(topics: pd.Series | tuple[np.ndarray, np.ndarray], order: np.ndarray | None
                    ) -> tuple[np.ndarray, np.ndarray]:
    """(rank, topic code) of every (utterance, topic) pair, ranks in the given order, duplicates removed.

    ``topics``: the topics column, or its :func:`exploded_topics`; ``order`` None means the row order.
    """
    rows, topic = exploded_topics(topics) if isinstance(topics, pd.Series) else topics
    if not len(rows):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    if order is None:
        position = rows
    else:
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        position = rank[rows]
        del rank
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
    # (group, topic, position) sorted, as one int64 key when it fits (one sort instead of a 3-key lexsort;
    # the triples are distinct, so the order is the same)
    n_topics = int(topics.max()) + 1
    n_groups = int(codes.max()) + 1
    if n_groups * n_topics * n < 2**62:
        key = codes[positions].astype(np.int64)
        key *= n_topics
        key += topics
        key *= n
        key += positions
        key.sort()
        pos = key % n
        key //= n                               # now group * n_topics + topic
        first = np.r_[True, key[1:] != key[:-1]]
        del key
    else:
        group = codes[positions]
        sort = np.lexsort((positions, topics, group))
        pos, top, grp = positions[sort], topics[sort], group[sort]
        del group, sort                         # temporaries freed early throughout: lower peak memory
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


def _series(coded: pd.DataFrame, by_speaker: bool, rules: StageRules, keys: GroupKeys | None = None,
            fields: tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
    """Stage, rolling depth, breadth and depenetration for one level, returned in the table's row order.

    ``keys``: the table's :class:`GroupKeys` (shared between levels); ``"_order"`` of the result is None when the
    level's order is the row order. ``fields``: the series to return (all by default; the others are not
    restored to row order).
    """
    if keys is None:
        keys = GroupKeys(coded)
    window = rules.speaker_window if by_speaker else rules.window
    order, codes = keys.ordering(by_speaker)
    # breadth first, while few row arrays are held (lower peak memory)
    positions, topics = topic_positions(keys.topics, order)
    cum_breadth, window_breadth = breadth_series(codes, positions, topics, window)
    del positions, topics
    starts = group_starts(codes)
    depth = coded["depth"].to_numpy(float)
    if order is not None:
        depth = depth[order]
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
        if fields is not None and name not in fields:
            continue
        if order is not None:
            restored = np.empty_like(array)
            restored[order] = array
            array = restored
            del restored
        out[name] = array
        del array
    out["_order"], out["_codes"] = order, codes
    return out


def _stage_labels(codes: np.ndarray) -> pd.Categorical:
    return pd.Categorical.from_codes(codes.astype(np.int64), dtype=STAGE_DTYPE)


#: Output columns of :func:`stages`: (level, series of :func:`_series`) each.
STAGE_OUTPUTS: dict[str, tuple[str, str]] = {
    "stage": ("dyad", "stage"),
    "stage_rolling_depth": ("dyad", "rolling_depth"),
    "stage_breadth": ("dyad", "cum_breadth"),
    "window_breadth": ("dyad", "window_breadth"),
    "depenetration": ("dyad", "depenetration"),
    "depenetration_kind": ("dyad", "depenetration_kind"),
    "speaker_stage": ("speaker", "stage"),
    "speaker_stage_rolling_depth": ("speaker", "rolling_depth"),
    "speaker_stage_breadth": ("speaker", "cum_breadth"),
    "speaker_depenetration": ("speaker", "depenetration"),
}


def stages(coded: pd.DataFrame, rules: StageRules = StageRules(), *, columns: list[str] | None = None
           ) -> pd.DataFrame:
    """Per-utterance penetration stage and depenetration flags, aligned to ``coded`` (same index).

    ``coded`` needs ``conversation_id``, ``speaker``, ``depth`` and ``topics`` (lists; may be empty), and
    optionally ``turn`` (row order within a conversation otherwise). Columns (``columns``: only these, in this
    order; all by default):

    * ``stage`` / ``speaker_stage`` — ordered categorical over :data:`STAGES`, for the dyad / the speaker;
    * ``stage_rolling_depth`` / ``speaker_stage_rolling_depth`` — rolling mean depth used by the rule;
    * ``stage_breadth`` / ``speaker_stage_breadth`` — cumulative breadth; ``window_breadth`` (dyad);
    * ``depenetration`` (bool) and ``depenetration_kind`` (``"depth"``, ``"breadth"``, ``"depth+breadth"`` or
      ``""``) for the dyad; ``speaker_depenetration`` (bool) for the speaker's own series.
    """
    wanted = list(STAGE_OUTPUTS) if columns is None else list(columns)
    unknown = [name for name in wanted if name not in STAGE_OUTPUTS]
    if unknown:
        raise ValueError(f"unknown stage column(s) {unknown}; known: {list(STAGE_OUTPUTS)}")
    keys = GroupKeys(coded)
    out: dict[str, object] = {}
    for level in ("dyad", "speaker"):
        names = [name for name in wanted if STAGE_OUTPUTS[name][0] == level]
        if not names:
            continue
        # only the requested series are restored to row order; the others are freed with the level (lower peak)
        values = _series(coded, level == "speaker", rules, keys,
                         fields=tuple(dict.fromkeys(STAGE_OUTPUTS[name][1] for name in names)))
        for name in names:
            series = values[STAGE_OUTPUTS[name][1]]
            if STAGE_OUTPUTS[name][1] == "stage":
                series = _stage_labels(series)
            elif STAGE_OUTPUTS[name][1] == "depenetration":
                series = series.astype(bool)
            elif STAGE_OUTPUTS[name][1] == "depenetration_kind":
                series = KIND_NAMES[series]
            out[name] = series
        del values
    return pd.DataFrame({name: out[name] for name in wanted}, index=coded.index)


EVENT_COLUMNS = ["conversation_id", "level", "speaker", "start_turn", "end_turn", "n_turns", "kind",
                 "depth_before", "depth_after", "breadth_before", "breadth_after"]


def depenetration_events(coded: pd.DataFrame, rules: StageRules = StageRules(), *,
                         levels: tuple[str, ...] = ("dyad", "speaker"), keys: GroupKeys | None = None
                         ) -> pd.DataFrame:
    """One row per depenetration episode (a run of consecutive flagged rows).

    Columns: ``conversation_id``, ``level`` (``"dyad"`` or ``"speaker"``), ``speaker`` (None for the dyad),
    ``start_turn``, ``end_turn``, ``n_turns`` (rows in the run), ``kind`` (``depth`` / ``breadth`` /
    ``depth+breadth``: every kind seen in the run), ``depth_before`` (mean depth of the window before the first
    flagged row's window), ``depth_after`` (mean depth of the last window of the run), ``breadth_before`` /
    ``breadth_after`` (window breadth, same windows). ``keys``: the table's :class:`GroupKeys`, when the caller
    has them already.
    """
    turn = coded["turn"].to_numpy() if "turn" in coded.columns else np.arange(len(coded))
    if keys is None:
        keys = GroupKeys(coded)
    frames = []
    for level in levels:
        by_speaker = level == "speaker"
        values = _series(coded, by_speaker, rules, keys, fields=(
            "depenetration", "depenetration_kind", "previous_depth", "rolling_depth", "previous_breadth",
            "window_breadth"))
        order, codes = values["_order"], values["_codes"]
        if order is None:
            order = np.arange(len(coded))
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
