"""Parameter sweeps: summary statistics of the simulator over a grid of parameters or moderator presets."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pandas as pd

from reciprocity.model.moments import MOMENT_NAMES, flat_from_sim, moments
from reciprocity.model.params import FIELD_NAMES, PRESETS, Params, resolve_params
from reciprocity.model.simulate import simulate_arrays


def sweep(base: "Params | str | None", grid: dict[str, list], n_dyads: int = 500, n_turns: int = 40,
          seed: int = 0, progress: Callable[[int, int], None] | None = None) -> pd.DataFrame:
    """One row per point of the Cartesian product of ``grid``: its values, the moments and latent outcomes.

    Keys are :class:`Params` fields (numeric values) or moderator names (``culture``, ``context``, ``channel``,
    ``relationship``; values are preset names, applied before the numeric fields). Every grid point uses the same
    seed (common random numbers). Columns: the grid keys, :data:`MOMENT_NAMES`, ``final_trust``,
    ``final_intimacy``, ``late_mean_layer`` (mean layer over the last 10 turns) and ``misuse_rate``.
    """
    base = resolve_params(base)
    for key in grid:
        if key not in FIELD_NAMES and key not in PRESETS:
            raise ValueError(f"unknown sweep key {key!r}: not a parameter nor one of {list(PRESETS)}")
    keys = list(grid)
    points = list(itertools.product(*(grid[k] for k in keys)))
    rows = []
    for i, values in enumerate(points):
        changes: dict = {}
        for key, value in zip(keys, values):
            if key in PRESETS:
                if value not in PRESETS[key]:
                    raise ValueError(f"unknown {key} preset {value!r}; choose from {sorted(PRESETS[key])}")
                changes.update(PRESETS[key][value])
        changes.update({k: v for k, v in zip(keys, values) if k not in PRESETS})
        params = base.replace(**changes)
        sim = simulate_arrays(params, n_dyads, n_turns, seed)
        row = dict(zip(keys, values))
        row.update(zip(MOMENT_NAMES, map(float, moments(flat_from_sim(sim)))))
        row["final_trust"] = float(sim.final_trust.mean())
        row["final_intimacy"] = float(sim.final_intimacy.mean())
        row["late_mean_layer"] = float(sim.layer[-10:].mean())
        row["misuse_rate"] = float(sim.misuse.mean())
        rows.append(row)
        if progress is not None:
            progress(i + 1, len(points))
    return pd.DataFrame(rows)
