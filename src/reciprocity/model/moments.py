"""Summary statistics ("moments") of coded conversations, for simulated method of moments.

The statistics are the project's measures (THEORY.md §3, :mod:`reciprocity.measure`) computed from
per-conversation sufficient statistics, so that the same code serves real tables and simulator arrays, and a
conversation-level bootstrap is a matrix product. Depth and layer of an utterance coded as *not* disclosing count
as 0, as the simulator produces them (a detector may grade such utterances with a depth; on those tables
``mean_depth``, ``deep_share`` and ``early_depth`` are lower than the pipeline's own depth summaries):

* ``disclosure_rate`` — share of utterances that disclose;
* ``mean_depth`` — mean depth (0–3) over utterances;
* ``deep_share`` — share of utterances at layer >= 2;
* ``partner_lag_r`` — lagged matching r = corr(d_{t-1}, d_t) over exchange pairs (speaker change), pooled over
  conversations after centring depth on each conversation's mean (so between-dyad level differences do not
  pass for reciprocity);
* ``own_lag_r`` — the same for a speaker's own previous turn (stability; THEORY.md §3 warns that without it topic
  drift masquerades as reciprocity);
* ``conditional_reciprocity`` — P(next discloses | previous disclosed) − P(next discloses), pooled over pairs;
* ``depth_slope`` — mean over conversations of the OLS slope of depth on turn position scaled to [0, 1]
  (as :func:`reciprocity.measure.conversation_profile`);
* ``early_depth`` — mean depth over the first quarter of each conversation's turns (position < 0.25);
* ``breadth`` — mean number of distinct topics disclosed per conversation.

Moments of the *disclosed* depths (added so that the depth level, its growth and its noise are told apart):

* ``disclosed_depth`` — mean depth of the disclosing utterances;
* ``disclosed_depth_sd`` — pooled within-conversation SD of disclosed depth (around each conversation's mean);
* ``own_depth_msd`` — mean squared difference between a speaker's consecutive disclosed depths (a von Neumann
  estimate of the turn-to-turn depth noise, insensitive to slow trends);
* ``opening_rate`` / ``opening_depth`` — disclosure rate and mean disclosed depth over the first
  ``OPENING_TURNS`` turns of each conversation (the initial intimacy);
* ``late_rate`` / ``late_depth`` — the same over the last third of each conversation (position >= 2/3: growth);
* ``core_share`` — share of disclosing utterances at layer 3;
* ``rate_4_11`` / ``depth_4_11`` and ``rate_12_19`` / ``depth_12_19`` — disclosure rate and mean disclosed depth
  over turns 4–11 and 12–19 (0-based turn index; the penetration profile between opening and end);
* ``balance_slope`` / ``balance_slope_within`` — OLS slope of disclosed depth on the speaker's *reciprocation
  balance* so far (how many of the speaker's earlier disclosures the next utterance returned with a disclosure,
  minus how many it did not), pooled over all disclosing utterances, and the same slope within conversations
  (both variables centred on their conversation means): how much a speaker goes deeper as their partner has
  proved to reciprocate — the trace of trust-driven pace, which the level and window moments confound with the
  initial intimacy.

``tests/test_model_fit.py`` checks these against :func:`reciprocity.measure.reciprocity.pair_statistics` and
:func:`reciprocity.measure.conversation_profile` on the same table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from reciprocity.schema import CONVERSATION, SPEAKER

MOMENT_NAMES: tuple[str, ...] = (
    "disclosure_rate", "mean_depth", "deep_share", "partner_lag_r", "own_lag_r",
    "conditional_reciprocity", "depth_slope", "early_depth", "breadth",
    "disclosed_depth", "disclosed_depth_sd", "own_depth_msd", "opening_rate", "opening_depth",
    "late_rate", "late_depth", "core_share", "rate_4_11", "depth_4_11", "rate_12_19", "depth_12_19",
    "balance_slope", "balance_slope_within",
)
#: Turns of a conversation that count as its opening (``opening_rate`` / ``opening_depth``).
OPENING_TURNS = 4
_EPS = 1e-12


@dataclass
class Flat:
    """Coded utterances as flat arrays, sorted by conversation then turn (conversation codes 0..C-1)."""

    depth: np.ndarray       # float64
    disclosed: np.ndarray   # bool
    layer: np.ndarray       # int
    conversation: np.ndarray  # int codes, contiguous
    speaker: np.ndarray     # int codes (unique within conversation)
    breadth: np.ndarray     # (C,) distinct topics disclosed per conversation

    @property
    def n_conversations(self) -> int:
        return len(self.breadth)

    def lengths(self) -> np.ndarray:
        return np.bincount(self.conversation, minlength=self.n_conversations)


def flat_from_table(coded: pd.DataFrame) -> Flat:
    """Flat arrays from a coded utterance table (``disclosure``, ``depth``, ``layer``, optional ``topics``).

    Depth and layer of non-disclosing utterances are read as 0, as the simulator produces them.
    """
    table = coded
    if "turn" in table.columns:
        order = np.lexsort((table["turn"].to_numpy(), pd.factorize(table[CONVERSATION])[0]))
        table = table.iloc[order]
    conversation = pd.factorize(table[CONVERSATION])[0]
    speaker = pd.factorize(table[CONVERSATION].astype(str) + "\x1f" + table[SPEAKER].astype(str))[0]
    disclosed = table["disclosure"].to_numpy(bool)
    # the simulator's depth and layer are 0 for an utterance that does not disclose; coded tables may give such
    # utterances a depth (a detector's graded score), which the model cannot produce: read them as 0 here
    depth = np.where(disclosed, table["depth"].to_numpy(float), 0.0)
    if "layer" in table.columns:
        layer = np.where(disclosed, table["layer"].to_numpy(int), 0)
    else:
        layer = np.clip(np.rint(depth), 0, 3).astype(int)
    n_conv = int(conversation.max()) + 1 if len(conversation) else 0
    breadth = np.zeros(n_conv)
    if "topics" in table.columns:
        topics = pd.Series(table["topics"].to_numpy(), index=conversation)
        topics = topics[disclosed].explode().dropna()
        if len(topics):
            counts = topics.groupby(level=0).nunique()
            breadth[counts.index.to_numpy(int)] = counts.to_numpy()
    return Flat(depth, disclosed, layer, conversation, speaker, breadth)


def flat_from_sim(sim, lengths: np.ndarray | None = None) -> Flat:
    """Flat arrays from :class:`SimArrays`, keeping the first ``lengths[i]`` turns of conversation i."""
    T, n = sim.depth.shape
    depth = sim.depth.T.astype(float)
    topic = sim.topic.T
    keep = np.ones((n, T), bool) if lengths is None else np.arange(T)[None, :] < np.asarray(lengths)[:, None]
    bits = np.where((topic >= 0) & keep, np.left_shift(1, np.maximum(topic, 0).astype(np.int64)), 0)
    mask = np.bitwise_or.reduce(bits, axis=1)
    breadth = _popcount(mask)
    conversation = np.broadcast_to(np.arange(n)[:, None], (n, T))[keep]
    speaker_of_turn = np.arange(T) % sim.params.group_size
    speaker = (conversation * sim.params.group_size + np.broadcast_to(speaker_of_turn, (n, T))[keep])
    d = depth[keep]
    return Flat(d, d > 0, np.where(d > 0, np.clip(np.floor(d + 0.5), 1, 3), 0).astype(int),
                conversation, speaker, breadth.astype(float))


def _popcount(mask: np.ndarray) -> np.ndarray:
    count = np.zeros(len(mask), np.int64)
    for bit in range(13):
        count += (mask >> bit) & 1
    return count


#: Columns of the per-conversation sufficient-statistics matrix.
_SUMS = ("n", "n_disc", "s_depth", "n_deep",
         "p_n", "p_sx", "p_sy", "p_sxx", "p_syy", "p_sxy",
         "o_n", "o_sx", "o_sy", "o_sxx", "o_syy", "o_sxy",
         "c_prev", "c_both", "c_next",
         "slope", "slope_ok", "n_early", "s_early", "breadth", "one",
         "d_n", "d_s", "d_ss", "d_conv", "m_n", "m_ss", "op_n", "op_d", "op_s", "la_n", "la_d", "la_s", "d_core",
         "w1_n", "w1_d", "w1_s", "w2_n", "w2_d", "w2_s",
         "b_sx", "b_sxx", "b_sxy", "b_wxx", "b_wxy")


def conversation_sums(flat: Flat) -> np.ndarray:
    """(C, len(_SUMS)) sufficient statistics per conversation."""
    C = flat.n_conversations
    conv, depth = flat.conversation, flat.depth

    def total(values, group=conv):
        return np.bincount(group, weights=values, minlength=C)

    n = np.bincount(conv, minlength=C).astype(float)
    centred = depth - (total(depth) / np.maximum(n, 1))[conv]
    same_conv = np.r_[False, conv[1:] == conv[:-1]]
    nxt = np.flatnonzero(same_conv & np.r_[False, flat.speaker[1:] != flat.speaker[:-1]])
    prv = nxt - 1
    out = [n, total(flat.disclosed.astype(float)), total(depth), total((flat.layer >= 2).astype(float))]
    for prev, nxt_ in ((prv, nxt), _own_pairs(flat)):
        g = conv[nxt_]
        x, y = centred[prev], centred[nxt_]
        out += [total(np.ones(len(g)), g), total(x, g), total(y, g), total(x * x, g), total(y * y, g), total(x * y, g)]
    g = conv[nxt]
    dp, dn = flat.disclosed[prv].astype(float), flat.disclosed[nxt].astype(float)
    out += [total(dp, g), total(dp * dn, g), total(dn, g)]
    # depth slope on position scaled to [0, 1]
    start = np.r_[0, np.cumsum(n)[:-1]].astype(int)
    position = (np.arange(len(conv)) - start[conv]) / np.maximum(n - 1, 1)[conv]
    pc = position - (total(position) / np.maximum(n, 1))[conv]
    den = total(pc * pc)
    ok = den > 0
    early = position < 0.25
    out += [np.where(ok, total(pc * depth) / np.where(ok, den, 1), 0.0), ok.astype(float),
            total(early.astype(float)), total(np.where(early, depth, 0.0)), flat.breadth, np.ones(C)]
    # disclosed depths: level, within-conversation spread, own turn-to-turn differences, opening and late windows
    disclosed = flat.disclosed & (depth > 0)
    dd = np.where(disclosed, depth, 0.0)
    d_n = total(disclosed.astype(float))
    d_s = total(dd)
    d_mean = d_s / np.maximum(d_n, 1)
    resid = np.where(disclosed, depth - d_mean[conv], 0.0)
    prev, nxt_ = _own_pairs(flat)
    both = disclosed[prev] & disclosed[nxt_]
    diff2 = np.where(both, (depth[nxt_] - depth[prev]) ** 2, 0.0)
    index = np.arange(len(conv)) - start[conv]
    opening = index < OPENING_TURNS
    late = position >= 2 / 3
    out += [d_n, d_s, total(resid * resid), (d_n > 0).astype(float),
            total(both.astype(float), conv[nxt_]), total(diff2, conv[nxt_]),
            total(opening.astype(float)), total((opening & disclosed).astype(float)), total(np.where(opening, dd, 0.0)),
            total(late.astype(float)), total((late & disclosed).astype(float)), total(np.where(late, dd, 0.0)),
            total((disclosed & (flat.layer >= 3)).astype(float))]
    for first, last in ((4, 12), (12, 20)):
        window = (index >= first) & (index < last)
        out += [total(window.astype(float)), total((window & disclosed).astype(float)),
                total(np.where(window, dd, 0.0))]
    # reciprocation balance of the speaker before each utterance
    balance = _reciprocation_balance(flat, disclosed, same_conv)
    bx = np.where(disclosed, balance, 0.0)
    b_sx, b_sxx, b_sxy = total(bx), total(bx * bx), total(bx * dd)
    safe = np.maximum(d_n, 1)
    out += [b_sx, b_sxx, b_sxy, b_sxx - b_sx**2 / safe, b_sxy - b_sx * d_s / safe]
    return np.column_stack(out)


def _reciprocation_balance(flat: Flat, disclosed: np.ndarray, same_conv: np.ndarray) -> np.ndarray:
    """Per utterance: over the speaker's earlier utterances in the conversation, the number of disclosures the
    next utterance returned with a disclosure minus the number it did not (exclusive cumulative sum)."""
    n = len(disclosed)
    nxt_disclosed = np.zeros(n, bool)
    has_next = np.zeros(n, bool)
    has_next[:-1] = same_conv[1:]
    nxt_disclosed[:-1] = disclosed[1:] & same_conv[1:]
    outcome = np.where(disclosed & has_next, np.where(nxt_disclosed, 1.0, -1.0), 0.0)
    order = np.lexsort((np.arange(n), flat.speaker))
    b = outcome[order]
    exclusive = np.cumsum(b) - b
    speaker = flat.speaker[order]
    first = np.r_[True, speaker[1:] != speaker[:-1]]
    group = np.cumsum(first) - 1
    exclusive -= exclusive[first][group]
    balance = np.empty(n)
    balance[order] = exclusive
    return balance


def _own_pairs(flat: Flat) -> tuple[np.ndarray, np.ndarray]:
    """(previous turn of the same speaker, turn) pairs within a conversation."""
    order = np.lexsort((np.arange(len(flat.speaker)), flat.speaker))
    s = flat.speaker[order]
    same = np.flatnonzero(s[1:] == s[:-1])
    return order[same], order[same + 1]


def moments_from_sums(totals: np.ndarray) -> np.ndarray:
    """Moment vector(s) from summed sufficient statistics; ``totals`` is (K,) or (B, K)."""
    t = np.atleast_2d(totals)
    col = {name: t[:, i] for i, name in enumerate(_SUMS)}
    with np.errstate(invalid="ignore", divide="ignore"):
        def corr(prefix):
            n, sx, sy = col[prefix + "n"], col[prefix + "sx"], col[prefix + "sy"]
            num = n * col[prefix + "sxy"] - sx * sy
            den = np.sqrt(np.maximum(n * col[prefix + "sxx"] - sx**2, 0) * np.maximum(n * col[prefix + "syy"] - sy**2, 0))
            return np.where(den > _EPS, num / np.maximum(den, _EPS), 0.0)

        pairs = np.maximum(col["p_n"], 1)
        conditional = np.where(col["c_prev"] > 0, col["c_both"] / np.maximum(col["c_prev"], 1) - col["c_next"] / pairs, 0.0)
        out = np.column_stack([
            col["n_disc"] / col["n"], col["s_depth"] / col["n"], col["n_deep"] / col["n"],
            corr("p_"), corr("o_"), conditional,
            col["slope"] / np.maximum(col["slope_ok"], 1), col["s_early"] / np.maximum(col["n_early"], 1),
            col["breadth"] / col["one"],
            col["d_s"] / np.maximum(col["d_n"], 1),
            np.sqrt(col["d_ss"] / np.maximum(col["d_n"] - col["d_conv"], 1)),
            col["m_ss"] / np.maximum(col["m_n"], 1),
            col["op_d"] / np.maximum(col["op_n"], 1), col["op_s"] / np.maximum(col["op_d"], 1),
            col["la_d"] / np.maximum(col["la_n"], 1), col["la_s"] / np.maximum(col["la_d"], 1),
            col["d_core"] / np.maximum(col["d_n"], 1),
            col["w1_d"] / np.maximum(col["w1_n"], 1), col["w1_s"] / np.maximum(col["w1_d"], 1),
            col["w2_d"] / np.maximum(col["w2_n"], 1), col["w2_s"] / np.maximum(col["w2_d"], 1),
            _slope(col["d_n"], col["b_sx"], col["d_s"], col["b_sxx"], col["b_sxy"]),
            np.where(col["b_wxx"] > _EPS, col["b_wxy"] / np.maximum(col["b_wxx"], _EPS), 0.0),
        ])
    return out[0] if np.ndim(totals) == 1 else out


def _slope(n, sx, sy, sxx, sxy):
    den = n * sxx - sx**2
    return np.where(den > _EPS, (n * sxy - sx * sy) / np.maximum(den, _EPS), 0.0)


def moments(flat: Flat) -> np.ndarray:
    """The moment vector (order :data:`MOMENT_NAMES`)."""
    return moments_from_sums(conversation_sums(flat).sum(axis=0))


def bootstrap_moments(flat: Flat, n_boot: int = 300, seed: int = 0) -> np.ndarray:
    """(n_boot, M) moments of conversation-level bootstrap resamples (resampling whole conversations)."""
    sums = conversation_sums(flat)
    rng = np.random.default_rng(seed)
    C = len(sums)
    weights = rng.multinomial(C, np.full(C, 1 / C), size=n_boot).astype(float)
    return moments_from_sums(weights @ sums)


def summary_statistics(table: pd.DataFrame) -> dict[str, float]:
    """The moments of a coded utterance table, by name."""
    return dict(zip(MOMENT_NAMES, map(float, moments(flat_from_table(table)))))
