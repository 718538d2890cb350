"""The command line: outputs, help, and one-line errors with non-zero exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reciprocity.cli import app

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
runner = CliRunner()


@pytest.mark.parametrize("command", [[], ["analyze"], ["detect"], ["train"]])
def test_help_everywhere(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0
    assert "Usage" in result.output


def test_analyze_with_codes_writes_every_output(tmp_path: Path) -> None:
    result = runner.invoke(app, ["analyze", str(EXAMPLES / "conversations.jsonl"), "--out", str(tmp_path),
                                 "--use-codes", "--seed", "5", "--permutations", "50"])
    assert result.exit_code == 0, result.output
    for name in ("utterances.parquet", "conversations.csv", "speakers.csv", "summary.json", "report.html"):
        assert (tmp_path / name).stat().st_size > 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["n_conversations"] == 10 and summary["reciprocity"]["n_permutations"] == 50


def test_bad_input_is_one_clear_line_and_exit_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("conversation_id,speaker,text\na,x,hello\na,,hi\n")
    result = runner.invoke(app, ["analyze", str(bad), "--out", str(tmp_path / "o"), "--use-codes"])
    assert result.exit_code == 1
    assert "bad.csv, line 3, field 'speaker': empty value" in " ".join(result.output.split())


def test_skip_invalid_reports_each_skipped_row(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("conversation_id,speaker,text,depth\na,x,hello,1\na,,hi,2\na,y,,0\na,y,fine,1\n")
    result = runner.invoke(app, ["analyze", str(bad), "--out", str(tmp_path / "o"), "--use-codes", "--skip-invalid"])
    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())
    assert "skipped 2 invalid row(s)" in output
    assert "line 3, field 'speaker'" in output and "line 4, field 'text'" in output
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["n_utterances"] == 2 and len(summary["skipped_rows"]) == 2


def test_detect_needs_exactly_one_source() -> None:
    result = runner.invoke(app, ["detect"])
    assert result.exit_code == 1
    assert "give either --text" in result.output


def test_outcomes_relates_dyad_measures_to_an_outcome(tmp_path: Path) -> None:
    import pandas as pd

    table = pd.read_csv(EXAMPLES / "conversations.csv")
    # Liking that rises with how reciprocal the conversation was written to be.
    table["liking"] = table["pattern"].map({"reciprocal": 6, "slow_deepening": 5, "small_talk": 3,
                                            "one_sided": 2, "premature_deep": 1})
    source = tmp_path / "with_outcome.csv"
    table.to_csv(source, index=False)
    out = tmp_path / "outcomes.csv"
    result = runner.invoke(app, ["outcomes", str(source), "--outcome", "liking", "--use-codes", "--out", str(out)])
    assert result.exit_code == 0, result.output
    tidy = pd.read_csv(out)
    balance = tidy.loc[(tidy["model"] == "balance_index") & (tidy["term"] == "balance_index")].iloc[0]
    assert balance["estimate"] < 0 and balance["p"] < 0.05 and balance["n"] == 9


def test_outcomes_names_a_missing_outcome_column() -> None:
    result = runner.invoke(app, ["outcomes", str(EXAMPLES / "conversations.csv"), "--outcome", "nope", "--use-codes"])
    assert result.exit_code == 1
    assert "field 'nope': no such outcome/covariate column" in " ".join(result.output.split())


def test_detect_single_text_prints_the_schema() -> None:
    result = runner.invoke(app, ["detect", "--text", "I was diagnosed with depression last year and I'm scared."])
    assert result.exit_code == 0, result.output
    codes = json.loads(result.output)
    assert set(codes) >= {"info_disclosure", "emo_disclosure", "disclosure", "depth", "layer", "topics"}
    assert codes["disclosure"] is True and codes["layer"] >= 2


def test_detect_table_appends_codes(tmp_path: Path) -> None:
    import pandas as pd

    source = tmp_path / "texts.csv"
    pd.DataFrame({"post": ["I'm a nurse in Leeds.", "The bus was late again.", ""]}).to_csv(source, index=False)
    out = tmp_path / "codes.parquet"
    result = runner.invoke(app, ["detect", str(source), "--text-column", "post", "--out", str(out)])
    assert result.exit_code == 0, result.output
    coded = pd.read_parquet(out)
    assert len(coded) == 3 and coded.loc[2, "layer"] == 0
    assert coded.loc[0, "info_disclosure"] > coded.loc[1, "info_disclosure"]


def test_outcomes_names_a_non_numeric_outcome_value(tmp_path: Path) -> None:
    import pandas as pd

    table = pd.read_csv(EXAMPLES / "conversations.csv")
    table["liking"] = 3
    table["liking"] = table["liking"].astype(object)
    table.loc[2, "liking"] = "high"
    source = tmp_path / "bad_outcome.csv"
    table.to_csv(source, index=False)
    result = runner.invoke(app, ["outcomes", str(source), "--outcome", "liking", "--use-codes"])
    assert result.exit_code == 1
    assert "bad_outcome.csv, line 4, field 'liking': not a number: 'high'" in " ".join(result.output.split())


def test_train_fast_without_conversation_corpora_names_the_missing_file(tmp_path):
    """Distillation (the default) needs the transfer corpora: a clean error naming the first missing file."""
    for rel in ("offmychest/train.csv", "question_intimacy/final_train.txt", "tweet_intimacy/train.csv"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x\n")
    result = runner.invoke(app, ["train", "--data", str(tmp_path), "--out", str(tmp_path / "out")])
    assert result.exit_code != 0
    assert "topical_chat" in result.output and "valid_freq.json" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_detect_keeps_the_inputs_own_code_columns(tmp_path: Path, suffix: str) -> None:
    import pandas as pd

    out = tmp_path / f"coded{suffix}"
    result = runner.invoke(app, ["detect", str(EXAMPLES / "conversations.csv"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    source = pd.read_csv(EXAMPLES / "conversations.csv")
    coded = pd.read_parquet(out) if suffix == ".parquet" else (
        pd.read_json(out, lines=True) if suffix == ".jsonl" else pd.read_csv(out))
    assert coded.columns.is_unique and len(coded) == len(source)
    assert coded["input_disclosure"].astype(bool).tolist() == source["disclosure"].astype(bool).tolist()
    assert {"disclosure", "depth", "layer", "topics"} <= set(coded.columns)
    assert "input_disclosure" in " ".join(result.output.split())


def test_errors_are_printed_verbatim_not_as_markup(tmp_path: Path) -> None:
    odd = tmp_path / "data[red].csv"
    odd.write_text("conversation_id,speaker,text\n")
    result = runner.invoke(app, ["analyze", str(odd), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert "data[red].csv, rows: no utterances to analyse (the table has no rows)" in " ".join(result.output.split())
    assert not (tmp_path / "o").exists()  # nothing half-written
    missing = runner.invoke(app, ["analyze", str(tmp_path / "[/]x.csv")])
    assert missing.exit_code == 1 and "[/]x.csv" in missing.output


def test_all_rows_skipped_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("conversation_id,speaker,text\na,,hi\n")
    result = runner.invoke(app, ["analyze", str(bad), "--skip-invalid", "--out", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert "no utterances to analyse (all 1 rows were invalid and skipped)" in " ".join(result.output.split())


@pytest.mark.parametrize("args", [["analyze", str(EXAMPLES / "conversations.csv"), "--permutations", "-5"],
                                  ["detect", "--text", "hi", "--jobs", "0"]])
def test_bad_option_values_are_usage_errors_not_tracebacks(args: list[str]) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and "Invalid value" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_detect_unknown_output_format_is_one_line(tmp_path: Path) -> None:
    result = runner.invoke(app, ["detect", "--text-column", "text", str(EXAMPLES / "conversations.csv"),
                                 "--out", str(tmp_path / "codes.txt")])
    assert result.exit_code == 1
    assert "codes.txt, file: cannot tell the format from suffix '.txt'" in " ".join(result.output.split())
    assert not (tmp_path / "codes.txt").exists()
