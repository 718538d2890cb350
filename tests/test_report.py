"""The HTML report: data payload, offline self-containment, scale, missing pieces, loading saved outputs, CLI."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

import reciprocity
from reciprocity.report import render_report, write_report
from reciprocity.report.data import build_payload
from reciprocity.report.load import load_analysis
from reciprocity.schema import TOPICS

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "conversations.csv"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


SENTENCES = [
    "I moved here for work last year and I still feel a bit lonely.", "The train was late again this morning.",
    "Honestly I've been anxious about my health since the winter.", "I love hiking at the weekend with my sister.",
    "I think I'm too hard on myself at work.", "Did anyone see the match yesterday?",
]


def group_table() -> pd.DataFrame:
    """A four-person chat in which every ordered pair of speakers exchanges turns."""
    rng = np.random.default_rng(5)
    speakers = ["ana", "ben", "cem", "dia"]
    order = [speakers[i % 4] for i in range(8)] + [speakers[i] for i in (0, 2, 1, 3, 0, 3, 2, 0, 1, 3, 2, 1)]
    depth = rng.integers(0, 4, len(order))
    return pd.DataFrame({"id": [f"g{i}" for i in range(len(order))], "conversation_id": "group_chat", "speaker": order, "turn": np.arange(1, len(order) + 1),
                         "text": [SENTENCES[i % len(SENTENCES)] for i in range(len(order))], "depth": depth,
                         "topics": [";".join(rng.choice(TOPICS, 1)) if d else "" for d in depth]})


@pytest.fixture(scope="module")
def example() -> reciprocity.Analysis:
    table = reciprocity.read(EXAMPLE)
    table = pd.concat([table, group_table()], ignore_index=True)
    return reciprocity.analyze(table, use_codes=True, n_permutations=20, seed=1)


def embedded_payload(page: str) -> dict:
    match = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', page, re.S)
    assert match, "report data not embedded"
    return json.loads(match.group(1))


def test_payload_has_every_section(example: reciprocity.Analysis) -> None:
    payload = build_payload(example)
    assert payload["meta"]["n_conversations"] == 11
    assert payload["meta"]["n_utterances"] == len(example.utterances)
    assert sum(payload["layerCounts"]) == len(example.utterances)
    assert payload["topics"][:13] == list(TOPICS)
    assert len(payload["corpusOnion"]) == len(payload["sectors"]) and all(len(r) == 3 for r in payload["corpusOnion"])
    lag = payload["lagSequential"]
    assert lag["available"] and len(lag["count"]) == 4 and all(len(r) == 4 for r in lag["count"])
    assert lag["n"] == example.summary["n_exchanges"]
    assert {f["key"] for f in payload["forest"]} >= {"lagged_matching"}
    assert all(len(f["est"]) == 11 for f in payload["forest"])
    group_index = payload["conv"]["id"].index("group_chat")
    matrix = payload["groups"][str(group_index)]
    assert len(matrix["rec"]) == 4 and all(len(r) == 4 for r in matrix["rec"])
    assert payload["conv"]["off"][-1] == len(example.utterances)
    assert len(payload["utt"]["x"]) == len(example.utterances)
    # the three optional pieces landed in this tree and are used
    assert payload["stages"]["available"] and payload["alerts"]["available"]
    assert len(payload["conv"]["stageMax"]) == 11


def test_group_matrix_from_analysis_matches_report_fallback(example: reciprocity.Analysis) -> None:
    """The matrix read from the analysis' group_reciprocity table equals the one the report computes itself."""
    from reciprocity.report.data import _group_matrices, _groups, _order

    corpus = _order(example.utterances)
    from_analysis = _groups(example, corpus, corpus.table)
    computed = _group_matrices(corpus, corpus.table)
    key = str(corpus.conversation_ids.index("group_chat"))
    assert from_analysis[key]["source"] == "analysis"
    assert from_analysis[key]["n"] == computed[key]["n"]
    a = np.array(from_analysis[key]["rec"], dtype=float)
    b = np.array(computed[key]["rec"], dtype=float)
    assert np.allclose(a, b, equal_nan=True, atol=1e-3)


def test_report_is_self_contained_and_offline(example: reciprocity.Analysis, tmp_path: Path) -> None:
    path = write_report(example, tmp_path / "report.html")
    page = path.read_text(encoding="utf-8")
    assert "<script src=" not in page and "<link " not in page  # nothing fetched: works offline
    assert page.count("<script") == 3  # plotly.js (once), the data, the report code
    assert page.count("Plotly.newPlot") < 50  # plotly.js embedded once, not per figure
    assert 'id="conversation-picker"' in page and 'id="trajectory"' in page
    payload = embedded_payload(page)
    assert payload["conv"]["id"][0] == "c01_reciprocal_coworkers"


def test_untrusted_text_cannot_break_out_of_the_page(tmp_path: Path) -> None:
    table = pd.DataFrame({"conversation_id": ["x</script><script>alert(1)</script>"] * 3, "speaker": ["a", "b", "a"],
                          "text": ["</script><b>hi</b>", "I'm <scared>", "ok \u2028 line"], "depth": [0, 2, 1]})
    result = reciprocity.analyze(table, use_codes=True, n_permutations=5)
    page = render_report(result)
    assert page.count("</script>") == 3
    assert embedded_payload(page)["utt"]["x"][0] == "</script><b>hi</b>"


def test_missing_pieces_say_not_available(example: reciprocity.Analysis, monkeypatch: pytest.MonkeyPatch) -> None:
    bare = reciprocity.Analysis(example.utterances[["conversation_id", "speaker", "turn", "text", "disclosure", "depth",
                                                    "layer"]].assign(topics=[[]] * len(example.utterances)),
                                example.conversations[["conversation_id", "n_utterances"]], example.speakers.iloc[:0], {})
    for module in ("reciprocity.measure.stages", "reciprocity.advise", "reciprocity.advise.alerts", "reciprocity.model",
                   "reciprocity.measure.sequential"):
        monkeypatch.setitem(sys.modules, module, None)  # import fails as if the module were absent
    payload = build_payload(bare)
    assert not payload["stages"]["available"] and "not available" in payload["stages"]["reason"]
    assert not payload["alerts"]["available"] and not payload["trust"]["available"]
    assert payload["lagSequential"]["available"] and payload["lagSequential"]["source"] == "report"
    assert payload["forest"] == [] and payload["sectors"][-1] == "unlabelled"
    assert "report-data" in render_report(bare)


def test_ten_thousand_conversations_stay_small(tmp_path: Path) -> None:
    """10k conversations × 12 turns: the report embeds compact data once and stays well under 20 MB."""
    rng = np.random.default_rng(0)
    n_conv, n_turn = 10_000, 12
    conversation = np.repeat([f"conv{i:05d}" for i in range(n_conv)], n_turn)
    turn = np.tile(np.arange(1, n_turn + 1), n_conv)
    depth = np.clip(np.round(rng.normal(1.2, 1.0, len(conversation))), 0, 3).astype(int)
    words = np.array(["I", "think", "my", "sister", "work", "feel", "the", "bus", "was", "late", "again", "today"])
    utterances = pd.DataFrame({
        "conversation_id": conversation, "speaker": np.where(turn % 2, "A", "B"), "turn": turn,
        "text": [" ".join(w) for w in rng.choice(words, (len(conversation), 8))],
        "disclosure": depth > 0, "depth": depth.astype(float), "layer": depth,
        "topics": [list(rng.choice(TOPICS, 2, replace=False)) if d else [] for d in depth],
    })
    frame = pd.DataFrame({"conversation_id": np.unique(conversation), "n_utterances": n_turn,
                          "lagged_matching": rng.uniform(-1, 1, n_conv), "n_exchanges": n_turn - 1,
                          "lagged_matching_p": rng.uniform(0, 1, n_conv)})
    analysis = reciprocity.Analysis(utterances, frame, pd.DataFrame(), {"source": "synthetic"})
    path = write_report(analysis, tmp_path / "report.html")
    size = path.stat().st_size
    assert size < 20_000_000, f"report is {size / 1e6:.1f} MB"
    payload = embedded_payload(path.read_text(encoding="utf-8"))
    assert len(payload["conv"]["id"]) == n_conv and payload["conv"]["off"][-1] == n_conv * n_turn
    assert payload["trust"]["note"] is None or "first" in payload["trust"]["note"]


def test_report_rebuilds_from_saved_outputs(example: reciprocity.Analysis, tmp_path: Path) -> None:
    example.save(tmp_path / "out")
    loaded = load_analysis(tmp_path / "out")
    assert len(loaded.utterances) == len(example.utterances)
    assert isinstance(loaded.utterances["topics"].iloc[0], list)
    original, rebuilt = build_payload(example), build_payload(loaded)
    for key in ("layerCounts", "topicCounts", "corpusOnion", "lagSequential", "groups"):
        assert rebuilt[key] == original[key], key
    assert rebuilt["conv"]["id"] == original["conv"]["id"]


def test_report_command(example: reciprocity.Analysis, tmp_path: Path) -> None:
    from reciprocity.report.cli import register

    app = typer.Typer()
    app.command("noop")(lambda: None)  # a second command keeps `report` a subcommand
    register(app)
    example.save(tmp_path / "out")
    (tmp_path / "out" / "report.html").unlink()
    runner = CliRunner()
    result = runner.invoke(app, ["report", str(tmp_path / "out"), "--html", str(tmp_path / "r.html")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "r.html").stat().st_size > 1_000_000
    result = runner.invoke(app, ["report", str(tmp_path / "nowhere")])
    assert result.exit_code == 1 and "no such directory" in result.output
