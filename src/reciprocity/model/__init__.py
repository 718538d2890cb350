"""Social-penetration simulator: generative model, fitting, latent-state filter and sweeps (THEORY.md §4).

>>> from reciprocity import model
>>> table = model.simulate("baseline", n_dyads=200, n_turns=40, seed=1)   # scenarios/baseline.toml
>>> result = model.fit(table)                                            # simulated method of moments
>>> latent = model.filter_latent(table[table.conversation_id == "sim-0000000"], result.params)
>>> grid = model.sweep(model.Params(), {"channel": ["offline", "online"], "reciprocity": [0.2, 0.8]})
"""

from reciprocity.model.filter import filter_latent
from reciprocity.model.fit import FIT_BOUNDS, FIT_PARAMETERS, FitResult, fit
from reciprocity.model.moments import MOMENT_NAMES, summary_statistics
from reciprocity.model.params import PRESETS, Params, Scenario, find_scenario, load_scenario
from reciprocity.model.simulate import SimArrays, simulate, simulate_arrays, simulate_chunks, simulate_to_parquet
from reciprocity.model.sweep import sweep

__all__ = [
    "FIT_BOUNDS", "FIT_PARAMETERS", "FitResult", "MOMENT_NAMES", "PRESETS", "Params", "Scenario", "SimArrays",
    "filter_latent", "find_scenario", "fit", "load_scenario", "simulate", "simulate_arrays", "simulate_chunks",
    "simulate_to_parquet", "summary_statistics", "sweep",
]
