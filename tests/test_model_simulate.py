"""Simulator: output schema, pipeline compatibility, streaming, scenarios, and the theory's qualitative effects.

Every behavioural test is seeded and states an effect size (Cohen's d or a difference of proportions).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import reciprocity
from reciprocity.errors import InputError
from reciprocity.model import Params, load_scenario, simulate, simulate_arrays, simulate_chunks, simulate_to_parquet
from reciprocity.model.params import scenarios_dir
from reciprocity.schema import TOPICS

N = 1500


def cohens_d(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float((a.mean() - b.mean()) / np.sqrt((a.var(ddof=1) + b.var(ddof=1)) / 2))


# --- output --------------------------------------------------------------------------------------

def test_table_schema_and_placeholders():
    table = simulate(Params(), n_dyads=20, n_turns=30, seed=1)
    assert list(table.columns[:8]) == ["conversation_id", "speaker", "turn", "text", "disclosure", "depth", "layer",
                                       "topics"]
    assert {"trust", "intimacy"} <= set(table.columns)
    assert len(table) == 20 * 30 and table["conversation_id"].nunique() == 20
    assert set(table["speaker"]) == {"A", "B"}
    assert table["depth"].between(0, 3).all() and table["trust"].between(0, 1).all()
    assert ((table["depth"] > 0) == table["disclosure"]).all()
    assert set(table["layer"]) <= {0, 1, 2, 3}
    disclosed = table[table["disclosure"]]
    assert all(len(t) == 1 and t[0] in TOPICS for t in disclosed["topics"])
    assert all(len(t) == 0 for t in table.loc[~table["disclosure"], "topics"])
    row = disclosed.iloc[0]
    assert row["text"] == f"[simulated depth {row['depth']:.1f} on {row['topics'][0]}]"


def test_seeded_and_reproducible():
    a = simulate(Params(), 30, 20, seed=5)
    b = simulate(Params(), 30, 20, seed=5)
    c = simulate(Params(), 30, 20, seed=6)
    pd.testing.assert_frame_equal(a, b)
    assert not a["depth"].equals(c["depth"])


def test_analysis_pipeline_runs_unchanged_on_simulated_table():
    table = simulate("baseline", n_dyads=15, n_turns=24, seed=2)
    result = reciprocity.analyze(table, use_codes=True, n_permutations=20)
    assert result.summary["n_conversations"] == 15
    assert result.summary["n_utterances"] == 15 * 24
    assert {"trust", "intimacy"} <= set(result.utterances.columns)
    assert np.isfinite(result.summary["reciprocity"]["lagged_matching"]["observed"])


def test_chunked_stream_and_parquet(tmp_path: Path):
    chunks = list(simulate_chunks(Params(), 250, 10, seed=3, chunk_size=100))
    assert [c["conversation_id"].nunique() for c in chunks] == [100, 100, 50]
    ids = pd.concat(chunks)["conversation_id"]
    assert ids.nunique() == 250
    path = simulate_to_parquet(Params(), tmp_path / "sim.parquet", 250, 10, seed=3, chunk_size=100)
    back = pd.read_parquet(path)
    assert len(back) == 2500
    np.testing.assert_allclose(back["depth"].to_numpy(), pd.concat(chunks)["depth"].to_numpy())
    table = reciprocity.read(path)
    assert table["conversation_id"].nunique() == 250


def test_small_groups_round_robin():
    table = simulate(Params(group_size=4), 10, 20, seed=1)
    assert set(table["speaker"]) == {"A", "B", "C", "D"}
    reciprocity.analyze(table, use_codes=True, n_permutations=5)


# --- scenarios -----------------------------------------------------------------------------------

def test_every_bundled_scenario_loads_and_runs():
    files = sorted(scenarios_dir().glob("*.toml"))
    names = {f.stem for f in files}
    assert {"baseline", "online_strangers", "reserved_culture", "casual_acquaintances", "premature_discloser",
            "betrayal"} <= names
    for file in files:
        scenario = load_scenario(file)
        assert isinstance(scenario.params, Params)
        simulate_arrays(scenario.params, 5, 5, 0)


@pytest.mark.parametrize("body, where", [
    ("[params]\npace = 'fast'\n", "field 'pace'"),
    ("[params]\nno_such = 1\n", "field 'no_such'"),
    ("[params]\nreciprocity = 2.0\n", "field 'reciprocity'"),
    ("[moderators]\nchannel = 'telepathy'\n", "field 'channel'"),
    ("[simulation]\nn_dyads = -3\n", "field 'n_dyads'"),
    ("colour = 'red'\n", "field 'colour'"),
    ("[params\n", "not valid TOML"),
])
def test_scenario_errors_name_file_and_key(tmp_path: Path, body: str, where: str):
    path = tmp_path / "bad.toml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(InputError) as error:
        load_scenario(path)
    assert str(path) in str(error.value) and where in str(error.value)


def test_params_validate_ranges():
    with pytest.raises(ValueError, match="reciprocity"):
        Params(reciprocity=1.5)
    with pytest.raises(ValueError, match="relationship"):
        Params.preset(relationship="nemesis")


# --- the theory's qualitative effects (THEORY.md §4) ----------------------------------------------

def test_reciprocated_dyads_reach_deeper_layers_sooner():
    reciprocated = simulate_arrays(Params(), N, 60, 1)
    unreciprocated = simulate_arrays(Params(partner_openness_shift=-8), N, 60, 1)

    def first_deep_turn(sim):  # A's first turn at layer >= 2 (censored at the end)
        deep = sim.layer[0::2] >= 2
        return np.where(deep.any(axis=0), deep.argmax(axis=0), deep.shape[0])

    d_time = cohens_d(first_deep_turn(unreciprocated), first_deep_turn(reciprocated))
    assert d_time > 0.2, d_time  # later without reciprocation
    depth_r = reciprocated.depth[20::2].mean(axis=0)
    depth_u = unreciprocated.depth[20::2].mean(axis=0)
    assert cohens_d(depth_r, depth_u) > 0.5
    assert (reciprocated.final_intimacy.mean() - unreciprocated.final_intimacy.mean()) > 0.2


def test_premature_deep_disclosure_lowers_trust():
    premature = simulate_arrays(Params(premature_rate=0.3), N, 30, 2)
    control = simulate_arrays(Params(), N, 30, 2)
    listener_premature, listener_control = premature.trust[21], control.trust[21]  # B's trust in A, turn 21
    assert cohens_d(listener_control, listener_premature) > 0.8


def test_non_reciprocation_slows_then_depenetrates():
    sim = simulate_arrays(Params(partner_withdraw_turn=30), N, 200, 3)
    intimacy = sim.intimacy.mean(axis=1)
    growth_before = intimacy[30] - intimacy[10]
    growth_after = intimacy[50] - intimacy[30]
    assert growth_before > 0.1 and growth_after < growth_before / 3        # slowing
    assert intimacy[-1] < intimacy[30] - 0.1                               # then depenetration
    assert cohens_d(sim.intimacy[30], sim.final_intimacy) > 0.5
    a_trust = sim.trust[0::2].mean(axis=1)
    assert a_trust[-1] < Params().trust_threshold < a_trust[15]


def test_open_culture_and_online_channel_raise_disclosure():
    offline = simulate_arrays(Params.preset(), N, 40, 4)
    online = simulate_arrays(Params.preset(channel="online"), N, 40, 4)
    open_culture = simulate_arrays(Params.preset(culture="open"), N, 40, 4)
    reserved = simulate_arrays(Params.preset(culture="reserved"), N, 40, 4)
    rate = {name: (sim.depth > 0).mean(axis=0) for name, sim in
            (("offline", offline), ("online", online), ("open", open_culture), ("reserved", reserved))}
    assert cohens_d(rate["online"], rate["offline"]) > 0.3
    # point-biserial r of channel with the dyad's disclosure rate; the meta-analytic anchor is about .18
    r = np.corrcoef(np.r_[np.zeros(N), np.ones(N)], np.r_[rate["offline"], rate["online"]])[0, 1]
    assert 0.1 < r < 0.35, r
    assert cohens_d(rate["open"], rate["offline"]) > 0.8
    assert cohens_d(rate["offline"], rate["reserved"]) > 0.5


def test_casual_relationships_plateau_at_shallow_layers():
    casual = simulate_arrays(Params.preset(relationship="casual"), N, 120, 5)
    close = simulate_arrays(Params.preset(relationship="close"), N, 120, 5)
    casual_layer, close_layer = casual.layer.mean(axis=1), close.layer.mean(axis=1)
    assert (casual.layer[100:] >= 2).mean() < 0.08                     # rarely beyond the periphery
    assert (close.layer[100:] >= 2).mean() - (casual.layer[100:] >= 2).mean() > 0.3
    casual_growth = casual_layer[100:].mean() - casual_layer[40:60].mean()
    close_growth = close_layer[100:].mean() - close_layer[40:60].mean()
    assert casual_growth < 0.1 and close_growth > 2 * casual_growth     # plateau vs continued deepening


def test_betrayal_erodes_trust_and_intimacy():
    betrayed = simulate_arrays(Params(misuse_rate=0.25, betrayal_severity=0.6), N, 60, 6)
    control = simulate_arrays(Params(), N, 60, 6)
    assert betrayed.misuse.sum() > control.misuse.sum() * 10
    assert cohens_d(control.final_trust.mean(axis=1), betrayed.final_trust.mean(axis=1)) > 0.8
    assert cohens_d(control.final_intimacy, betrayed.final_intimacy) > 0.5


# --- engines: compiled kernel (numba, optional) vs the NumPy reference ------------------------------

from reciprocity.model.simulate import available_engines  # noqa: E402
from reciprocity.model.moments import MOMENT_NAMES, bootstrap_moments, flat_from_sim, moments  # noqa: E402

needs_numba = pytest.mark.skipif("numba" not in available_engines(), reason="numba (extra 'sim') not installed")


def test_engine_argument_is_validated():
    with pytest.raises(ValueError, match="engine"):
        simulate_arrays(Params(), 5, 5, 0, engine="cuda")
    assert "numpy" in available_engines()


@needs_numba
@pytest.mark.parametrize("params", [
    Params(),
    Params.preset(channel="online", relationship="close", culture="open"),
    Params(premature_rate=0.3, partner_withdraw_turn=15, misuse_rate=0.2),
    Params.preset(context="hierarchical", relationship="casual"),
    Params(group_size=3),
], ids=["baseline", "online-close-open", "premature-withdraw-misuse", "hierarchical-casual", "group-of-3"])
def test_numba_kernel_gives_the_numpy_distributions(params: Params):
    from scipy import stats

    n, turns = 6000, 40
    ref = simulate_arrays(params, n, turns, 11, engine="numpy")
    fast = simulate_arrays(params, n, turns, 12, engine="numba")
    for a, b in ((ref.depth[-1], fast.depth[-1]), (ref.final_trust[:, 0], fast.final_trust[:, 0]),
                 (ref.final_intimacy, fast.final_intimacy), (ref.trust[turns // 2], fast.trust[turns // 2])):
        assert stats.ks_2samp(a, b).pvalue > 1e-3
    gap = np.abs(ref.layer.mean(axis=1) - fast.layer.mean(axis=1))
    se = np.sqrt(2 * ref.layer.var(axis=1) / n)
    assert np.all(gap < 4.5 * se + 1e-9)
    topic_ref = np.bincount(ref.topic[ref.topic >= 0], minlength=13) / (ref.topic >= 0).sum()
    topic_fast = np.bincount(fast.topic[fast.topic >= 0], minlength=13) / (fast.topic >= 0).sum()
    assert np.abs(topic_ref - topic_fast).max() < 0.01
    assert abs(ref.misuse.mean() - fast.misuse.mean()) < 4 * np.sqrt(2 * ref.misuse.mean() / (n * turns)) + 1e-4
    # every moment within 4.5 standard errors of the difference (SE from a conversation bootstrap)
    flat_ref = flat_from_sim(ref)
    se_diff = np.sqrt(2) * bootstrap_moments(flat_ref, n_boot=200, seed=0).std(axis=0)
    for name, x, y, se_ in zip(MOMENT_NAMES, moments(flat_ref), moments(flat_from_sim(fast)), se_diff):
        assert abs(x - y) <= 4.5 * se_ + 1e-9, (name, x, y, se_)


@needs_numba
def test_numba_kernel_is_seeded_thread_independent_and_uses_common_random_numbers():
    import numba

    a = simulate_arrays(Params(), 3000, 30, 3, engine="numba")
    b = simulate_arrays(Params(), 3000, 30, 3, engine="numba")
    np.testing.assert_array_equal(a.depth, b.depth)
    np.testing.assert_array_equal(a.topic, b.topic)
    previous = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        single = simulate_arrays(Params(), 3000, 30, 3, engine="numba")
    finally:
        numba.set_num_threads(previous)
    np.testing.assert_array_equal(a.depth, single.depth)
    assert not np.array_equal(a.depth, simulate_arrays(Params(), 3000, 30, 4, engine="numba").depth)
    # common random numbers: a small parameter change leaves the first turn's draws (hence most choices) alone
    nudged = simulate_arrays(Params(disclosure_bias=-0.19), 3000, 30, 3, engine="numba")
    assert np.mean((a.depth[0] > 0) == (nudged.depth[0] > 0)) > 0.99


@needs_numba
def test_kernel_math_is_float32_accurate():
    from numba import njit

    from reciprocity.model import _kernel

    @njit
    def evaluate(x, u):
        out = np.empty((3, x.size), np.float32)
        for i in range(x.size):
            out[0, i] = _kernel.fast_exp(x[i])
            out[1, i] = _kernel.fast_log(u[i])
            out[2, i] = _kernel.fast_cos_turns(u[i])
        return out

    rng = np.random.default_rng(0)
    x = rng.uniform(-80, 80, 20000).astype(np.float32)
    u = rng.uniform(1e-7, 1, 20000).astype(np.float32)
    out = evaluate(x, u)
    assert np.max(np.abs(out[0] / np.exp(x.astype(float)) - 1)) < 1e-6
    assert np.max(np.abs(out[1] - np.log(u.astype(float)))) < 2e-6
    assert np.max(np.abs(out[2] - np.cos(2 * np.pi * u.astype(float)))) < 2e-6
