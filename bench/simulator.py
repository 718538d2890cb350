"""Simulator throughput: our simulator vs a straightforward Mesa agent-based implementation.

Ours is the default engine of :func:`reciprocity.model.simulate_arrays` — the compiled Numba kernel when the
``numba`` extra (also named ``sim``) is installed (parallel over dyads on every core Numba sees), else the vectorised NumPy core; the
NumPy engine's rate is reported as well. Same rules, same scenario (scenarios/baseline.toml), in one invocation;
each side is timed ``--repeats`` times (default 3) and its fastest run reported. The Mesa side runs in its own interpreter
(``bench/.venv-mesa``; create it with ``python3 -m venv bench/.venv-mesa && bench/.venv-mesa/bin/pip install mesa
numpy pandas``) via subprocess, with this same file in ``--mesa-worker`` mode (which imports no project code).
Reported: dyad-turns per second of each, the speed-up (target >= 1000x), two-sample KS tests on final depth and
final trust and the largest gap in mean layer per turn against Mesa for both engines (same distributions?), and
the peak memory and wall time of a chunked 1M dyads x 100 turns run streamed to Parquet. Writes bench/results/simulator.json.

    .venv/bin/python bench/simulator.py [--mesa-dyads 2000] [--turns 60] [--big-dyads 1000000] [--big-turns 100]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
MESA_PYTHON = HERE / ".venv-mesa" / "bin" / "python"


# ----------------------------------------------------------------------------------------------
# Mesa implementation (pure Python per agent; runs in the Mesa venv)
# ----------------------------------------------------------------------------------------------
def mesa_worker(config: dict) -> dict:
    import mesa

    p = config["params"]
    n_dyads, n_turns, seed = config["n_dyads"], config["n_turns"], config["seed"]
    weights = config["layer_topic_weights"]
    cdfs = []
    for row in weights:
        total, acc, cdf = sum(row), 0.0, []
        for w in row:
            acc += w / total
            cdf.append(acc)
        cdfs.append(cdf)
    # moderators (same formulas as reciprocity.model.simulate.effective)
    base_bias = p["disclosure_bias"] + p["culture_openness"] + p["online"] * p["disinhibition"] + 1.0 * (p["safety"] - 0.5)
    bias = [base_bias - 1.0 * p["power_asymmetry"], base_bias + p["partner_openness_shift"]]
    rho = [p["reciprocity"], p["reciprocity"] + p["power_asymmetry"] * (1 - p["reciprocity"]) / 2]
    over_rate = min(1.0, p["overshoot_rate"] * p["escalation"] * (1 + p["online"] * p["boundary_risk"]))
    pace = p["pace"] * p["culture_pace"] * p["escalation"]
    depth_shift = 0.25 * p["online"] * p["disinhibition"]
    comfort_scale = 0.5 + p["safety"]
    misuse_rate = min(1.0, p["misuse_rate"] * (1 + p["online"] * p["boundary_risk"]) * (1.5 - p["safety"]))
    theta = p["trust_threshold"]

    class Person(mesa.Agent):
        def __init__(self, model):
            super().__init__(model)
            rng = model.random
            self.openness = p["openness_sd"] * rng.gauss(0, 1)
            self.comfort = max(p["comfort_mean"] + p["comfort_sd"] * rng.gauss(0, 1), 0.0)
            self.trust = p["trust0"]
            self.last_topic = -1

    class Dyad(mesa.Agent):
        def __init__(self, model):
            super().__init__(model)
            self.people = [Person(model), Person(model)]
            self.intimacy = p["intimacy0"]
            self.last_depth = 0.0
            self.layers = []
            self.depth = 0.0

        def step(self):
            rng, t = self.model.random, self.model.turn
            s = t % 2
            speaker, listener = self.people[s], self.people[1 - s]
            # policy
            step = (speaker.trust - theta) * pace / (1 - theta)
            licensed = min(max(self.intimacy + step, 0.0), p["ceiling"])
            mu = (1 - rho[s]) * licensed + rho[s] * self.last_depth + depth_shift
            logit = bias[s] + speaker.openness + p["depth_willingness"] * (mu - 1)
            p_disclose = 1 / (1 + math.exp(-logit))
            over_s = over_rate
            if t < p["premature_turns"] and s == 0:
                over_s = min(over_s + p["premature_rate"], 1.0)
            u_over = rng.random()
            over = u_over < over_s
            disclose = rng.random() < p_disclose or over
            if s == 1 and p["partner_withdraw_turn"] >= 0 and t >= p["partner_withdraw_turn"]:
                disclose = False
            depth = min(max(mu + p["depth_noise"] * rng.gauss(0, 1), 0.5), 3.0)
            if over:
                depth = 2.5 + 0.5 * u_over / over_s
            depth = depth if disclose else 0.0
            layer = 0 if depth <= 0 else min(max(math.floor(depth + 0.5), 1), 3)
            u_topic, u_stick = rng.random(), rng.random()
            if disclose:
                if u_stick < p["topic_stickiness"] and speaker.last_topic >= 0:
                    topic = speaker.last_topic
                else:
                    cdf = cdfs[layer - 1]
                    topic = next((i for i, c in enumerate(cdf) if u_topic < c), len(cdf) - 1)
                speaker.last_topic = topic
            # reactions
            excess = depth - self.intimacy - listener.comfort * comfort_scale
            listener.trust -= p["discomfort_penalty"] * max(excess, 0.0)
            d_prev = self.last_depth
            matching = 1 - abs(depth - d_prev) / (depth + d_prev + 1e-6)
            returned = depth > 0 and d_prev > 0
            delta = -p["trust_loss"] / 3 * max(d_prev - depth, 0.0)
            if returned:
                delta += p["trust_gain"] * matching * (1 - listener.trust)
            listener.trust += delta
            if returned:
                self.intimacy += p["intimacy_rate"] * matching * (0.5 * (depth + d_prev) - self.intimacy)
            if depth > 0 and rng.random() < misuse_rate * depth / 3:
                speaker.trust -= p["betrayal_severity"]
                self.intimacy *= 1 - 0.5 * p["betrayal_severity"]
            self.intimacy -= 0.1 * p["depenetration_rate"] * max(theta - speaker.trust, 0.0)
            self.intimacy = min(max(self.intimacy, 0.0), 3.0)
            for person in self.people:
                person.trust = min(max(person.trust, 0.0), 1.0)
            self.last_depth = depth
            self.depth = depth
            self.layers.append(layer)

    class Penetration(mesa.Model):
        def __init__(self):
            super().__init__(seed=seed)
            self.turn = 0
            self.dyads = [Dyad(self) for _ in range(n_dyads)]

        def step(self):
            for dyad in self.dyads:
                dyad.step()
            self.turn += 1

    times = []
    for _ in range(config.get("repeats", 1)):
        started = time.perf_counter()
        model = Penetration()
        for _ in range(n_turns):
            model.step()
        times.append(time.perf_counter() - started)
    return {
        "seconds": min(times),
        "all_seconds": times,
        "mesa_version": mesa.__version__,
        "final_depth": [d.depth for d in model.dyads],
        "final_trust": [d.people[0].trust for d in model.dyads],
        "mean_layer_per_turn": [sum(d.layers[t] for d in model.dyads) / n_dyads for t in range(n_turns)],
    }


# ----------------------------------------------------------------------------------------------
def run_mesa(params: dict, n_dyads: int, n_turns: int, seed: int, repeats: int = 1) -> dict:
    from reciprocity.model.simulate import LAYER_TOPIC_WEIGHTS

    config = {"params": params, "n_dyads": n_dyads, "n_turns": n_turns, "seed": seed, "repeats": repeats,
              "layer_topic_weights": LAYER_TOPIC_WEIGHTS.tolist()}
    completed = subprocess.run([str(MESA_PYTHON), __file__, "--mesa-worker"], input=json.dumps(config),
                               capture_output=True, text=True, check=True)
    return json.loads(completed.stdout)


def big_run(n_dyads: int, n_turns: int, chunk: int, path: Path) -> dict:
    """Chunked run streamed to Parquet in a fresh process; peak RSS from getrusage."""
    code = f"""
import json, resource, time
from reciprocity.model import simulate_to_parquet
t = time.perf_counter()
simulate_to_parquet('baseline', {str(path)!r}, {n_dyads}, {n_turns}, seed=0, chunk_size={chunk})
print(json.dumps({{"seconds": time.perf_counter() - t,
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["parquet_mib"] = path.stat().st_size / 2**20
    path.unlink()
    return result


def _threads(engine: str) -> int:
    if engine != "numba":
        return 1
    import numba

    return numba.get_num_threads()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mesa-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--mesa-dyads", type=int, default=2000)
    parser.add_argument("--turns", type=int, default=60)
    parser.add_argument("--ours-dyads", type=int, default=500_000, help="dyads for our throughput run")
    parser.add_argument("--big-dyads", type=int, default=1_000_000)
    parser.add_argument("--big-turns", type=int, default=100)
    parser.add_argument("--chunk-size", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each side; the fastest is reported")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "simulator.json")
    args = parser.parse_args()
    if args.mesa_worker:
        json.dump(mesa_worker(json.load(sys.stdin)), sys.stdout)
        return

    import numpy as np
    from scipy import stats

    from reciprocity.model import find_scenario, simulate_arrays
    from reciprocity.model.simulate import available_engines, to_table

    scenario = find_scenario("baseline")
    params = scenario.params
    if not MESA_PYTHON.exists():
        sys.exit(f"Mesa venv missing: {MESA_PYTHON} (see this file's docstring)")
    mesa = run_mesa(params.to_dict(), args.mesa_dyads, args.turns, args.seed, args.repeats)
    mesa_rate = args.mesa_dyads * args.turns / mesa["seconds"]
    engines = available_engines()
    engine = engines[0]

    def best_of(engine_name: str, n: int, seed: int) -> float:
        times = []
        for _ in range(args.repeats):
            started = time.perf_counter()
            simulate_arrays(params, n, args.turns, seed, engine=engine_name)
            times.append(time.perf_counter() - started)
        return min(times)

    # ours (default engine), same size (distribution check) and at scale (throughput), after a warm-up
    simulate_arrays(params, 10_000, 5, 1, engine=engine)  # warm-up (loads the compiled kernel from its cache)
    same = simulate_arrays(params, args.mesa_dyads, args.turns, args.seed, engine=engine)
    same_seconds = best_of(engine, args.mesa_dyads, args.seed)
    ours_seconds = best_of(engine, args.ours_dyads, args.seed + 1)
    ours_rate = args.ours_dyads * args.turns / ours_seconds
    numpy_seconds = best_of("numpy", args.ours_dyads, args.seed + 1) if engine != "numpy" else ours_seconds
    numpy_rate = args.ours_dyads * args.turns / numpy_seconds
    reference = simulate_arrays(params, args.mesa_dyads, args.turns, args.seed, engine="numpy")
    started = time.perf_counter()
    table = to_table(simulate_arrays(params, 50_000, args.turns, 2, engine=engine))
    table_rate = len(table) / (time.perf_counter() - started)
    del table

    def same_distributions(sim) -> dict:
        ks_depth = stats.ks_2samp(sim.depth[-1], mesa["final_depth"])
        ks_trust = stats.ks_2samp(sim.final_trust[:, 0], mesa["final_trust"])
        layer_gap = float(np.max(np.abs(sim.layer.mean(axis=1) - np.array(mesa["mean_layer_per_turn"]))))
        return {
            "ks_final_depth": {"statistic": ks_depth.statistic, "p_value": ks_depth.pvalue},
            "ks_final_trust_A": {"statistic": ks_trust.statistic, "p_value": ks_trust.pvalue},
            "max_abs_gap_mean_layer_per_turn": layer_gap,
            "approx_se_of_gap": float(np.sqrt(2 * sim.layer.var(axis=1).max() / args.mesa_dyads)),
        }

    memory = big_run(args.big_dyads, args.big_turns, args.chunk_size, HERE / "results" / "_big_run.parquet")

    report = {
        "scenario": scenario.name,
        "turns": args.turns,
        "repeats": args.repeats,
        "cpu_count": os.cpu_count(),
        "mesa": {"dyads": args.mesa_dyads, "seconds": mesa["seconds"], "all_seconds": mesa["all_seconds"],
                 "dyad_turns_per_s": mesa_rate, "version": mesa["mesa_version"]},
        "ours": {"engine": engine, "threads": _threads(engine), "dyads": args.ours_dyads, "seconds": ours_seconds,
                 "dyad_turns_per_s": ours_rate,
                 "same_size_seconds": same_seconds,
                 "same_size_dyad_turns_per_s": args.mesa_dyads * args.turns / same_seconds,
                 "with_dataframe_rows_per_s": table_rate},
        "numpy_engine": {"dyads": args.ours_dyads, "seconds": numpy_seconds, "dyad_turns_per_s": numpy_rate,
                         "speedup": numpy_rate / mesa_rate},
        "speedup": ours_rate / mesa_rate,
        "speedup_same_size": (args.mesa_dyads * args.turns / same_seconds) / mesa_rate,
        "meets_target_1000x": bool(ours_rate / mesa_rate >= 1000),
        "same_distributions": same_distributions(same),
        "same_distributions_numpy_engine": same_distributions(reference),
        "chunked_run": {"dyads": args.big_dyads, "turns": args.big_turns, "chunk_size": args.chunk_size,
                        "dyad_turns": args.big_dyads * args.big_turns, **memory},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
