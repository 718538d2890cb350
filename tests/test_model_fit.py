"""Moments, SMM fit, particle filter, sweeps and the simulate/fit CLI commands."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from reciprocity.measure import conversation_profile, prepare_codes
from reciprocity.measure.reciprocity import pair_statistics
from reciprocity.model import MOMENT_NAMES, Params, filter_latent, fit, simulate, summary_statistics, sweep
from reciprocity.model.cli import register
from reciprocity.model.moments import flat_from_sim, flat_from_table, moments
from reciprocity.model.simulate import simulate_arrays


def test_moments_match_the_project_measures():
    table = prepare_codes(simulate(Params(), 40, 30, seed=1))
    stats = summary_statistics(table)
    assert stats["disclosure_rate"] == pytest.approx(table["disclosure"].mean())
    assert stats["mean_depth"] == pytest.approx(table["depth"].mean())
    profile = conversation_profile(table)
    assert stats["depth_slope"] == pytest.approx(profile["depth_slope"].mean())
    assert stats["breadth"] == pytest.approx(profile["breadth"].mean())
    # lagged matching over exchange pairs, depth centred within conversation, one pooled group
    centred = table["depth"] - table.groupby("conversation_id")["depth"].transform("mean")
    prev = np.flatnonzero(table["conversation_id"].to_numpy()[1:] == table["conversation_id"].to_numpy()[:-1])
    pooled = pair_statistics(centred.to_numpy(), table["disclosure"].to_numpy(), prev, prev + 1,
                             np.zeros(len(prev), int), 1)
    assert stats["partner_lag_r"] == pytest.approx(pooled.r_lag[0])
    raw = pair_statistics(table["depth"].to_numpy(), table["disclosure"].to_numpy(), prev, prev + 1,
                          np.zeros(len(prev), int), 1)
    assert stats["conditional_reciprocity"] == pytest.approx(raw.conditional[0])


def test_simulator_and_table_moments_agree():
    sim = simulate_arrays(Params(), 30, 25, 4)
    from reciprocity.model.simulate import to_table

    np.testing.assert_allclose(moments(flat_from_sim(sim)), moments(flat_from_table(to_table(sim))), atol=1e-6)


def test_moments_respond_to_their_parameters():
    low = summary_statistics(simulate(Params(reciprocity=0.1), 400, 30, seed=2))
    high = summary_statistics(simulate(Params(reciprocity=0.8), 400, 30, seed=2))
    assert high["partner_lag_r"] - low["partner_lag_r"] > 0.2


def test_fit_recovers_clear_parameters_quickly():
    truth = Params(disclosure_bias=0.5, reciprocity=0.7)
    table = simulate(truth, 200, 25, seed=11)
    result = fit(table, parameters=("disclosure_bias", "reciprocity"), min_sim=400, n_screen=8, n_starts=1,
                 max_evals=40, n_boot=100, seed=3)
    assert abs(result.estimates["reciprocity"] - 0.7) < 0.15
    assert abs(result.estimates["disclosure_bias"] - 0.5) < 0.4
    assert all(np.isfinite(v) and v > 0 for v in result.se.values())
    assert list(result.moments["moment"]) == list(MOMENT_NAMES)
    assert result.params.reciprocity == pytest.approx(result.estimates["reciprocity"])


def test_fit_without_topic_codes_leaves_the_breadth_moment_out():
    truth = Params(disclosure_bias=0.5, reciprocity=0.7)
    table = simulate(truth, 200, 25, seed=11).drop(columns=["topics"])
    result = fit(table, parameters=("disclosure_bias", "reciprocity"), min_sim=400, n_screen=8, n_starts=1,
                 max_evals=40, n_boot=100, seed=3)
    assert "breadth" not in set(result.moments["moment"]) and result.extra["moments_left_out"] == ["breadth"]
    assert len(result.moments) == len(MOMENT_NAMES) - 1
    assert abs(result.estimates["reciprocity"] - 0.7) < 0.15  # not dragged off by a breadth of 0 everywhere
    assert abs(result.estimates["disclosure_bias"] - 0.5) < 0.4


def test_filter_tracks_true_latent_state():
    table = simulate(Params(), 6, 40, seed=7)
    latent = filter_latent(table, Params(), n_particles=500, seed=1)
    assert len(latent) == len(table)
    assert {"trust_mean", "trust_low", "trust_high", "intimacy_mean", "intimacy_low", "intimacy_high"} <= set(latent.columns)
    assert (latent["trust_low"] <= latent["trust_high"]).all()
    assert np.corrcoef(latent["trust_mean"], table["trust"])[0, 1] > 0.6
    assert np.corrcoef(latent["intimacy_mean"], table["intimacy"])[0, 1] > 0.6
    assert set(latent.attrs["log_evidence"]) == set(table["conversation_id"])


def test_sweep_is_tidy_and_monotone_in_openness():
    grid = sweep(Params(), {"channel": ["offline", "online"], "culture_openness": [-0.5, 0.5]}, n_dyads=300, n_turns=30)
    assert len(grid) == 4
    assert {"channel", "culture_openness", *MOMENT_NAMES, "final_trust", "final_intimacy"} <= set(grid.columns)
    by = grid.set_index(["channel", "culture_openness"])["disclosure_rate"]
    assert by["online", 0.5] > by["offline", 0.5] and by["offline", 0.5] > by["offline", -0.5]
    with pytest.raises(ValueError, match="unknown sweep key"):
        sweep(Params(), {"nonsense": [1]})


@pytest.fixture()
def app() -> typer.Typer:
    app = typer.Typer(pretty_exceptions_enable=False)
    register(app)
    return app


def test_cli_simulate_and_fit(app: typer.Typer, tmp_path: Path):
    runner = CliRunner()
    out = tmp_path / "sim.parquet"
    result = runner.invoke(app, ["simulate", "baseline", "--dyads", "60", "--turns", "20", "--chunk-size", "25",
                                 "--out", str(out), "--set", "reciprocity=0.7"])
    assert result.exit_code == 0, result.output
    assert pd.read_parquet(out)["conversation_id"].nunique() == 60
    result = runner.invoke(app, ["fit", str(out), "--out", str(tmp_path / "fit"), "--parameters", "reciprocity",
                                 "--sim-ratio", "2", "--min-sim", "100", "--max-evals", "20"])
    assert result.exit_code == 0, result.output
    saved = json.loads((tmp_path / "fit" / "fit.json").read_text())
    assert set(saved["estimates"]) == {"reciprocity"} and len(saved["moments"]) == len(MOMENT_NAMES)
    assert json.loads((tmp_path / "fit" / "params.json").read_text())["reciprocity"] == saved["estimates"]["reciprocity"]


def test_cli_errors_are_one_line_with_exit_code_1(app: typer.Typer, tmp_path: Path):
    runner = CliRunner()
    for args in (["simulate", "no_such_scenario"], ["simulate", "baseline", "--set", "pace=fast"],
                 ["simulate", "baseline", "--out", str(tmp_path / "x.txt")],
                 ["fit", str(tmp_path / "missing.csv")], ["fit", str(tmp_path / "missing.csv"), "--parameters", "x"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 1, (args, result.output)
        assert "error:" in result.output
    bad = tmp_path / "bad.toml"
    bad.write_text("[params]\npace = 'x'\n")
    result = runner.invoke(app, ["simulate", str(bad)])
    assert result.exit_code == 1 and "pace" in result.output
    assert runner.invoke(app, ["simulate", "--help"]).exit_code == 0


def test_cli_messages_say_what_is_wrong_and_where(app: typer.Typer, tmp_path: Path):
    runner = CliRunner()

    def error(args):
        result = runner.invoke(app, args)
        assert result.exit_code == 1, (args, result.output)
        return " ".join(result.output.split())

    typo = tmp_path / "typo.toml"
    typo.write_text('[moderators]\ncultre = "neutral"\n')
    assert "typo.toml, [moderators], field 'cultre': unknown moderator" in error(["simulate", str(typo)])
    assert "premature_turns must be an integer, got '2.5'" in error(["simulate", "--set", "premature_turns=2.5"])
    message = error(["simulate", "--set", "culture=open"])
    assert "'culture' is not a parameter" in message and "reciprocity" in message and "[moderators]" in message
    silent = tmp_path / "silent.csv"
    pd.DataFrame({"conversation_id": np.repeat(["a", "b", "c"], 6), "speaker": list("ABABAB") * 3,
                  "turn": list(range(6)) * 3, "text": "x", "disclosure": 0, "depth": 0.0}).to_csv(silent, index=False)
    assert "has no disclosures" in error(["fit", str(silent), "--out", str(tmp_path / "f")])
    assert "--parameters is empty" in error(["fit", str(silent), "--parameters", ""])


def test_fit_warnings_flag_bounds_misfit_and_no_convergence():
    from reciprocity.model.cli import fit_warnings
    from reciprocity.model.fit import FIT_BOUNDS

    class Result:
        estimates = {"reciprocity": FIT_BOUNDS["reciprocity"][0], "depth_noise": float(np.mean(FIT_BOUNDS["depth_noise"]))}
        moments = pd.DataFrame({"moment": ["a", "b"], "z": [0.5, -7.2]})
        converged = False

    warnings = fit_warnings(Result())
    assert len(warnings) == 3 and "reciprocity = 0.000 sits at the lower bound" in warnings[0]
    assert "7.2 standard errors" in warnings[1] and "did not converge" in warnings[2]
    Result.estimates, Result.moments, Result.converged = {"depth_noise": 0.3}, pd.DataFrame({"z": [1.0]}), True
    assert fit_warnings(Result()) == []


def test_disclosed_depth_and_profile_moments_match_a_direct_computation():
    table = prepare_codes(simulate(Params(), 60, 27, seed=3))
    stats = summary_statistics(table)
    t = table.copy()
    t["index"] = t.groupby("conversation_id").cumcount()
    t["position"] = t["index"] / (t.groupby("conversation_id")["index"].transform("max"))
    disclosed = t[t["disclosure"]]
    assert stats["disclosed_depth"] == pytest.approx(disclosed["depth"].mean())
    resid = disclosed["depth"] - disclosed.groupby("conversation_id")["depth"].transform("mean")
    dof = len(disclosed) - disclosed["conversation_id"].nunique()
    assert stats["disclosed_depth_sd"] == pytest.approx(np.sqrt((resid**2).sum() / dof))
    assert stats["core_share"] == pytest.approx((disclosed["layer"] == 3).mean())
    squares = []
    for _, own in t.groupby(["conversation_id", "speaker"]):
        d = own["depth"].to_numpy()
        both = (d[1:] > 0) & (d[:-1] > 0)
        squares += list((d[1:] - d[:-1])[both] ** 2)
    assert stats["own_depth_msd"] == pytest.approx(np.mean(squares))
    windows = {"opening": t["index"] < 4, "late": t["position"] >= 2 / 3,
               "4_11": t["index"].between(4, 11), "12_19": t["index"].between(12, 19)}
    for name, mask in windows.items():
        rate, depth = (f"{name}_rate", f"{name}_depth") if name in ("opening", "late") else (f"rate_{name}", f"depth_{name}")
        assert stats[rate] == pytest.approx(t.loc[mask, "disclosure"].mean())
        assert stats[depth] == pytest.approx(t.loc[mask & t["disclosure"], "depth"].mean())
    # reciprocation balance: the speaker's earlier disclosures returned (next utterance discloses) minus not returned
    conversation, disclosure = t["conversation_id"].to_numpy(), t["disclosure"].to_numpy(bool)
    has_next = np.r_[conversation[1:] == conversation[:-1], False]
    next_disclosed = np.r_[disclosure[1:], False] & has_next
    t["outcome"] = np.where(disclosure & has_next, np.where(next_disclosed, 1.0, -1.0), 0.0)
    t["balance"] = t.groupby(["conversation_id", "speaker"])["outcome"].transform(lambda s: s.cumsum() - s)
    d = t[t["disclosure"]]
    assert stats["balance_slope"] == pytest.approx(np.polyfit(d["balance"], d["depth"], 1)[0])
    x = d["balance"] - d.groupby("conversation_id")["balance"].transform("mean")
    y = d["depth"] - d.groupby("conversation_id")["depth"].transform("mean")
    assert stats["balance_slope_within"] == pytest.approx((x * y).sum() / (x * x).sum())


def test_fit_options_are_validated_and_weightings_agree_on_clear_parameters():
    table = simulate(Params(reciprocity=0.6), 150, 20, seed=5)
    with pytest.raises(ValueError, match="weighting"):
        fit(table, parameters=("reciprocity",), weighting="bogus")
    results = [fit(table, parameters=("reciprocity",), min_sim=300, n_screen=6, n_starts=1, max_evals=20,
                   n_boot=80, seed=1, weighting=w) for w in ("optimal", "diagonal")]
    for result in results:
        assert abs(result.estimates["reciprocity"] - 0.6) < 0.15
        low, high = result.ci95["reciprocity"]
        assert low <= result.estimates["reciprocity"] <= high


def test_non_disclosing_utterances_count_as_depth_zero():
    table = simulate(Params(), 20, 16, seed=9)
    graded = table.copy()
    graded.loc[~graded["disclosure"], "depth"] = 0.8          # a detector's graded depth on a non-disclosure
    graded.loc[~graded["disclosure"], "layer"] = 1
    np.testing.assert_allclose(moments(flat_from_table(prepare_codes(graded))),
                               moments(flat_from_table(prepare_codes(table))))


@pytest.mark.parametrize("change, message", [
    ({"turn": [1, 2, np.nan, 4, 5, 6]}, "row 3, field 'turn': turn must be an integer"),
    ({"turn": [1, 2, 2, 4, 5, 6]}, "row 3, field 'turn': turn repeated within its conversation"),
    ({"conversation_id": [None] * 3 + ["c"] * 3}, "row 1, field 'conversation_id': empty value"),
    ({"speaker": [None, "B", "A", "B", "A", "B"]}, "row 1, field 'speaker': empty value"),
])
def test_filter_rejects_tables_it_cannot_order(change, message):
    from reciprocity.errors import InputError

    table = pd.DataFrame({"conversation_id": ["c"] * 6, "speaker": list("ABABAB"), "turn": [1, 2, 3, 4, 5, 6],
                          "disclosure": [False, True, True, True, False, False], "depth": [0, 1, 2, 2, 0, 0.0]})
    with pytest.raises(InputError, match=message):
        filter_latent(table.assign(**change), n_particles=50)
    numeric_strings = filter_latent(table.assign(turn=["2", "10", "3", "4", "5", "6"]), n_particles=50)
    assert numeric_strings["turn"].tolist() == [2, 3, 4, 5, 6, 10]  # numeric, not string, order
    with pytest.raises(ValueError, match="level"):
        filter_latent(table, level=1.5)
