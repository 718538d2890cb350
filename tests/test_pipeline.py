"""End to end on the bundled example: the measures order the conversation patterns as theory expects."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

import reciprocity
from reciprocity.errors import InputError

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "conversations.csv"


@pytest.fixture(scope="module")
def coded_result() -> reciprocity.Analysis:
    return reciprocity.analyze(reciprocity.read(EXAMPLE), use_codes=True, seed=3)


def _by_pattern(result: reciprocity.Analysis, column: str) -> pd.Series:
    patterns = result.utterances.drop_duplicates("conversation_id").set_index("conversation_id")["pattern"]
    frame = result.conversations.set_index("conversation_id")
    return frame[column].groupby(patterns).mean()


def test_reciprocal_exchanges_match_more_than_one_sided(coded_result: reciprocity.Analysis) -> None:
    matching = _by_pattern(coded_result, "lagged_matching")
    assert matching["reciprocal"] > 0.5 and matching["slow_deepening"] > 0.5
    assert matching["one_sided"] < 0
    conditional = _by_pattern(coded_result, "conditional_reciprocity")
    assert conditional["reciprocal"] > conditional["one_sided"]
    frame = coded_result.conversations.set_index("conversation_id")
    reciprocal = frame.filter(like="_reciprocal_", axis=0)
    assert (reciprocal["lagged_matching_p"] < 0.05).all()
    assert (reciprocal["lagged_matching"] > reciprocal["lagged_matching_null"]).all()


def test_balance_depth_timing_and_rates(coded_result: reciprocity.Analysis) -> None:
    balance = _by_pattern(coded_result, "balance_index")
    assert balance.idxmax() == "one_sided"
    assert balance["reciprocal"] < 0.1
    first_core = _by_pattern(coded_result, "first_core_position")
    assert first_core.idxmin() == "premature_deep"
    slope = _by_pattern(coded_result, "depth_slope")
    assert slope["slow_deepening"] > slope["premature_deep"]
    rate = _by_pattern(coded_result, "disclosure_rate")
    assert rate.idxmin() == "small_talk" and rate["small_talk"] == 0
    assert _by_pattern(coded_result, "mean_depth").idxmin() == "small_talk"


def test_outputs_are_written(coded_result: reciprocity.Analysis, tmp_path: Path) -> None:
    paths = coded_result.save(tmp_path)
    utterances = pd.read_parquet(paths["utterances"])
    assert len(utterances) == 133
    assert {"disclosure", "depth", "layer", "topics", "cum_breadth"} <= set(utterances.columns)
    conversations = pd.read_csv(paths["conversations"])
    assert len(conversations) == 10
    speakers = pd.read_csv(paths["speakers"])
    assert len(speakers) == 20
    summary = paths["summary"].read_text()
    assert '"codes": "input"' in summary and "NaN" not in summary
    html = paths["report"].read_text()
    payload = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', html, re.S)
    assert payload is not None and len(json.loads(payload.group(1))["conv"]["id"]) == 10
    assert 'id="trajectory"' in html
    assert "<script src=" not in html  # plotly.js is inlined: the report works offline


def test_seed_makes_null_baselines_reproducible() -> None:
    table = reciprocity.read(EXAMPLE)
    first = reciprocity.analyze(table, use_codes=True, seed=11).conversations
    second = reciprocity.analyze(table, use_codes=True, seed=11).conversations
    pd.testing.assert_frame_equal(first, second)


def test_use_codes_rejects_bad_codes_with_row_and_field() -> None:
    table = reciprocity.read(EXAMPLE)
    table.loc[4, "depth"] = 7
    # The error names the line of the source file (header is line 1), not a position in the sorted table.
    with pytest.raises(InputError, match=r"conversations.csv, line 6, field 'depth'"):
        reciprocity.analyze(table, use_codes=True, source=str(EXAMPLE))
    with pytest.raises(InputError, match="needs a 'disclosure' and/or 'depth' column"):
        reciprocity.analyze(table.drop(columns=["depth", "disclosure"]), use_codes=True)


def test_reply_edges_define_exchanges_in_group_chats() -> None:
    table = pd.DataFrame({
        "id": ["a", "b", "c", "d"],
        "conversation_id": ["g"] * 4,
        "speaker": ["ann", "bob", "cy", "ann"],
        "text": ["I feel lost at work.", "Same, I'm burnt out.", "Nice weather.", "Thanks, Bob."],
        "reply_to": [None, "a", None, "b"],
        "depth": [2, 2, 0, 1],
    })
    result = reciprocity.analyze(table, use_codes=True, n_permutations=20)
    # a→b (reply edge), b→c (consecutive, no edge), b→d (reply edge)
    assert result.summary["n_exchanges"] == 3


def test_advise_api_flags_premature_and_unreciprocated_disclosure() -> None:
    alerts = reciprocity.advise(reciprocity.read(EXAMPLE))  # the example carries hand codes
    kinds = alerts.groupby("conversation_id")["kind"].agg(set)
    assert "premature_deep_disclosure" in kinds["c06_premature_deep_party"]
    assert "unreciprocated_disclosure" in kinds["c04_one_sided_first_date"]
    assert not any(name.startswith(("c01", "c02", "c03")) for name in kinds.index)
    assert alerts["suggestion"].str.len().gt(10).all()


def test_detector_codes_recover_the_same_ordering() -> None:
    """The bundled detector, not the hand codes, drives the default pipeline (`make run`)."""
    table = reciprocity.read(EXAMPLE)
    result = reciprocity.analyze(table, seed=3, n_permutations=50)
    assert result.summary["codes"] == "detector (fast tier)"
    coded = result.utterances
    assert (coded["disclosure"] == coded["input_disclosure"].astype(bool)).mean() > 0.85
    assert coded[["depth", "input_depth"]].corr("spearman").iloc[0, 1] > 0.7
    matching = _by_pattern(result, "lagged_matching")
    assert min(matching["reciprocal"], matching["slow_deepening"]) > matching["one_sided"] + 0.5
    assert _by_pattern(result, "balance_index").idxmax() == "one_sided"
    assert _by_pattern(result, "first_core_position").idxmin() == "premature_deep"
    assert _by_pattern(result, "disclosure_rate").idxmin() == "small_talk"


def test_compact_and_plain_tables_give_the_same_analysis() -> None:
    """The compact in-memory form (what read returns) and plain object columns analyse identically, and the
    compact dtypes survive into the utterance table; the input table is not modified."""
    from reciprocity.corpus import compact
    from reciprocity.corpus.compact import STRING_DTYPE

    lean = reciprocity.read(EXAMPLE)
    plain = lean.astype({"text": object, "id": object})
    if "layer" in plain.columns:
        plain["layer"] = plain["layer"].astype("int64")
    before = lean.copy()
    a = reciprocity.analyze(lean, use_codes=True, seed=5, n_permutations=30)
    b = reciprocity.analyze(plain, use_codes=True, seed=5, n_permutations=30)
    pd.testing.assert_frame_equal(lean, before)
    assert a.utterances["text"].dtype == STRING_DTYPE and a.utterances["id"].dtype == STRING_DTYPE
    pd.testing.assert_frame_equal(a.conversations, b.conversations)
    pd.testing.assert_frame_equal(a.speakers, b.speakers)
    for name in reciprocity.Analysis.TABLE_FILES:
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), obj=name)
    pd.testing.assert_frame_equal(a.utterances.drop(columns=["text", "id", "layer"]),
                                  b.utterances.drop(columns=["text", "id", "layer"]))
    assert json.dumps(a.summary, default=str) == json.dumps(b.summary, default=str)
    assert compact(a.utterances)["text"].tolist() == b.utterances["text"].tolist()


def test_top_level_detect_keeps_working_after_the_subpackage_is_imported() -> None:
    import importlib

    texts = ["I was diagnosed with depression last year.", "The bus was late again."]
    first = reciprocity.detect(texts)
    detect_package = importlib.import_module("reciprocity.detect")
    import reciprocity.detect as aliased  # the subpackage, as before

    assert aliased is detect_package and hasattr(aliased, "DisclosureDetector")
    pd.testing.assert_frame_equal(reciprocity.detect(texts), first)  # still callable after the import
    pd.testing.assert_frame_equal(reciprocity.detect(texts, n_jobs=2), first)
    table = pd.DataFrame({"text": texts, "disclosure": [False, True], "depth": [0.0, 2.0]})
    coded = reciprocity.detect(table)
    assert coded.columns.is_unique and coded["input_depth"].tolist() == [0.0, 2.0]
    pd.testing.assert_frame_equal(coded[first.columns], first)
    with pytest.raises(InputError, match="input_depth"):
        reciprocity.detect(table.assign(input_depth=1.0))
    with pytest.raises(InputError, match="field 'post'"):
        reciprocity.detect(table, text_column="post")


def _coded(**change) -> pd.DataFrame:
    table = pd.DataFrame({"conversation_id": ["c"] * 6, "speaker": list("ABABAB"), "turn": range(1, 7),
                          "text": ["x"] * 6, "disclosure": [False, True, True, True, False, False],
                          "depth": [0, 1, 2, 2, 0, 0.0]})
    return table.assign(**change)


@pytest.mark.parametrize("codes", [[False, True, None, True, False, False], [0, 1, float("nan"), 1, 0, 0],
                                   pd.array([False, True, None, True, False, False], dtype="boolean"),
                                   ["no", "yes", " ", "yes", "no", "no"]])
def test_a_missing_disclosure_code_is_never_read_as_no(codes) -> None:
    from reciprocity.measure import prepare_codes

    with pytest.raises(InputError, match="row 3, field 'disclosure': disclosure code is missing"):
        reciprocity.analyze(_coded(disclosure=codes).drop(columns="depth"), use_codes=True)
    # with depths, the missing code is derived from the row's depth (2 > 0), as when the column is absent
    assert prepare_codes(_coded(disclosure=codes))["disclosure"].tolist() == [False, True, True, True, False, False]


def test_breadth_counts_topics_of_disclosing_utterances_only() -> None:
    topics = ["emotions;religion", "school_work", "", "", "money_property", ""]  # rows 1 and 5 do not disclose
    assert reciprocity.analyze(_coded(topics=topics), use_codes=True).conversations["breadth"].tolist() == [1]


def test_derived_layer_is_zero_without_disclosure_and_rounds_half_up() -> None:
    from reciprocity.measure import prepare_codes

    coded = prepare_codes(_coded(depth=[0, 0.4, 0.6, 2.5, 1.5, 0]).drop(columns="disclosure"))
    assert coded["disclosure"].tolist() == [False, True, True, True, True, False]
    assert coded["layer"].tolist() == [0, 1, 1, 3, 2, 0]


def test_integer_and_string_ids_of_one_conversation_are_checked_together() -> None:
    table = pd.concat([_coded(conversation_id=1), _coded(conversation_id="1")], ignore_index=True)
    with pytest.raises(InputError, match="row 7, field 'turn': turn repeated within its conversation"):
        reciprocity.analyze(table, use_codes=True)


def test_mixed_type_metadata_survives_save(tmp_path: Path) -> None:
    rows = [dict(conversation_id="c", speaker="AB"[i % 2], turn=i, text="hi", disclosure=1, depth=1, meta=m)
            for i, m in enumerate([1, "two", 3.5, None])]
    (tmp_path / "m.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    result = reciprocity.analyze(reciprocity.read(tmp_path / "m.jsonl"), use_codes=True)
    result.save(tmp_path / "out")
    assert pd.read_parquet(tmp_path / "out" / "utterances.parquet")["meta"].tolist() == ["1", "two", "3.5", None]


@pytest.mark.parametrize("reply_to, message", [
    ([None, "u1", "u3"], "row 3, field 'reply_to': reply_to points to the utterance itself"),
    ([None, "u3", "u1"], "row 2, field 'reply_to': reply_to points to a later (or the same) turn"),
])
def test_replies_must_point_back_in_time(reply_to, message) -> None:
    table = pd.DataFrame({"id": ["u1", "u2", "u3"], "conversation_id": ["c"] * 3, "speaker": list("ABC"),
                          "turn": [1, 2, 3], "text": ["a", "b", "c"], "depth": [0, 1, 2.0]})
    assert len(reciprocity.analyze(table.assign(reply_to=[None, "u1", "u2"]), use_codes=True).utterances) == 3
    with pytest.raises(InputError, match=re.escape(message)):
        reciprocity.analyze(table.assign(reply_to=reply_to), use_codes=True)


def test_p_values_are_nan_when_every_null_draw_ties() -> None:
    rows = [{"conversation_id": f"c{c}", "speaker": "AB"[t % 2], "turn": t, "text": "x", "disclosure": True,
             "depth": 3.0} for c in range(4) for t in range(12)]
    result = reciprocity.analyze(pd.DataFrame(rows), use_codes=True, n_permutations=50, seed=0)
    for column in ("conditional_reciprocity_p", "lagged_matching_p"):
        assert result.conversations[column].isna().all(), column  # no evidence either way, not a random p
    assert result.speakers["conditional_reciprocity_p"].isna().all()


def test_a_reply_to_a_later_row_is_rejected_without_a_turn_column() -> None:
    table = pd.DataFrame({"id": ["u1", "u2", "u3"], "conversation_id": ["c"] * 3, "speaker": list("ABC"),
                          "text": ["a", "b", "c"], "depth": [0, 1, 2.0], "reply_to": ["u3", None, "u2"]})
    with pytest.raises(InputError, match=re.escape("row 1, field 'reply_to': reply_to points to a later (or the same) turn")):
        reciprocity.analyze(table, use_codes=True)


def test_detect_on_a_table_hints_at_text_column() -> None:
    with pytest.raises(ValueError, match="pass text_column='post'"):
        reciprocity.detect(pd.DataFrame({"post": ["hi"]}), "post")


def test_analyze_keeps_own_codes_and_refuses_a_taken_input_name() -> None:
    table = pd.DataFrame({"conversation_id": ["c"] * 4, "speaker": list("ABAB"), "text": ["I am sad", "me too", "ok", "fine"],
                          "disclosure": [1, 1, 0, 0]})
    result = reciprocity.analyze(table)
    assert result.utterances.columns.is_unique and result.utterances["input_disclosure"].tolist() == [1, 1, 0, 0]
    with pytest.raises(InputError, match="field 'input_disclosure'"):
        reciprocity.analyze(table.assign(input_disclosure=1))
