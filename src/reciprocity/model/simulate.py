"""Vectorised simulator of the social-penetration process (THEORY.md §4; equations in docs/simulator.md).

State is held in NumPy arrays over conversations — shape ``(n,)`` per dyad quantity and ``(n, k)`` per agent
(k = group size) — and the only Python loop is over turns. Turn ``t`` is taken by agent ``s = t mod k``
(round robin); the speaker's *partner* is the previous speaker.

Per turn, for the speaker s (trust T_s, openness o_s) in a conversation with intimacy I:

    step   = pace_eff * (T_s - theta) / (1 - theta)                     # < 0 below the trust threshold
    L      = clip(I + step, 0, ceiling)                                 # licensed depth
    mu     = (1 - rho_s) * L + rho_s * d_prev + online * disinhibition / 4   # reciprocity norm
    P(disclose) = sigmoid(bias_s + o_s + willingness * (mu - 1))
    depth  = clip(mu + sigma * eps, 0.5, 3) if disclosing, else 0;  overshoot -> U(2.5, 3)

then the listener(s) react and the state updates (discomfort, returned / unreturned disclosure, intimacy,
misuse, depenetration) — see :func:`react`.

Two engines run these rules (``simulate_arrays(..., engine=...)``): this module's NumPy loop over turns (the
reference, always available) and, when Numba is installed (extra ``sim``), the compiled kernel of
:mod:`reciprocity.model._kernel` (parallel over blocks of dyads, a branch-free SIMD inner loop, counter-based
random numbers) — the default then. They give the same distributions (tested), not the same random streams.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from reciprocity._compiled import optional_kernel
from reciprocity.model.params import Params, Scenario, resolve_params
from reciprocity.schema import TOPICS

# breadth is kept as an int16 bit mask of opened topics (both engines): at most 15 topics fit
assert len(TOPICS) <= 15, "the int16 'opened' topic bit mask holds at most 15 topics"

#: Relative weight of each Altman–Taylor topic at layers 1, 2, 3 (rows) — deeper layers favour
#: emotions, love/sex, family and health; the surface favours biography, work and hobbies.
LAYER_TOPIC_WEIGHTS = np.array([
    # rel  marr love  par  phys money pol   emo  int  rel_o att  work bio
    [0.2, 0.5, 0.3, 0.5, 0.5, 0.5, 0.6, 0.3, 3.0, 0.8, 0.6, 2.5, 3.0],   # layer 1 (peripheral)
    [0.6, 1.2, 0.8, 1.0, 0.8, 0.8, 1.2, 1.2, 1.0, 1.8, 1.8, 1.5, 0.5],   # layer 2 (intermediate)
    [1.0, 1.5, 1.5, 1.2, 1.5, 0.8, 0.5, 3.0, 0.2, 1.0, 1.2, 0.5, 0.1],   # layer 3 (core)
])
_LUT_SIZE = 4096


def _topic_lookup() -> np.ndarray:
    """(3, LUT) table: topic drawn by layer from a uniform index (inverse CDF, precomputed)."""
    cdf = np.cumsum(LAYER_TOPIC_WEIGHTS / LAYER_TOPIC_WEIGHTS.sum(axis=1, keepdims=True), axis=1)
    grid = (np.arange(_LUT_SIZE) + 0.5) / _LUT_SIZE
    return np.stack([np.searchsorted(row, grid) for row in cdf]).astype(np.int8)


TOPIC_LUT = _topic_lookup()
#: Flat (3 x 13) cumulative topic probabilities by layer: the compiled kernel draws topics by inverse CDF.
TOPIC_CDF = np.cumsum(LAYER_TOPIC_WEIGHTS / LAYER_TOPIC_WEIGHTS.sum(axis=1, keepdims=True), axis=1).astype(np.float32).reshape(-1)
SAFETY_LOGIT = 1.0     # logit shift per unit of safety above 0.5
POWER_LOGIT = 1.0      # logit shift against the powerful agent per unit of asymmetry
EPS = 1e-6


@dataclass(frozen=True)
class Effective:
    """Parameters after moderators are applied (per agent where they differ)."""

    bias: np.ndarray          # (k,) disclosure logit intercept per agent
    rho: np.ndarray           # (k,) reciprocity-norm strength per agent
    overshoot: np.ndarray     # (k,) overshoot probability per agent
    pace: float
    depth_shift: float
    comfort_scale: float
    misuse: float
    k: int


def effective(p: Params) -> Effective:
    """Apply the moderators (culture, context, channel, relationship type) to the core parameters."""
    k = p.group_size
    bias = np.full(k, p.disclosure_bias + p.culture_openness + p.online * p.disinhibition
                   + SAFETY_LOGIT * (p.safety - 0.5))
    rho = np.full(k, p.reciprocity)
    bias[0] -= POWER_LOGIT * p.power_asymmetry
    rho[1:] = p.reciprocity + p.power_asymmetry * (1 - p.reciprocity) / 2
    bias[1] += p.partner_openness_shift
    overshoot = np.full(k, p.overshoot_rate * p.escalation * (1 + p.online * p.boundary_risk))
    return Effective(
        bias=bias, rho=rho, overshoot=np.clip(overshoot, 0, 1),
        pace=p.pace * p.culture_pace * p.escalation,
        depth_shift=0.25 * p.online * p.disinhibition,
        comfort_scale=0.5 + p.safety,
        misuse=min(1.0, p.misuse_rate * (1 + p.online * p.boundary_risk) * (1.5 - p.safety)),
        k=k,
    )


@dataclass
class State:
    """Latent state of n conversations with k agents each."""

    trust: np.ndarray       # (k, n) float32, each agent's trust in the partner(s) (agent-major: rows contiguous)
    openness: np.ndarray    # (k, n) personal openness offset (logit)
    comfort: np.ndarray     # (k, n) comfort margin (depth units)
    intimacy: np.ndarray    # (n,) dyad intimacy (licensed depth)
    last_depth: np.ndarray  # (n,) depth of the previous utterance
    last_topic: np.ndarray  # (k, n) int8, each agent's last disclosed topic (-1 none)
    opened: np.ndarray      # (n,) int16 bit mask of topics opened (breadth)


def initial_state(p: Params, n: int, rng: np.random.Generator, dtype=np.float32) -> State:
    k = p.group_size
    traits = rng.standard_normal((2, k, n), dtype=np.float32).astype(dtype, copy=False)
    return State(
        trust=np.full((k, n), p.trust0, dtype=dtype),
        openness=(p.openness_sd * traits[0]).astype(dtype),
        comfort=np.maximum(p.comfort_mean + p.comfort_sd * traits[1], 0).astype(dtype),
        intimacy=np.full(n, p.intimacy0, dtype=dtype),
        last_depth=np.zeros(n, dtype=dtype),
        last_topic=np.full((k, n), -1, dtype=np.int8),
        opened=np.zeros(n, dtype=np.int16),
    )


def policy(p: Params, e: Effective, state: State, s: int | np.ndarray, t: int):
    """Speaker s's disclosure probability, target depth and overshoot probability at turn t.

    ``s`` is one agent index (all conversations) or an array of indices (one per conversation).
    Returns (p_disclose, mu, overshoot, withheld) arrays of shape (n,).
    """
    if np.ndim(s) == 0:
        trust, openness = state.trust[s], state.openness[s]
        bias, rho, over = e.bias[s], e.rho[s], e.overshoot[s]
    else:
        rows = np.arange(len(s))
        trust, openness = state.trust[s, rows], state.openness[s, rows]
        bias, rho, over = e.bias[s], e.rho[s], e.overshoot[s]
    if t < p.premature_turns:
        over = np.minimum(over + p.premature_rate * (np.asarray(s) == 0), 1.0)
    theta = p.trust_threshold
    step = (trust - theta) * (e.pace / (1 - theta))
    licensed = np.clip(state.intimacy + step, 0, p.ceiling)
    mu = (1 - rho) * licensed + rho * state.last_depth + e.depth_shift
    logit = bias + openness + p.depth_willingness * (mu - 1)
    p_disclose = 1 / (1 + np.exp(-logit))
    withheld = (np.asarray(s) == 1) & (p.partner_withdraw_turn >= 0) & (t >= p.partner_withdraw_turn)
    return p_disclose, mu, over, withheld


def react(p: Params, e: Effective, state: State, s: int | np.ndarray, depth: np.ndarray,
          u_misuse: np.ndarray) -> np.ndarray:
    """Listener reactions and state updates after speaker s uttered ``depth`` (0 = no disclosure).

    * discomfort — every listener l loses trust ``discomfort_penalty * max(0, d - (I + c_l*(0.5+safety)))``;
    * the previous speaker q, whose utterance (depth d_prev) this one answers: if both disclosed,
      ``T_q += trust_gain * m * (1 - T_q)`` with the matching index m = 1 - |d - d_prev| / (d + d_prev);
      in any case ``T_q -= trust_loss * max(0, d_prev - d) / 3`` (an unreturned disclosure);
    * intimacy moves toward the mean depth of a reciprocated exchange: ``I += rate * m * ((d + d_prev)/2 - I)``;
    * misuse: a disclosure is misused with probability ``misuse * d / 3``; the discloser loses
      ``betrayal_severity`` trust and intimacy shrinks by half that fraction;
    * depenetration: ``I -= depenetration_rate * max(0, theta - T_s) * 0.1`` per turn.

    Returns the boolean misuse array.
    """
    k, n = state.trust.shape
    scalar = np.ndim(s) == 0
    rows = None if scalar else np.arange(n)
    d_prev = state.last_depth
    intimacy = state.intimacy
    disclosed = depth > 0
    # discomfort of every listener
    excess = depth - intimacy
    for agent in range(k):
        if scalar and agent == s:
            continue
        over = np.maximum(excess - state.comfort[agent] * e.comfort_scale, 0)
        if not scalar:
            over = np.where(s == agent, 0, over)
        state.trust[agent] -= p.discomfort_penalty * over
    # the previous speaker's disclosure: returned or not
    q = (s - 1) % k
    matching = 1 - np.abs(depth - d_prev) / (depth + d_prev + EPS)
    returned = disclosed & (d_prev > 0)
    delta = np.maximum(d_prev - depth, 0) * (-p.trust_loss / 3)
    if scalar:
        trust_q = state.trust[q]
        delta += np.where(returned, p.trust_gain * matching * (1 - trust_q), 0)
        if k > 1 and q != s:
            state.trust[q] += delta
    else:
        trust_q = state.trust[q, rows]
        delta += np.where(returned, p.trust_gain * matching * (1 - trust_q), 0)
        state.trust[q, rows] += np.where(q != s, delta, 0)
    # intimacy from reciprocated exchanges
    target = 0.5 * (depth + d_prev)
    intimacy += np.where(returned, p.intimacy_rate * matching * (target - intimacy), 0).astype(intimacy.dtype)
    # misuse / betrayal of the speaker's disclosure
    misuse = disclosed & (u_misuse < e.misuse * depth / 3)
    if scalar:
        state.trust[s] -= np.where(misuse, p.betrayal_severity, 0).astype(state.trust.dtype)
        trust_s = state.trust[s]
    else:
        state.trust[s, rows] -= np.where(misuse, p.betrayal_severity, 0)
        trust_s = state.trust[s, rows]
    intimacy *= np.where(misuse, 1 - 0.5 * p.betrayal_severity, 1).astype(intimacy.dtype)
    # depenetration when trust has fallen below the threshold
    intimacy -= (0.1 * p.depenetration_rate) * np.maximum(p.trust_threshold - trust_s, 0)
    np.clip(intimacy, 0, 3, out=intimacy)
    np.clip(state.trust, 0, 1, out=state.trust)
    state.last_depth = depth
    return misuse


@dataclass
class SimArrays:
    """Raw simulation output, turn-major: every per-turn array has shape (n_turns, n_dyads)."""

    params: Params
    depth: np.ndarray       # float32, 0 = no disclosure
    topic: np.ndarray       # int8, -1 = none
    trust: np.ndarray       # float32, speaker's trust in the partner before the turn
    intimacy: np.ndarray    # float32, dyad intimacy before the turn
    misuse: np.ndarray      # bool, the turn's disclosure was misused
    final_trust: np.ndarray      # (n, k)
    final_intimacy: np.ndarray   # (n,)
    opened: np.ndarray           # (n,) bit mask of topics opened

    @property
    def n_turns(self) -> int:
        return self.depth.shape[0]

    @property
    def n_dyads(self) -> int:
        return self.depth.shape[1]

    @property
    def speaker(self) -> np.ndarray:
        return np.arange(self.n_turns) % self.params.group_size

    @property
    def layer(self) -> np.ndarray:
        return layer_of(self.depth)


def layer_of(depth: np.ndarray) -> np.ndarray:
    """Layer 0 for no disclosure, else round(depth) within 1..3."""
    return np.where(depth > 0, np.clip(np.floor(depth + 0.5), 1, 3), 0).astype(np.int8)


def available_engines() -> tuple[str, ...]:
    """Simulation engines usable here: ``"numba"`` (compiled kernel, optional extra ``numba``) and ``"numpy"``."""
    return ("numba", "numpy") if _numba_kernel() is not None else ("numpy",)


def _numba_kernel():
    """The compiled simulation kernel (:mod:`reciprocity.model._kernel`), or None without Numba."""
    return optional_kernel("reciprocity.model._kernel")


def simulate_arrays(params_or_scenario: "Params | Scenario | str | Path | dict | None", n_dyads: int,
                    n_turns: int, seed: "int | np.random.Generator | None" = 0, *,
                    engine: str = "auto") -> SimArrays:
    """Simulate ``n_dyads`` conversations of ``n_turns`` turns; arrays only (the fast core).

    ``engine``: ``"numba"`` (compiled kernel, parallel over dyads; needs the optional ``sim`` extra),
    ``"numpy"`` (vectorised over dyads, the reference implementation) or ``"auto"`` (numba when importable).
    The two engines follow the same rules and give the same distributions but different random streams.
    Either way two calls with the same seed use common random numbers across parameter values (as simulated
    method of moments needs): the NumPy engine draws every random number with a fixed shape per turn, the
    kernel addresses each draw by (dyad, turn, slot).
    """
    p = resolve_params(params_or_scenario)
    if n_dyads < 1 or n_turns < 1:
        raise ValueError("n_dyads and n_turns must be positive")
    if engine not in ("auto", "numba", "numpy"):
        raise ValueError(f"engine must be 'auto', 'numba' or 'numpy', got {engine!r}")
    kernel = _numba_kernel() if engine != "numpy" else None
    if engine == "numba" and kernel is None:
        raise ImportError("engine='numba' needs numba: pip install 'reciprocity[numba]'")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    e = effective(p)
    if kernel is not None:
        return _simulate_kernel(kernel, p, e, n_dyads, n_turns, rng)
    n, k = n_dyads, p.group_size
    state = initial_state(p, n, rng)
    depth_out = np.empty((n_turns, n), np.float32)
    topic_out = np.empty((n_turns, n), np.int8)
    trust_out = np.empty((n_turns, n), np.float32)
    intimacy_out = np.empty((n_turns, n), np.float32)
    misuse_out = np.empty((n_turns, n), bool)
    lut = TOPIC_LUT
    for t in range(n_turns):
        s = t % k
        uniforms = rng.random((5, n), dtype=np.float32)
        noise = rng.standard_normal(n, dtype=np.float32)
        trust_out[t] = state.trust[s]
        intimacy_out[t] = state.intimacy
        p_disclose, mu, over_rate, withheld = policy(p, e, state, s, t)
        over = uniforms[1] < over_rate
        disclose = (uniforms[0] < p_disclose) | over
        depth = np.clip(mu + p.depth_noise * noise, 0.5, 3.0)
        if over_rate > 0:
            depth = np.where(over, 2.5 + 0.5 * uniforms[1] / over_rate, depth)
        if withheld:
            disclose[:] = False
        depth = np.where(disclose, depth, 0).astype(np.float32)
        layer = layer_of(depth)
        drawn = lut[np.maximum(layer - 1, 0), (uniforms[2] * _LUT_SIZE).astype(np.int32)]
        last = state.last_topic[s]
        topic = np.where((uniforms[3] < p.topic_stickiness) & (last >= 0), last, drawn)
        topic = np.where(disclose, topic, -1).astype(np.int8)
        state.last_topic[s] = np.where(disclose, topic, last)
        state.opened |= np.where(disclose, np.left_shift(np.int16(1), np.maximum(topic, 0).astype(np.int16)), 0).astype(np.int16)
        misuse_out[t] = react(p, e, state, s, depth, uniforms[4])
        depth_out[t] = depth
        topic_out[t] = topic
    return SimArrays(p, depth_out, topic_out, trust_out, intimacy_out, misuse_out,
                     state.trust.T.copy(), state.intimacy.copy(), state.opened.copy())


def _topic_guide(kernel) -> np.ndarray:
    """The kernel's topic guide table (built once from :data:`TOPIC_CDF`)."""
    global _GUIDE
    if _GUIDE is None:
        _GUIDE = kernel.topic_guide(TOPIC_CDF)
    return _GUIDE


_GUIDE = None


def _simulate_kernel(kernel, p: Params, e: Effective, n: int, n_turns: int, rng: np.random.Generator) -> SimArrays:
    """The same simulation through the compiled kernel (:mod:`reciprocity.model._kernel`)."""
    k = p.group_size
    key = np.uint64(rng.integers(0, np.iinfo(np.uint64).max, dtype=np.uint64, endpoint=True))
    f = np.float32
    depth_out = np.empty((n_turns, n), np.float32)
    topic_out = np.empty((n_turns, n), np.int8)
    trust_out = np.empty((n_turns, n), np.float32)
    intimacy_out = np.empty((n_turns, n), np.float32)
    misuse_out = np.empty((n_turns, n), bool)
    final_trust = np.empty((n, k), np.float32)
    final_intimacy = np.empty(n, np.float32)
    opened = np.empty(n, np.int16)
    if k == 2:
        kernel.run_dyads(key, n_turns, e.bias.astype(f), e.rho.astype(f), e.overshoot.astype(f),
                         kernel.dyad_parameters(p, e), f(p.trust0), f(p.intimacy0), f(p.openness_sd),
                         f(p.comfort_mean), f(p.comfort_sd), f(p.premature_rate), p.premature_turns,
                         p.partner_withdraw_turn, _topic_guide(kernel), depth_out, topic_out, trust_out, intimacy_out,
                         misuse_out, final_trust, final_intimacy, opened)
        return SimArrays(p, depth_out, topic_out, trust_out, intimacy_out, misuse_out, final_trust,
                         final_intimacy, opened)
    kernel.run_general(key, n_turns, k, e.bias.astype(f), e.rho.astype(f), e.overshoot.astype(f), f(e.pace),
               f(e.depth_shift), f(e.comfort_scale), f(e.misuse), f(p.trust0), f(p.intimacy0), f(p.openness_sd),
               f(p.comfort_mean), f(p.comfort_sd), f(p.trust_threshold), f(p.ceiling), f(p.depth_willingness),
               f(p.depth_noise), f(p.premature_rate), p.premature_turns, p.partner_withdraw_turn,
               f(p.topic_stickiness), f(p.discomfort_penalty), f(p.trust_gain), f(p.trust_loss),
               f(p.intimacy_rate), f(p.depenetration_rate), f(p.betrayal_severity), TOPIC_LUT, _LUT_SIZE,
               depth_out, topic_out, trust_out, intimacy_out, misuse_out, final_trust, final_intimacy, opened)
    return SimArrays(p, depth_out, topic_out, trust_out, intimacy_out, misuse_out, final_trust, final_intimacy,
                     opened)


# ------------------------------------------------------------------------------------------------
# Utterance tables
# ------------------------------------------------------------------------------------------------
_TOPIC_NAMES = np.array(list(TOPICS) + [""], dtype=object)
_SPEAKERS = np.array([chr(ord("A") + i) for i in range(12)], dtype=object)


def _text_lookup() -> np.ndarray:
    """Placeholder texts for every (depth tenth, topic) pair, built once: index depth10 * 14 + topic."""
    texts = np.empty(31 * 14, dtype=object)
    for tenth in range(31):
        for topic in range(14):
            if tenth == 0 or topic == 13:
                texts[tenth * 14 + topic] = "[simulated small talk]"
            else:
                texts[tenth * 14 + topic] = f"[simulated depth {tenth / 10:.1f} on {TOPICS[topic]}]"
    return texts


_TEXTS = _text_lookup()
_TOPIC_LISTS = np.empty(14, dtype=object)
for _i in range(13):
    _TOPIC_LISTS[_i] = [TOPICS[_i]]
_TOPIC_LISTS[13] = []


def to_table(sim: SimArrays, *, id_offset: int = 0, prefix: str = "sim") -> pd.DataFrame:
    """The utterance table the analysis pipeline consumes, plus the true latent ``trust``/``intimacy``.

    Columns: conversation_id, speaker, turn, text, disclosure, depth, layer, topics, trust, intimacy, misuse.
    Rows are ordered by conversation then turn. ``topics`` holds shared one-element lists (read-only use).
    """
    n, T = sim.n_dyads, sim.n_turns
    depth = sim.depth.T.reshape(-1)
    topic = sim.topic.T.reshape(-1).astype(np.int16)
    topic_index = np.where(topic < 0, 13, topic)
    tenth = np.clip(np.rint(depth * 10), 0, 30).astype(np.int16)
    ids = np.array([f"{prefix}-{i:07d}" for i in range(id_offset, id_offset + n)], dtype=object)
    return pd.DataFrame({
        "conversation_id": np.repeat(ids, T),
        "speaker": np.tile(_SPEAKERS[sim.speaker], n),
        "turn": np.tile(np.arange(T, dtype=np.int64), n),
        "text": _TEXTS[tenth * 14 + topic_index],
        "disclosure": depth > 0,
        "depth": depth.astype(np.float64),
        "layer": layer_of(depth).astype(np.int64),
        "topics": _TOPIC_LISTS[topic_index],
        "trust": sim.trust.T.reshape(-1).astype(np.float64),
        "intimacy": sim.intimacy.T.reshape(-1).astype(np.float64),
        "misuse": sim.misuse.T.reshape(-1),
    })


def _chunk_seeds(seed: int | None, n_chunks: int) -> list[np.random.Generator]:
    return [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(n_chunks)]


def simulate_chunks(params_or_scenario, n_dyads: int, n_turns: int, seed: int | None = 0, *,
                    chunk_size: int = 20_000, tables: bool = True) -> Iterator["pd.DataFrame | SimArrays"]:
    """Stream a large simulation chunk by chunk (constant memory): DataFrames, or SimArrays with ``tables=False``.

    Chunk c uses the c-th child of ``SeedSequence(seed)``, so the output depends on (seed, chunk_size).
    """
    p = resolve_params(params_or_scenario)
    n_chunks = -(-n_dyads // chunk_size)
    for c, rng in enumerate(_chunk_seeds(seed, n_chunks)):
        size = min(chunk_size, n_dyads - c * chunk_size)
        sim = simulate_arrays(p, size, n_turns, rng)
        yield to_table(sim, id_offset=c * chunk_size) if tables else sim


def simulate(params_or_scenario: "Params | Scenario | str | Path | dict | None" = None, n_dyads: int = 100,
             n_turns: int = 40, seed: int | None = 0, *, chunk_size: int | None = None) -> pd.DataFrame:
    """Simulate conversations and return the utterance table (see :func:`to_table`).

    ``params_or_scenario``: :class:`Params`, a :class:`Scenario`, a dict of fields, a TOML path or the name of
    a file in ``scenarios/``. For very large runs use :func:`simulate_chunks` or :func:`simulate_to_parquet`.
    """
    if chunk_size is None:
        rng = np.random.default_rng(seed)
        return to_table(simulate_arrays(params_or_scenario, n_dyads, n_turns, rng))
    return pd.concat(list(simulate_chunks(params_or_scenario, n_dyads, n_turns, seed, chunk_size=chunk_size)),
                     ignore_index=True)


def _arrow_chunk(sim: SimArrays, id_offset: int):
    """A pyarrow Table for one chunk, built without Python objects per row."""
    import pyarrow as pa

    n, T = sim.n_dyads, sim.n_turns
    depth = sim.depth.T.reshape(-1)
    topic = sim.topic.T.reshape(-1).astype(np.int32)
    has = topic >= 0
    offsets = np.zeros(len(topic) + 1, dtype=np.int32)
    np.cumsum(has, out=offsets[1:])
    topic_names = pa.array(list(TOPICS), pa.string())
    topics = pa.ListArray.from_arrays(pa.array(offsets), pa.DictionaryArray.from_arrays(
        pa.array(topic[has]), topic_names).cast(pa.string()))
    tenth = np.clip(np.rint(depth * 10), 0, 30).astype(np.int32)
    text_dictionary = pa.array(list(_TEXTS), pa.string())
    text = pa.DictionaryArray.from_arrays(pa.array(tenth * 14 + np.where(has, topic, 13)), text_dictionary)
    ids = pa.DictionaryArray.from_arrays(
        pa.array(np.repeat(np.arange(n, dtype=np.int32), T)),
        pa.array([f"sim-{i:07d}" for i in range(id_offset, id_offset + n)], pa.string()))
    speakers = pa.DictionaryArray.from_arrays(
        pa.array(np.tile(sim.speaker.astype(np.int32), n)),
        pa.array(list(_SPEAKERS[: sim.params.group_size]), pa.string()))
    return pa.table({
        "conversation_id": ids, "speaker": speakers,
        "turn": pa.array(np.tile(np.arange(T, dtype=np.int64), n)),
        "text": text, "disclosure": pa.array(depth > 0), "depth": pa.array(depth.astype(np.float64)),
        "layer": pa.array(layer_of(depth).astype(np.int64)), "topics": topics,
        "trust": pa.array(sim.trust.T.reshape(-1)), "intimacy": pa.array(sim.intimacy.T.reshape(-1)),
        "misuse": pa.array(sim.misuse.T.reshape(-1)),
    })


def simulate_to_parquet(params_or_scenario, path: str | Path, n_dyads: int, n_turns: int, seed: int | None = 0, *,
                        chunk_size: int = 50_000, progress=None) -> Path:
    """Write a (possibly huge) simulation to one Parquet file, one row group per chunk, in bounded memory.

    Dictionary-encoded string columns; ``progress(done_dyads, n_dyads)`` is called after each chunk.
    """
    import pyarrow.parquet as pq

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = None
    done = 0
    try:
        for c, sim in enumerate(simulate_chunks(params_or_scenario, n_dyads, n_turns, seed, chunk_size=chunk_size,
                                                tables=False)):
            table = _arrow_chunk(sim, c * chunk_size)
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema)
            writer.write_table(table)
            done += sim.n_dyads
            del sim, table
            if progress is not None:
                progress(done, n_dyads)
    finally:
        if writer is not None:
            writer.close()
    return path
