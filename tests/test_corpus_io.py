"""Readers/writers of the utterance table: round trips, clear errors, nothing silently dropped."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reciprocity.corpus import compact, read, validate, write
from reciprocity.errors import InputError

FORMATS = ["x.csv", "x.jsonl", "x.parquet", "corpus_dir"]


def _csv(tmp_path: Path, body: str, name: str = "in.csv") -> Path:
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return path


# --- round trips -----------------------------------------------------------------------------

identifier = st.text(alphabet=st.characters(categories=["L", "N"]), min_size=1, max_size=8)
utterance_text = st.text(min_size=1, max_size=40).filter(lambda s: s.strip() != "" and "\x00" not in s)


@st.composite
def tables(draw: st.DrawFn) -> pd.DataFrame:
    conversations = draw(st.lists(identifier, min_size=1, max_size=4, unique=True))
    rows = []
    for conversation in conversations:
        speakers = draw(st.lists(identifier, min_size=1, max_size=3, unique=True))
        for turn in range(draw(st.integers(1, 6))):
            rows.append({
                "conversation_id": conversation,
                "speaker": draw(st.sampled_from(speakers)),
                "text": draw(utterance_text),
                "score": draw(st.integers(-5, 5)),
            })
    return validate(pd.DataFrame(rows))


@pytest.mark.parametrize("name", FORMATS)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(table=tables())
def test_round_trip_preserves_every_row(tmp_path: Path, name: str, table: pd.DataFrame) -> None:
    path = write(table, tmp_path / name)
    back = read(path)
    pd.testing.assert_frame_equal(back, compact(table), check_like=False)  # read returns the compact form


def test_round_trip_keeps_topic_lists_and_reply_edges(tmp_path: Path) -> None:
    table = validate(pd.DataFrame({
        "id": ["u1", "u2", "u3"],
        "conversation_id": ["g", "g", "g"],
        "speaker": ["ann", "bob", "cy"],
        "text": ["I love hiking.", "Me too!", "NA"],
        "reply_to": [None, "u1", "u1"],
        "topics": ["interests_hobbies_habits", "interests_hobbies_habits;emotions", ""],
    }))
    assert table["topics"].tolist() == [["interests_hobbies_habits"], ["interests_hobbies_habits", "emotions"], []]
    for name in FORMATS:
        back = read(write(table, tmp_path / name))
        assert back["topics"].tolist() == table["topics"].tolist(), name
        assert back["reply_to"].tolist()[1:] == ["u1", "u1"], name
        assert back.loc[2, "text"] == "NA", name  # the string "NA" is text, not a missing value


def test_convokit_reader_accepts_newer_meta_layout(tmp_path: Path) -> None:
    corpus = tmp_path / "ck"
    corpus.mkdir()
    utterances = [
        {"id": "1", "speaker": "a", "conversation_id": "1", "reply_to": None, "timestamp": 10, "text": "hi", "meta": {"x": 1}},
        {"id": "2", "speaker": "b", "conversation_id": "1", "reply_to": "1", "timestamp": 11, "text": "hello", "meta": {"x": 2}},
    ]
    (corpus / "utterances.jsonl").write_text("\n".join(json.dumps(u) for u in utterances))
    (corpus / "speakers.json").write_text(json.dumps({"a": {"meta": {"age": 30}, "vectors": []}, "b": {"meta": {"age": 41}, "vectors": []}}))
    (corpus / "conversations.json").write_text(json.dumps({"1": {"meta": {"topic": "x"}, "vectors": []}}))
    table = read(corpus)
    assert table["speaker.age"].tolist() == [30, 41]
    assert table["conversation.topic"].tolist() == ["x", "x"]
    assert table["reply_to"].tolist()[1] == "1"
    assert table["x"].tolist() == [1, 2]


def test_turn_column_orders_rows_and_file_order_is_default(tmp_path: Path) -> None:
    path = _csv(tmp_path, "conversation_id,speaker,text,turn\na,x,second,2\na,y,first,1\nb,x,only,0\n")
    assert read(path)["text"].tolist() == ["first", "second", "only"]
    path = _csv(tmp_path, "conversation_id,speaker,text\na,x,one\nb,x,other\na,y,two\n", "noturn.csv")
    table = read(path)
    assert table["turn"].tolist() == [0, 1, 0]
    assert table["conversation_id"].tolist() == ["a", "a", "b"]


# --- bad input -------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("conversation_id,text\na,hi\n", ["in.csv", "header", "speaker", "missing required column"]),
        ("conversation_id,speaker,text\na,x,hi\na,y,   \n", ["in.csv", "line 3", "'text'", "empty text"]),
        ("id,conversation_id,speaker,text\n1,a,x,hi\n1,a,y,yo\n", ["line 3", "'id'", "duplicate id"]),
        ("id,conversation_id,speaker,text,reply_to\n1,a,x,hi,\n2,a,y,yo,9\n", ["line 3", "'reply_to'", "points to no"]),
        ("conversation_id,speaker,text,turn\na,x,hi,1\na,y,yo,one\n", ["line 3", "'turn'", "integer"]),
        ('conversation_id,speaker,text\na,x,"two\nlines"\na,,yo\n', ["line 4", "'speaker'", "empty value"]),
        ("conversation_id,speaker,text\na,x,hi\na,y,yo,extra\n", ["line 3", "expected 3 fields, found 4"]),
    ],
)
def test_bad_csv_names_file_line_and_field(tmp_path: Path, body: str, expected: list[str]) -> None:
    with pytest.raises(InputError) as caught:
        read(_csv(tmp_path, body))
    for fragment in expected:
        assert fragment in str(caught.value)


def test_undecodable_bytes_are_located(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes("conversation_id,speaker,text\na,x,ok\na,y,caf".encode() + b"\xe9\n")
    with pytest.raises(InputError, match=r"latin.csv, line 3, field 'text': undecodable"):
        read(path)
    table = read(path, skip_invalid=True)
    assert table["text"].tolist() == ["ok"]
    assert [str(p) for p in table.attrs["skipped"]] == [f"{path}, line 3, field 'text': undecodable bytes (not UTF-8) at byte 43"]


def test_malformed_json_line_is_located(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text('{"conversation_id": "a", "speaker": "x", "text": "hi"}\n{"conversation_id": "a", "speaker": \n[1, 2]\n')
    with pytest.raises(InputError, match=r"in.jsonl, line 2: malformed JSON"):
        read(path)
    table = read(path, skip_invalid=True)
    assert len(table) == 1
    assert [p.location for p in table.attrs["skipped"]] == ["line 2", "line 3"]


def test_json_object_or_list_as_text_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text('{"conversation_id": "a", "speaker": "x", "text": "hi"}\n'
                    '{"conversation_id": "a", "speaker": "y", "text": {"a": 1}}\n'
                    '{"conversation_id": "a", "speaker": ["y"], "text": "ok"}\n')
    with pytest.raises(InputError, match=r"in.jsonl, line 2, field 'text': expected a string or number, found an object"):
        read(path)
    table = read(path, skip_invalid=True)
    assert table["text"].tolist() == ["hi"]
    assert [str(p).split(", ", 1)[1] for p in table.attrs["skipped"]] == [
        "line 2, field 'text': expected a string or number, found an object",
        "line 3, field 'speaker': expected a string or number, found a list"]


def test_skip_invalid_reports_every_skipped_row(tmp_path: Path) -> None:
    body = "id,conversation_id,speaker,text,reply_to\n1,a,x,hi,\n2,a,y,,1\n3,a,x,back,2\n4,a,y,fine,1\n1,a,y,dup,\n"
    table = read(_csv(tmp_path, body), skip_invalid=True)
    assert table["id"].tolist() == ["1", "4"]
    reported = [(p.location, p.field) for p in table.attrs["skipped"]]
    # row 2 has empty text; row 3 replies to it and is dropped as dangling; the duplicate id too.
    assert reported == [("line 3", "text"), ("line 4", "reply_to"), ("line 6", "id")]
    assert len(table) + len(reported) == 5


def test_without_skip_every_problem_is_listed(tmp_path: Path) -> None:
    body = "conversation_id,speaker,text\na,,hi\na,y,\n"
    with pytest.raises(InputError) as caught:
        read(_csv(tmp_path, body))
    assert len(caught.value.problems) == 2
    assert "and 1 more problem" in str(caught.value)


def test_unknown_suffix_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot tell the format"):
        read(_csv(tmp_path, "x", "data.txt"))
    with pytest.raises(InputError, match="no such file"):
        read(tmp_path / "absent.csv")


@settings(max_examples=50, deadline=None)
@given(body=st.binary(max_size=200))
def test_arbitrary_bytes_never_crash_the_csv_reader(tmp_path_factory: pytest.TempPathFactory, body: bytes) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "f.csv"
    path.write_bytes(b"conversation_id,speaker,text\n" + body)
    try:
        table = read(path, skip_invalid=True)
    except InputError:
        return
    assert set(table.columns) >= {"conversation_id", "speaker", "text", "id", "turn"}


# --- compact in-memory form ------------------------------------------------------------------

def _plain_table() -> pd.DataFrame:
    return pd.DataFrame({
        "conversation_id": ["c1", "c1", "c1", "c2", "c2"],
        "speaker": ["a", "b", "a", "x", "y"],
        "text": ["hello there", "hi", "how are you", "yo", "hey"],
        "topics": [["emotions"], [], ["emotions"], [], ["school_work", "emotions"]],
        "disclosure": [True, False, True, False, True],
        "depth": [1.0, 0.0, 1.5, 0.0, 2.0],
        "layer": [1, 0, 2, 0, 2],
    })


def test_compact_keeps_values_and_shrinks_representation() -> None:
    from reciprocity.corpus.compact import STRING_DTYPE

    table = _plain_table()
    table.attrs["note"] = "kept"
    lean = compact(table)
    assert list(lean.columns) == list(table.columns)
    assert lean.attrs["note"] == "kept"
    assert lean["text"].dtype == STRING_DTYPE and lean["text"].tolist() == table["text"].tolist()
    assert lean["conversation_id"].dtype == object and lean["conversation_id"].tolist() == table["conversation_id"].tolist()
    ids = lean["conversation_id"].to_numpy()
    assert ids[0] is ids[1] is ids[2]                       # equal strings share one object
    assert lean["topics"].tolist() == table["topics"].tolist()
    assert lean["topics"].iloc[0] is lean["topics"].iloc[2]  # equal topic lists share one list
    assert lean["layer"].dtype == np.int8 and lean["layer"].tolist() == table["layer"].tolist()
    assert lean["depth"].dtype == np.float64
    again = compact(lean)
    pd.testing.assert_frame_equal(again, lean)
    assert table["text"].dtype == object                    # the input is not modified


def test_compact_accepts_categoricals_and_missing_values() -> None:
    table = _plain_table()
    table["conversation_id"] = table["conversation_id"].astype("category")
    table["text"] = pd.Series(["a", None, "b", "c", "d"], dtype=object)
    lean = compact(table)
    assert lean["conversation_id"].dtype == object
    assert lean["conversation_id"].tolist() == ["c1", "c1", "c1", "c2", "c2"]
    assert lean["text"].isna().tolist() == [False, True, False, False, False]
    numeric = table.assign(speaker=pd.Categorical([7, 8, 7, None, 8]))  # non-string categories keep their values
    assert compact(numeric)["speaker"].tolist() == [7, 8, 7, None, 8]


def test_validate_preserves_compact_dtypes_and_names_blank_text() -> None:
    from reciprocity.corpus.compact import STRING_DTYPE

    lean = compact(_plain_table())
    table = validate(lean)
    assert table["text"].dtype == STRING_DTYPE and table["id"].dtype == STRING_DTYPE
    assert table["id"].tolist() == ["c1:0", "c1:1", "c1:2", "c2:0", "c2:1"]
    assert table["layer"].dtype == np.int8
    blank = compact(_plain_table().assign(text=["ok", "  ", "\u3000", "fine", "\x1c"]))
    with pytest.raises(InputError) as error:
        validate(blank, "mem.csv")
    assert [(p.location, p.field, p.message) for p in error.value.problems] == [
        ("row 2", "text", "empty text"), ("row 3", "text", "empty text"), ("row 5", "text", "empty text")]


def test_read_returns_compact_tables(tmp_path: Path) -> None:
    from reciprocity.corpus.compact import STRING_DTYPE

    path = _csv(tmp_path, 'conversation_id,speaker,text\nc,a,"hi, you"\nc,b,yes\n')
    table = read(path)
    assert table["text"].dtype == STRING_DTYPE and table["text"].tolist() == ["hi, you", "yes"]
    assert table["conversation_id"].dtype == object


def test_topics_parsed_once_per_distinct_value_and_shared() -> None:
    from reciprocity.corpus.validate import parse_topics

    text = pd.Series(["a; b", None, "a; b", "", "c", np.nan, pd.NA, "c"], dtype=object)
    parsed = parse_topics(text)
    assert parsed.tolist() == [["a", "b"], [], ["a", "b"], [], ["c"], [], [], ["c"]]
    assert parsed.iloc[0] is parsed.iloc[2] and parsed.iloc[4] is parsed.iloc[7]     # same text, one list
    mixed = pd.Series([("x", 1), "y;z", None, ["w"], 7], dtype=object)             # not all text: row by row
    assert parse_topics(mixed).tolist() == [["x", "1"], ["y", "z"], [], ["w"], ["7"]]
    shared = compact(pd.DataFrame({"conversation_id": "c", "speaker": "A", "text": "t",
                                   "topics": [["p", "q"], ["p", "q"], ["r"], parsed.iloc[4]]}))["topics"]
    assert shared.iloc[0] is shared.iloc[1] and shared.tolist() == [["p", "q"], ["p", "q"], ["r"], ["c"]]


def test_every_problem_of_a_file_is_reported_in_line_order(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("conversation_id,speaker,text\na,x,hello\na,,hi\na,x,hi,extra\na,y,ok\n")
    with pytest.raises(InputError) as caught:
        read(path)
    expected = [f"{path}, line 3, field 'speaker': empty value", f"{path}, line 4: expected 3 fields, found 4"]
    assert [str(p) for p in caught.value.problems] == expected
    assert str(caught.value) == expected[0] + " (and 1 more problem)"
    table = read(path, skip_invalid=True)
    assert table["text"].tolist() == ["hello", "ok"] and [str(p) for p in table.attrs["skipped"]] == expected


def test_lines_after_an_undecodable_line_keep_their_numbers(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_bytes(b"conversation_id,speaker,text\nc1,A,hello\nc1,B,bad \xff byte\nc1,A,\nc1,B,ok\n")
    with pytest.raises(InputError) as caught:
        read(path)
    assert [p.location for p in caught.value.problems] == ["line 3", "line 4"]
    table = read(path, skip_invalid=True)
    assert list(table.attrs["locations"]) == ["line 2", "line 5"] and table["text"].tolist() == ["hello", "ok"]


def test_malformed_records_are_reported_before_a_header_error(tmp_path: Path) -> None:
    path = tmp_path / "b.jsonl"
    path.write_text("{bad\n{bad2\n")
    with pytest.raises(InputError) as caught:
        read(path)
    assert [p.location for p in caught.value.problems] == ["line 1", "line 2", "header"]
    assert str(caught.value).startswith(f"{path}, line 1: malformed JSON")


def test_reader_problems_are_in_line_order(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    path.write_bytes(b'{"conversation_id":"c","speaker":"A","text":"hi"}\n'
                     b'{"conversation_id":"c","speaker":"B","text":{"x":1}}\n'
                     b'{"conversation_id":"c","speaker":"A","text":"b\xff"}\n')
    with pytest.raises(InputError) as caught:
        read(path)
    assert [p.location for p in caught.value.problems] == ["line 2", "line 3"]


def test_an_extra_field_in_the_first_data_row_shifts_nothing(tmp_path: Path) -> None:
    path = tmp_path / "rag.csv"
    path.write_text("conversation_id,speaker,text\nc1,A,hello,extra\nc1,B,ok\nc1,A,fine\n")
    with pytest.raises(InputError, match="rag.csv, line 2: expected 3 fields, found 4"):
        read(path)
    table = read(path, skip_invalid=True)
    assert table[["conversation_id", "speaker", "text"]].values.tolist() == [["c1", "B", "ok"], ["c1", "A", "fine"]]
