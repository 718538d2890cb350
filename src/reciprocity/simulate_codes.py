"""Synthetic coded conversations with known reciprocity, for validating the estimators.

Each dyad has two speakers A (turns 0, 2, 4, …) and B (turns 1, 3, …) who alternate. Speaker s has
a baseline depth mu_s; the dyad has a true reciprocity r and stability phi. The depth of turn t is
the lagged dyadic time-series model of THEORY.md §3, observed through the 0–3 depth scale:

    d_t = clip( mu_{s_t} + phi (d_{t-2} - mu_{s_t}) + r (d_{t-1} - mu_{s_{t-1}}) + sigma e_t, 0, 3 ),

e_t ~ N(0, 1): phi is the own-lag slope (stability), r the partner-lag slope (reciprocity), sigma
the innovation noise. A burn-in of ``burn_in`` turns is simulated and dropped so the series start
near stationarity. Codes follow :func:`reciprocity.measure.prepare_codes`: ``layer`` = round(depth),
``disclosure`` = layer > 0, ``topics`` = [] (no breadth information).

The recursion runs over turns (it is a time recursion) and is vectorised over dyads.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from reciprocity.schema import CONVERSATION, SPEAKER, TEXT

ParameterSpec = float | tuple[float, float] | np.ndarray


def _per_dyad(value: ParameterSpec, n_dyads: int, rng: np.random.Generator) -> np.ndarray:
    """A float (all dyads), a (low, high) tuple (uniform draws) or an array of n_dyads values."""
    if isinstance(value, tuple):
        low, high = value
        return rng.uniform(low, high, n_dyads)
    values = np.asarray(value, dtype=float)
    if values.ndim == 0:
        return np.full(n_dyads, float(values))
    if values.shape != (n_dyads,):
        raise ValueError(f"expected {n_dyads} per-dyad values, got shape {values.shape}")
    return values


def synthetic_dyads(n_dyads: int, n_turns: int, reciprocity: ParameterSpec = (0.0, 0.6),
                    stability: ParameterSpec = 0.2, noise: float = 0.5, seed: int = 0, *,
                    baseline: tuple[float, float] = (0.6, 2.0), burn_in: int = 20,
                    prefix: str = "syn") -> pd.DataFrame:
    """Simulate ``n_dyads`` alternating two-person conversations of ``n_turns`` coded turns.

    ``reciprocity`` and ``stability`` may be a float (every dyad), a (low, high) tuple (uniform
    per dyad) or an array with one value per dyad; stationarity needs |r| + |phi| < 1.
    Returns the utterance table (``id``, ``conversation_id``, ``speaker``, ``turn``, ``text``,
    ``disclosure``, ``depth``, ``layer``, ``topics``) with the truth in ``true_reciprocity``,
    ``true_stability`` (per dyad) and ``true_baseline`` (per speaker).
    """
    if n_turns < 2 or n_dyads < 1:
        raise ValueError("need at least one dyad and two turns")
    rng = np.random.default_rng(seed)
    r = _per_dyad(reciprocity, n_dyads, rng)
    phi = _per_dyad(stability, n_dyads, rng)
    if np.any(np.abs(r) + np.abs(phi) >= 1):
        raise ValueError("|reciprocity| + |stability| must stay below 1 for a stationary process")
    mu = rng.uniform(*baseline, size=(n_dyads, 2))
    total = n_turns + burn_in
    innovations = noise * rng.standard_normal((n_dyads, total))
    who = np.arange(total) % 2                                   # 0 = A, 1 = B
    mean = mu[:, who]                                            # (n_dyads, total)
    depth = np.empty((n_dyads, total))
    depth[:, :2] = np.clip(mean[:, :2] + innovations[:, :2], 0, 3)
    for t in range(2, total):                                    # time recursion, vectorised over dyads
        depth[:, t] = np.clip(mean[:, t] + phi * (depth[:, t - 2] - mean[:, t]) + r * (depth[:, t - 1] - mean[:, t - 1])
                              + innovations[:, t], 0, 3)
    depth = depth[:, burn_in:]
    speaker_index = who[burn_in:]
    n = n_dyads * n_turns
    width = len(str(n_dyads - 1))
    conversation = np.char.add(prefix, np.char.zfill(np.arange(n_dyads).astype(str), width))
    conversation = np.repeat(conversation, n_turns)
    turn = np.tile(np.arange(n_turns), n_dyads)
    layer = np.clip(np.rint(depth.reshape(-1)), 0, 3).astype("int64")
    table = pd.DataFrame({
        "id": np.char.add(np.char.add(conversation, ":"), turn.astype(str)),
        CONVERSATION: conversation,
        SPEAKER: np.tile(np.where(speaker_index == 0, "A", "B"), n_dyads),
        "turn": turn,
        TEXT: "<synthetic turn>",
        "disclosure": layer > 0,
        "depth": depth.reshape(-1),
        "layer": layer,
    })
    table["topics"] = [[] for _ in range(n)]
    table["true_reciprocity"] = np.repeat(r, n_turns)
    table["true_stability"] = np.repeat(phi, n_turns)
    table["true_baseline"] = mu[np.repeat(np.arange(n_dyads), n_turns), np.tile(speaker_index, n_dyads)]
    return table
