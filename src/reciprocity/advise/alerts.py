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
    Balance index over the last ``imbalance_window`` (6) utterances, ``Σ_s |D_s − mean D| / Σ_s D_s`` (two
    speakers: ``|D_A − D_B| / (D_A + D_B)``), computed on full windows with at least ``imbalance_min_disclosures``
    (3) disclosures. It fires once per episode when the index is ≥ ``imbalance_threshold`` (0.6, e.g. 4 vs 1) on
    ``imbalance_min_turns`` (3) consecutive utterances; ``speaker`` is the dominant discloser. Severity: high at
    index ≥ 0.9, medium ≥ 0.75, low otherwise.

``depenetration``
    One alert per dyad-level depenetration event of :func:`reciprocity.measure.stages.depenetration_events`, at
    its first turn (``speaker`` is None: it concerns the dyad). Severity: high when depth fell by ≥ 1.5 layers,
    medium otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from reciprocity.measure.stages import StageRules, depenetration_events, group_starts, ordering, speaker_groups
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
        self.order, self.conv = ordering(coded, by_speaker=False)
        self.n = len(self.order)
        self.starts = group_starts(self.conv)
        self.position = np.arange(self.n) - self.starts
        sizes = np.bincount(self.conv) if self.n else np.zeros(0, dtype=np.int64)
        self.length = sizes[self.conv] if self.n else np.zeros(0, dtype=np.int64)
        self.speaker_names = coded[SPEAKER].to_numpy()[self.order]
        self.spk = speaker_groups(self.conv, self.speaker_names)
        self.local = self.spk - self.spk[self.starts] if self.n else self.spk
        self.disclosed = coded["disclosure"].to_numpy(bool)[self.order]
        self.layer = coded["layer"].to_numpy(np.int64)[self.order]
        self.depth = coded["depth"].to_numpy(float)[self.order]
        self.turn = coded["turn"].to_numpy()[self.order]
        self.conversation_ids = coded[CONVERSATION].to_numpy()[self.order]


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
    run_max_layer = pd.Series(o.layer[seq]).groupby(run_id).cummax().to_numpy()
    condition = (n_disclosures >= rules.run_length) & (partner_turns >= rules.partner_turns)
    previous = np.r_[False, condition[:-1]] & ~own
    fire = condition & ~previous
    hits = seq[fire]
    if len(hits) == 0:
        return pd.DataFrame()
    layer_max = run_max_layer[fire]
    severity = np.where(layer_max >= 3, "high", np.where(layer_max >= 2, "medium", "low"))
    evidence = [
        f"{s} disclosed {d} times in a row (turns {t0}–{t1}, up to layer {m} '{LAYER_NAMES[int(m)]}') "
        f"while the partner took {p} turns without disclosing"
        for s, d, t0, t1, m, p in zip(o.speaker_names[hits], n_disclosures[fire], o.turn[start[fire]],
                                      o.turn[hits], layer_max, partner_turns[fire])
    ]
    return _frame(o, hits, "unreciprocated_disclosure", severity, evidence)


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
    """Balance index over the last ``window`` rows, the dominant speaker's local index, the window total and
    the per-speaker window counts (columns = speakers in order of first appearance)."""
    counts = _window_counts(o, window)
    n_speakers = pd.Series(o.local).groupby(o.conv).transform("max").to_numpy() + 1
    active = np.arange(counts.shape[1])[None, :] < n_speakers[:, None]
    counts = np.where(active, counts, 0.0)
    total = counts.sum(axis=1)
    mean = total / n_speakers
    spread = np.where(active, np.abs(counts - mean[:, None]), 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        index = np.where(total > 0, spread / np.maximum(total, 1e-12), np.nan)
    return index, counts.argmax(axis=1), total, counts


def imbalance(o: _Ordered, rules: AlertRules) -> pd.DataFrame:
    index, dominant, total, counts = imbalance_index(o, rules.imbalance_window)
    full = o.position >= rules.imbalance_window - 1
    with np.errstate(invalid="ignore"):
        high = full & (total >= rules.imbalance_min_disclosures) & (index >= rules.imbalance_threshold)
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


def _window_counts(o: _Ordered, window: int) -> np.ndarray:
    k = int(o.local.max()) + 1 if o.n else 1
    onehot = np.zeros((o.n, k))
    onehot[np.arange(o.n), o.local] = o.disclosed
    cs = np.vstack([np.zeros((1, k)), np.cumsum(onehot, axis=0)])
    i = np.arange(o.n)
    return cs[i + 1] - cs[np.maximum(i - window + 1, o.starts)]


def depenetration_alerts(coded: pd.DataFrame, rules: AlertRules) -> pd.DataFrame:
    events = depenetration_events(coded, rules.stage_rules, levels=("dyad",))
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
    dep = depenetration_alerts(coded, rules)
    if len(dep):
        frames.append(dep)
    if not frames:
        return _empty()
    out = pd.concat(frames, ignore_index=True)
    conv_rank = pd.Series(np.arange(len(pd.unique(o.conversation_ids))), index=pd.unique(o.conversation_ids))
    out["_conv"] = conv_rank.reindex(out["conversation_id"]).to_numpy()
    out["_kind"] = pd.Categorical(out["kind"], categories=list(KINDS)).codes
    out = out.sort_values(["_conv", "turn", "_kind"], kind="stable").drop(columns=["_conv", "_kind"])
    out["severity"] = out["severity"].astype(SEVERITIES)
    out["turn"] = out["turn"].astype("int64")
    return out.reset_index(drop=True)[ALERT_COLUMNS]
