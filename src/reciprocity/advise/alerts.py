"""Alerts over a coded utterance table (THEORY.md §1 risks, §3 balance and trajectories).

Four kinds of alert, each computed for whole tables with NumPy (no per-utterance Python loop); every rule's
parameters live in :class:`AlertRules`.

``unreciprocated_disclosure``
    A *run* is a maximal sequence of disclosures by one speaker with no disclosure by anyone else in between. The alert fires once per run, at the first disclosure where
    the run has ``run_length`` (2) disclosures **and** the other speaker(s) have taken ``partner_turns`` (2) turns
    since the run began without returning a disclosure. Severity: high when the run reached layer 3 (core),
    medium at layer 2, low otherwise.

``premature_deep_disclosure``
    A disclosure whose layer is at least ``jump`` (2) layers above the **established depth** — the deepest layer
    either speaker reached earlier in the conversation (0 at the start) — made **early**: at 0-based position
    ``< max(early_turns, early_fraction × conversation length)`` (6 utterances or the first 25 %, whichever is
    longer; ``live_advice`` uses ``early_turns`` only because the length is unknown). Severity: high for a jump of
    3 layers (none → core), medium for 2.

``sustained_imbalance``
    Balance index over the last ``imbalance_window`` (6) utterances among the k ≥ 2 speakers who spoke in them,
    ``Σ_s |D_s − mean D| / Σ_s D_s`` divided by its maximum ``2 (k − 1) / k`` so that it lies in [0, 1] for any
    group size (two speakers: ``|D_A − D_B| / (D_A + D_B)``), computed on full windows with at least
    ``imbalance_min_disclosures`` (3) disclosures. Someone who has not spoken in the window is not counted as
    holding back, except that a monologue counts the others as one silent partner. It fires once per episode
    when the index is ≥ ``imbalance_threshold`` (0.6, e.g. 4 vs 1) on ``imbalance_min_turns`` (3) consecutive
    utterances, if one speaker made the most disclosures (no tie); ``speaker`` is that dominant discloser. Severity: high at index ≥ 0.9, medium ≥ 0.75, low otherwise.

``depenetration``
    One alert per dyad-level depenetration event of :func:`reciprocity.measure.stages.depenetration_events`, at
    its first turn (``speaker`` is None: it concerns the dyad). Severity: high when depth fell by ≥ 1.5 layers,
    medium otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from reciprocity.measure.stages import GroupKeys, StageRules, depenetration_events, group_starts, speaker_groups
from reciprocity.schema import CONVERSATION, LAYER_NAMES, SPEAKER

KINDS: tuple[str, ...] = (
    "unreciprocated_disclosure",
    "premature_deep_disclosure",
    "sustained_imbalance",
    "depenetration",
)
SEVERITIES = pd.CategoricalDtype(["low", "medium", "high"], ordered=True)
ALERT_COLUMNS = ["conversation_id", "speaker", "turn", "kind", "severity", "evidence", "suggestion"]

SUGGESTIONS: dict[str, str] = {
    "unreciprocated_disclosure": (
        "Slow down and give them room: you have shared several times without hearing back. Ask an open question "
        "about them and let them choose how much to share before you go any deeper."
    ),
    "premature_deep_disclosure": (
        "That was a big step for this early in the conversation. Slow down: go back to lighter topics, let trust "
        "build, and don't press the other person to respond in kind."
    ),
    "sustained_imbalance": (
        "The exchange has become one-sided. If you are doing most of the sharing, pause and invite them in; if "
        "they are, match their depth with something of your own."
    ),
    "depenetration": (
        "The conversation is cooling off: depth and/or breadth are shrinking. Check in, go back to a topic they "
        "engaged with, and keep it light rather than pushing deeper."
    ),
}


@dataclass(frozen=True)
class AlertRules:
    """Thresholds of the alert rules (defaults documented in :mod:`reciprocity.advise.alerts`)."""

    run_length: int = 2
    partner_turns: int = 2
    jump: int = 2
    early_turns: int = 6
    early_fraction: float = 0.25
    imbalance_window: int = 6
    imbalance_threshold: float = 0.6
    imbalance_min_disclosures: int = 3
    imbalance_min_turns: int = 3
    stage_rules: StageRules = field(default_factory=StageRules)


def prepare(coded: pd.DataFrame) -> pd.DataFrame:
    """The minimum schema the alerts need; derives ``layer``/``disclosure``/``topics``/``turn`` when absent."""
    table = coded
    if not {"disclosure", "depth", "layer", "topics"} <= set(table.columns):
        from reciprocity.measure.codes import prepare_codes

        table = prepare_codes(table)
    if "turn" not in table.columns:
        table = table.assign(turn=table.groupby(CONVERSATION, sort=False).cumcount())
    return table


def _empty() -> pd.DataFrame:
    out = pd.DataFrame({c: pd.Series(dtype=object) for c in ALERT_COLUMNS})
    out["turn"] = out["turn"].astype("int64")
    out["severity"] = out["severity"].astype(SEVERITIES)
    return out


class _Ordered:
    """The table's arrays in conversation/turn order, with group bookkeeping."""

    def __init__(self, coded: pd.DataFrame):
        #: the table's grouping keys, shared with :func:`depenetration_events` (factorized once)
        self.keys = GroupKeys(coded)
        order, self.conv = self.keys.ordering(by_speaker=False)
        self.n = len(self.conv)
        self.order = np.arange(self.n) if order is None else order
        self.starts = group_starts(self.conv)
        self.position = np.arange(self.n) - self.starts
        sizes = np.bincount(self.conv) if self.n else np.zeros(0, dtype=np.int64)
        self.length = sizes[self.conv] if self.n else np.zeros(0, dtype=np.int64)

        def arrange(values: np.ndarray) -> np.ndarray:
            """``values`` in conversation/turn order (read only: no copy when that is the row order)."""
            return values if order is None else values[order]

        self.speaker_names = arrange(coded[SPEAKER].to_numpy())
        # speaker codes numbered by first appearance in conversation/turn order: the row order's codes when the
        # table is already in that order
        self.spk = self.keys.speaker_group if order is None else speaker_groups(self.conv, self.speaker_names)
        self.local = self.spk - self.spk[self.starts] if self.n else self.spk
        self.disclosed = arrange(coded["disclosure"].to_numpy(bool))
        self.layer = arrange(coded["layer"].to_numpy(np.int64))
        self.depth = arrange(coded["depth"].to_numpy(float))
        self.turn = arrange(coded["turn"].to_numpy())
        self.conversation_ids = arrange(coded[CONVERSATION].to_numpy())


def _frame(o: _Ordered, rows: np.ndarray, kind: str, severity: np.ndarray, evidence: list[str],
           speaker: np.ndarray | None = None) -> pd.DataFrame:
    return pd.DataFrame({
        "conversation_id": o.conversation_ids[rows],
        "speaker": o.speaker_names[rows] if speaker is None else speaker,
        "turn": o.turn[rows],
        "kind": kind,
        "severity": severity,
        "evidence": evidence,
        "suggestion": SUGGESTIONS[kind],
        "_row": rows,
    })


def unreciprocated(o: _Ordered, rules: AlertRules) -> pd.DataFrame:
    # Runs over the subsequence of disclosures: consecutive disclosures by the same speaker of one conversation.
    seq = np.flatnonzero(o.disclosed)
    if len(seq) == 0:
        return pd.DataFrame()
    spk, conv = o.spk[seq], o.conv[seq]
    own = np.r_[True, (spk[1:] != spk[:-1]) | (conv[1:] != conv[:-1])]
    run_id = np.cumsum(own) - 1
    first = np.flatnonzero(own)
    start = seq[first[run_id]]
    n_disclosures = np.arange(len(seq)) - first[run_id] + 1
    # the speaker's own utterances up to each row; other speakers' turns since the run began = the rest
    own_cum = pd.Series(np.ones(o.n, dtype=np.int64)).groupby(o.spk).cumsum().to_numpy()
    own_rows = own_cum[seq] - own_cum[start] + 1
    partner_turns = ((seq - start + 1) - own_rows).astype(np.int64)
    run_max_layer = _run_cummax(o.layer[seq], run_id)
    condition = (n_disclosures >= rules.run_length) & (partner_turns >= rules.partner_turns)
    previous = np.r_[False, condition[:-1]] & ~own
    fire = condition & ~previous
    hits = seq[fire]
    if len(hits) == 0:
        return pd.DataFrame()
    layer_max = run_max_layer[fire]
    severity = np.where(layer_max >= 3, "high", np.where(layer_max >= 2, "medium", "low"))
    others = np.where(_speakers_in_conversation(o)[hits] > 2, "the others", "the partner")
    evidence = [
        f"{s} disclosed {d} times in a row (turns {t0}–{t1}, up to layer {m} '{LAYER_NAMES[int(m)]}') "
        f"while {who} took {p} turns without disclosing"
        for s, d, t0, t1, m, p, who in zip(o.speaker_names[hits], n_disclosures[fire], o.turn[start[fire]],
                                           o.turn[hits], layer_max, partner_turns[fire], others)
    ]
    return _frame(o, hits, "unreciprocated_disclosure", severity, evidence)


def _run_cummax(values: np.ndarray, run_id: np.ndarray) -> np.ndarray:
    """Running maximum of integer ``values`` restarting at each run (``run_id`` non-decreasing), exactly as
    ``groupby(run_id).cummax()``: each run is lifted above the previous ones, so one accumulate serves all."""
    if not len(values):
        return values.astype(np.int64)
    low = int(values.min())
    span = int(values.max()) - low + 1
    offset = run_id.astype(np.int64) * span
    return np.maximum.accumulate(values.astype(np.int64) - low + offset) - offset + low


def established_depth(o: _Ordered) -> np.ndarray:
    """Deepest layer reached earlier in the conversation (exclusive of the current row; 0 at the start)."""
    offset = o.conv.astype(np.int64) * 10
    running = np.maximum.accumulate(o.layer + offset) - offset if o.n else o.layer
    previous = np.r_[0, running[:-1]]
    return np.where(o.position == 0, 0, previous)


def premature(o: _Ordered, rules: AlertRules, *, use_length: bool = True) -> pd.DataFrame:
    established = established_depth(o)
    jump = o.layer - established
    horizon = np.maximum(rules.early_turns, rules.early_fraction * o.length) if use_length else rules.early_turns
    fire = o.disclosed & (jump >= rules.jump) & (o.position < horizon)
    hits = np.flatnonzero(fire)
    if len(hits) == 0:
        return pd.DataFrame()
    severity = np.where(jump[hits] >= 3, "high", "medium")
    evidence = [
        f"{s} disclosed at layer {l} '{LAYER_NAMES[int(l)]}' at turn {t} (utterance {p + 1} of the conversation), "
        f"{j} layers above the established depth {e}"
        for s, l, t, p, j, e in zip(o.speaker_names[hits], o.layer[hits], o.turn[hits], o.position[hits],
                                    jump[hits], established[hits])
    ]
    return _frame(o, hits, "premature_deep_disclosure", severity, evidence)


def imbalance_index(o: _Ordered, window: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Normalised balance index over the last ``window`` rows among the speakers who spoke in them (a monologue
    in a conversation of two or more counts the others as one silent partner; NaN without a disclosure), the
    dominant speaker's local index (-1 on a tie for the most disclosures), the window total and the per-speaker
    window disclosure counts (columns = speakers in order of first appearance)."""
    counts = _window_counts(o, window, o.disclosed)
    if o.n == 0:
        return np.zeros(0), np.zeros(0, np.int64), np.zeros(0), counts
    low = np.maximum(np.arange(o.n) - window + 1, o.starts)
    running = np.zeros(o.n + 1)

    def spoke(j: int) -> np.ndarray:
        """Whether speaker ``j`` has a row in each window (windows stay within the conversation)."""
        np.cumsum(o.local == j, out=running[1:])
        return running[1:] - running[low] > 0

    n_active = np.zeros(o.n, dtype=np.int64)
    for j in range(counts.shape[1]):
        n_active += spoke(j)
    n_counted = np.where((n_active < 2) & (_speakers_in_conversation(o) >= 2), 2, n_active)
    total = counts.sum(axis=1)
    mean = total / np.maximum(n_counted, 1)
    # sum of |D_s - mean D| over the counted speakers (the silent partner contributes |0 - mean|), one speaker
    # column at a time: no (rows, speakers) temporaries
    spread = (n_counted - n_active) * mean
    top = counts.max(axis=1)
    n_top = np.zeros(o.n, dtype=np.int64)
    for j in range(counts.shape[1]):
        spread += np.where(spoke(j), np.abs(counts[:, j] - mean), 0.0)
        n_top += counts[:, j] == top
    with np.errstate(invalid="ignore", divide="ignore"):
        maximum = 2.0 * (n_counted - 1) / np.maximum(n_counted, 1)
        index = np.where((total > 0) & (n_counted >= 2), spread / np.maximum(total * maximum, 1e-12), np.nan)
    return index, np.where(n_top > 1, -1, counts.argmax(axis=1)), total, counts


def imbalance(o: _Ordered, rules: AlertRules) -> pd.DataFrame:
    index, dominant, total, counts = imbalance_index(o, rules.imbalance_window)
    full = o.position >= rules.imbalance_window - 1
    with np.errstate(invalid="ignore"):
        high = full & (total >= rules.imbalance_min_disclosures) & (index >= rules.imbalance_threshold) & (dominant >= 0)
    # consecutive run length of `high` up to each row, within the conversation
    change = np.r_[True, (high[1:] != high[:-1]) | (o.conv[1:] != o.conv[:-1])] if o.n else np.zeros(0, bool)
    first = np.flatnonzero(change)
    run_pos = np.arange(o.n) - first[np.cumsum(change) - 1]
    fire = high & (run_pos + 1 == rules.imbalance_min_turns)
    hits = np.flatnonzero(fire)
    if len(hits) == 0:
        return pd.DataFrame()
    # the dominant speaker's name: speaker codes are numbered by first appearance, conversation by
    # conversation, so the dominant speaker's code is the conversation's first code plus its local index
    _, first_row = np.unique(o.spk, return_index=True)
    names = o.speaker_names[first_row[o.spk[o.starts[hits]] + dominant[hits]]]
    idx = index[hits]
    severity = np.where(idx >= 0.9, "high", np.where(idx >= 0.75, "medium", "low"))
    w = rules.imbalance_window
    dominant_count = counts[hits, dominant[hits]]
    evidence = [
        f"in the last {w} utterances {name} made {int(d)} of the {int(t)} disclosures (balance index {x:.2f}, "
        f"≥ {rules.imbalance_threshold:g} for {rules.imbalance_min_turns} utterances in a row)"
        for name, d, t, x in zip(names, dominant_count, total[hits], idx)
    ]
    return _frame(o, hits, "sustained_imbalance", severity, evidence, speaker=names)


def _speakers_in_conversation(o: _Ordered) -> np.ndarray:
    """Number of speakers of each row's conversation (local codes count from 0 by first appearance)."""
    if o.n == 0:
        return np.zeros(0, dtype=np.int64)
    group = np.cumsum(o.position == 0) - 1
    return np.maximum.reduceat(o.local, np.flatnonzero(o.position == 0))[group] + 1


def _window_counts(o: _Ordered, window: int, indicator: np.ndarray) -> np.ndarray:
    """Rows of each speaker (columns: local speaker index) with ``indicator`` true over the last ``window`` rows
    of the conversation, from running counts, one speaker at a time."""
    k = int(o.local.max()) + 1 if o.n else 1
    counts = np.empty((o.n, k))
    low = np.maximum(np.arange(o.n) - window + 1, o.starts)
    running = np.zeros(o.n + 1)                 # running[i] = the speaker's indicated rows in rows < i
    for j in range(k):
        np.cumsum(indicator & (o.local == j), out=running[1:])
        counts[:, j] = running[1:] - running[low]
    return counts


def depenetration_alerts(coded: pd.DataFrame, rules: AlertRules, keys: GroupKeys | None = None) -> pd.DataFrame:
    """One alert per dyad-level depenetration event (``keys``: the table's :class:`GroupKeys`, if at hand)."""
    events = depenetration_events(coded, rules.stage_rules, levels=("dyad",), keys=keys)
    if events.empty:
        return pd.DataFrame()
    drop = events["depth_before"].to_numpy(float) - events["depth_after"].to_numpy(float)
    severity = np.where(drop >= 1.5, "high", "medium")
    evidence = [
        f"turns {a}–{b}: {kind} decline — mean depth {d0:.2f} → {d1:.2f}, topics in window {b0} → {b1}"
        for a, b, kind, d0, d1, b0, b1 in zip(events["start_turn"], events["end_turn"], events["kind"],
                                             events["depth_before"], events["depth_after"],
                                             events["breadth_before"], events["breadth_after"])
    ]
    return pd.DataFrame({
        "conversation_id": events["conversation_id"].to_numpy(),
        "speaker": None,
        "turn": events["start_turn"].to_numpy(),
        "kind": "depenetration",
        "severity": severity,
        "evidence": evidence,
        "suggestion": SUGGESTIONS["depenetration"],
    })


def advise(coded: pd.DataFrame, rules: AlertRules = AlertRules()) -> pd.DataFrame:
    """Alerts for every conversation of a coded utterance table, one row each.

    Columns: ``conversation_id``, ``speaker`` (who the alert is about; None for dyad-level depenetration),
    ``turn``, ``kind`` (one of :data:`KINDS`), ``severity`` (ordered categorical low < medium < high),
    ``evidence`` (plain text with the numbers) and ``suggestion`` (plain-language advice). Rows are ordered by
    conversation (first appearance), turn and kind. See the module docstring for the rules.
    """
    coded = prepare(coded)
    if len(coded) == 0:
        return _empty()
    o = _Ordered(coded)
    parts = [unreciprocated(o, rules), premature(o, rules), imbalance(o, rules)]
    parts = [p for p in parts if len(p)]
    frames = [p.drop(columns="_row") for p in parts]
    if np.all(o.conv >= 0):
        # conversations in order of first appearance = their codes' order (the rows are grouped by code)
        conversations = o.conversation_ids[o.position == 0]
    else:
        conversations = pd.unique(o.conversation_ids)
    keys = o.keys
    del o, parts                 # the ordered arrays are not needed for depenetration (lower peak memory)
    dep = depenetration_alerts(coded, rules, keys)
    if len(dep):
        frames.append(dep)
    if not frames:
        return _empty()
    out = pd.concat(frames, ignore_index=True)
    conv_rank = pd.Series(np.arange(len(conversations)), index=conversations)
    out["_conv"] = conv_rank.reindex(out["conversation_id"]).to_numpy()
    out["_kind"] = pd.Categorical(out["kind"], categories=list(KINDS)).codes
    out = out.sort_values(["_conv", "turn", "_kind"], kind="stable").drop(columns=["_conv", "_kind"])
    out["severity"] = out["severity"].astype(SEVERITIES)
    out["turn"] = out["turn"].astype("int64")
    return out.reset_index(drop=True)[ALERT_COLUMNS]
