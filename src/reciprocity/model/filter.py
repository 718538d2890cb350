"""Bootstrap particle filter for the latent trust and intimacy of a real conversation (vectorised over particles).

Under fitted :class:`Params`, each particle carries the model's latent state (each agent's trust, openness and
comfort traits; the dyad's intimacy). At every utterance the particles are weighted by the likelihood of the
observed code under the speaker's policy (:func:`reciprocity.model.simulate.policy`):

* no disclosure:  (1 - p) (1 - q)                       p = P(disclose), q = P(overshoot)
* disclosure at depth d (clipped to [0.5, 3]):  p (1 - q) phi_sigma(d - mu)  +  q * 2 * [2.5 <= d <= 3]
  with the clipped normal's boundary masses at 0.5 and 3,

then resampled (systematic, when the effective sample size falls below half), roughened (small Gaussian jitter
on trust and intimacy, so that particles do not collapse) and moved by the model's reaction and update rules
(:func:`reciprocity.model.simulate.react`) with the *observed* depth. The reported trust is the speaker's trust in
the partner when speaking, as in the simulator's ``trust`` column; both are filtering estimates (using turns up to
and including the current one).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import ndtr

from reciprocity.errors import InputError, Problem
from reciprocity.model.params import Params, resolve_params
from reciprocity.model.simulate import effective, initial_state, policy, react
from reciprocity.schema import CONVERSATION, SPEAKER, TEXT

_JITTER = 0.01


def _likelihood(disclosed: bool, depth: float, p_disclose, mu, over, sigma: float) -> np.ndarray:
    if not disclosed:
        return (1 - p_disclose) * (1 - over)
    d = min(max(depth, 0.5), 3.0)
    if d <= 0.5 + 1e-9:
        normal = ndtr((0.5 - mu) / sigma)
    elif d >= 3.0 - 1e-9:
        normal = 1 - ndtr((3.0 - mu) / sigma)
    else:
        normal = np.exp(-0.5 * ((d - mu) / sigma) ** 2) / (sigma * np.sqrt(2 * np.pi))
    return p_disclose * (1 - over) * normal + over * (2.0 if d >= 2.5 else 0.0)


def _filter_one(conversation: pd.DataFrame, p: Params, n_particles: int, rng: np.random.Generator,
                level: float) -> pd.DataFrame:
    speakers = pd.factorize(conversation[SPEAKER])[0]
    k = max(2, int(speakers.max()) + 1)
    p = p.replace(group_size=min(k, 12))
    e = effective(p)
    state = initial_state(p, n_particles, rng, dtype=np.float64)
    depth_obs = conversation["depth"].to_numpy(float)
    disclosed_obs = conversation["disclosure"].to_numpy(bool)
    lo_q, hi_q = (1 - level) / 2, 1 - (1 - level) / 2
    rows = []
    log_evidence = 0.0
    for t, (s, disclosed, depth) in enumerate(zip(speakers, disclosed_obs, depth_obs)):
        s = int(min(s, 11))
        p_disclose, mu, over, _ = policy(p, e, state, s, t)
        weight = _likelihood(bool(disclosed), float(depth), p_disclose, mu, over, p.depth_noise) + 1e-300
        total = weight.sum()
        log_evidence += float(np.log(total / n_particles))
        weight = weight / total
        ess = 1 / np.sum(weight**2)
        if ess < n_particles / 2:
            positions = (rng.random() + np.arange(n_particles)) / n_particles
            index = np.minimum(np.searchsorted(np.cumsum(weight), positions), n_particles - 1)
            _take(state, index)
            state.trust = np.clip(state.trust + _JITTER * rng.standard_normal(state.trust.shape), 0, 1)
            state.intimacy = np.clip(state.intimacy + _JITTER * rng.standard_normal(n_particles), 0, 3)
            weight = np.full(n_particles, 1 / n_particles)
        trust, intimacy = state.trust[s], state.intimacy
        rows.append((_weighted_mean(trust, weight), *_weighted_quantiles(trust, weight, (lo_q, hi_q)),
                     _weighted_mean(intimacy, weight), *_weighted_quantiles(intimacy, weight, (lo_q, hi_q)), ess))
        observed = np.full(n_particles, depth if disclosed else 0.0)
        if disclosed:
            observed = np.clip(observed, 0.5, 3.0)
        react(p, e, state, s, observed, rng.random(n_particles))
        # keep the weights for the next turn by resampling now (bootstrap filter)
        if ess >= n_particles / 2:
            _take(state, rng.choice(n_particles, n_particles, p=weight))
    out = pd.DataFrame(rows, columns=["trust_mean", "trust_low", "trust_high", "intimacy_mean", "intimacy_low",
                                      "intimacy_high", "ess"])
    out.insert(0, CONVERSATION, conversation[CONVERSATION].to_numpy())
    out.insert(1, "turn", conversation["turn"].to_numpy() if "turn" in conversation else np.arange(len(out)))
    out.insert(2, SPEAKER, conversation[SPEAKER].to_numpy())
    out.attrs["log_evidence"] = log_evidence
    return out


def _take(state, index: np.ndarray) -> None:
    """Resample particles in place (agent arrays are (k, n))."""
    for name in ("trust", "openness", "comfort", "last_topic"):
        setattr(state, name, getattr(state, name)[:, index].copy())
    for name in ("intimacy", "last_depth", "opened"):
        setattr(state, name, getattr(state, name)[index].copy())


def _weighted_mean(x, w):
    return float(np.sum(x * w))


def _weighted_quantiles(x, w, qs):
    order = np.argsort(x)
    cdf = np.cumsum(w[order])
    return [float(x[order][min(np.searchsorted(cdf, q), len(x) - 1)]) for q in qs]


def _ordered(table: pd.DataFrame, source: str = "<table>") -> pd.DataFrame:
    """The coded table checked for what the filter relies on (the validator's checks of conversation, speaker and
    integer turns unique within a conversation; errors name the row and field; the text is not needed) and sorted
    by numeric turn within each conversation."""
    from reciprocity.corpus.validate import find_problems

    missing = [c for c in (CONVERSATION, SPEAKER) if c not in table.columns]
    if missing:
        raise InputError(Problem(source, "header", missing[0], "no such column"))
    locations = table.attrs.get("locations")
    if locations is None or len(locations) != len(table):
        locations = [f"row {i + 1}" for i in range(len(table))]
    problems, _ = find_problems(table.drop(columns=[TEXT], errors="ignore"), source, locations)
    if problems:
        raise InputError(problems)
    if "turn" in table.columns:
        table = table.assign(turn=pd.to_numeric(table["turn"])).sort_values([CONVERSATION, "turn"], kind="stable")
    return table


def filter_latent(conversation_table: pd.DataFrame, params: "Params | str | None" = None, *,
                  n_particles: int = 2000, seed: int = 0, level: float = 0.9) -> pd.DataFrame:
    """Turn-by-turn filtered latent trust/intimacy (mean and ``level`` credible interval) for coded conversations.

    ``conversation_table`` needs conversation_id, speaker, disclosure and depth (0–3) codes; rows are taken in
    ``turn`` order within each conversation. Returns one row per utterance: conversation_id, turn, speaker,
    trust_mean/low/high (the speaker's trust in the partner), intimacy_mean/low/high and the effective sample
    size; ``attrs["log_evidence"]`` maps each conversation to its log marginal likelihood.
    """
    from reciprocity.measure import prepare_codes

    p = resolve_params(params)
    if not 0 < level < 1:
        raise ValueError(f"level must lie strictly between 0 and 1, got {level}")
    if n_particles < 1:
        raise ValueError(f"n_particles must be at least 1, got {n_particles}")
    table = _ordered(prepare_codes(conversation_table))
    rng = np.random.default_rng(seed)
    parts, evidence = [], {}
    for name, conversation in table.groupby(CONVERSATION, sort=False):
        part = _filter_one(conversation, p, n_particles, rng, level)
        evidence[str(name)] = part.attrs.pop("log_evidence")
        parts.append(part)
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    out.attrs["log_evidence"] = evidence
    return out
