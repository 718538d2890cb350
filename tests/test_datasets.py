"""Tests for the dataset adapters (reciprocity.datasets).

Fixture tests write tiny corpora to tmp_path and run on a clean clone; the real-corpus tests read the shared data
folder ($RECIPROCITY_DATA, else ../shared/data next to the repository) and skip when the files are absent.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

from reciprocity.datasets import (
    DATASETS,
    default_data_dir,
    load_casino,
    load_dailydialog,
    load_dataset,
    load_esconv,
    load_persuasionforgood,
    load_topical_chat,
)
from reciprocity.errors import InputError

REQUIRED = ["dataset", "conversation_id", "id", "turn", "speaker", "text", "reply_to", "empty_text"]


def _shared_data() -> Path:
    env = os.environ.get("RECIPROCITY_DATA", "").strip()
    if env:
        return Path(env)
    return (Path(__file__).resolve().parents[1] / ".." / "shared" / "data").resolve()


DATA = _shared_data()


def _need(*relpaths: str) -> Path:
    for rel in relpaths:
        if not (DATA / rel).is_file():
            pytest.skip(f"shared data file absent: {DATA / rel}")
    return DATA


def check_table(df: pd.DataFrame, dataset: str) -> None:
    """Invariants every adapter's output must satisfy."""
    for col in REQUIRED:
        assert col in df.columns, col
    for col in ("conversation_id", "speaker", "text", "id", "dataset"):
        assert df[col].notna().all(), col
        assert df[col].map(type).eq(str).all(), col
    assert (df["dataset"] == dataset).all()
    assert df["id"].is_unique
    assert df["turn"].dtype == "int64"
    # turn is 0, 1, 2, ... within each conversation, in row order
    expected = df.groupby("conversation_id", sort=False).cumcount()
    assert (df["turn"].to_numpy() == expected.to_numpy()).all()
    # reply_to is the previous utterance's id, NA at turn 0
    first = df["turn"] == 0
    assert df.loc[first, "reply_to"].isna().all()
    prev = df.groupby("conversation_id", sort=False)["id"].shift(1)
    assert (df.loc[~first, "reply_to"] == prev[~first]).all()
    assert df["empty_text"].dtype == bool
    assert (df["empty_text"] == df["text"].str.strip().eq("")).all()


# --------------------------------------------------------------------------- default_data_dir / registry


def test_default_data_dir_env(monkeypatch, tmp_path):
    monkeypatch.setenv("RECIPROCITY_DATA", str(tmp_path))
    assert default_data_dir() == tmp_path


def test_default_data_dir_relative_to_cwd(monkeypatch, tmp_path):
    monkeypatch.delenv("RECIPROCITY_DATA", raising=False)
    work = tmp_path / "proj"
    work.mkdir()
    monkeypatch.chdir(work)
    assert default_data_dir() == (tmp_path / "shared" / "data").resolve()


def test_missing_file_names_exact_path(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        load_esconv(tmp_path)
    assert str(tmp_path / "esconv" / "valid.jsonl") in str(info.value)
    with pytest.raises(FileNotFoundError, match="casino_valid.json"):
        load_casino(tmp_path, splits=["valid"])


def test_registry_and_dispatch(tmp_path):
    assert set(DATASETS) == {"esconv", "casino", "persuasionforgood", "topical_chat", "dailydialog"}
    with pytest.raises(ValueError, match="unknown dataset"):
        load_dataset("nope", tmp_path)
    with pytest.raises(FileNotFoundError):
        load_dataset("Topical-Chat", tmp_path)
    with pytest.raises(ValueError, match="unknown split"):
        load_dailydialog(tmp_path, splits=["train"])


# --------------------------------------------------------------------------- tiny fixtures (no shared data needed)


def _esconv_dialogue(**over):
    d = {
        "emotion_type": "anxiety",
        "problem_type": "job crisis",
        "situation": "I lost my job.",
        "init_intensity": 5,
        "final_intensity": 2,
        "dialog": [
            {"text": "Hi, how can I help?", "speaker": "sys", "strategy": "Question", "all_strategy": ["Question"]},
            {"text": " I lost my job and I'm scared. ", "speaker": "usr", "vad": [0.1, 0.2, 0.3], "cause": "x", "feedback": None},
            {"text": "I was laid off once too.", "speaker": "sys", "strategy": "Self-disclosure",
             "all_strategy": ["Self-disclosure", "Affirmation and Reassurance"]},
            {"text": "", "speaker": "usr", "feedback": "4"},
        ],
    }
    d.update(over)
    return d


def test_esconv_fixture(tmp_path):
    (tmp_path / "esconv").mkdir()
    lines = [json.dumps(_esconv_dialogue()), "", json.dumps(_esconv_dialogue(init_intensity=3, final_intensity=3))]
    (tmp_path / "esconv" / "valid.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    df = load_esconv(tmp_path)
    check_table(df, "esconv")
    assert len(df) == 8 and df["conversation_id"].nunique() == 2
    assert list(df["conversation_id"].unique()) == ["esconv-1", "esconv-3"]
    assert list(df["role"].iloc[:4]) == ["supporter", "seeker", "supporter", "seeker"]
    assert df["text"].iloc[1] == "I lost my job and I'm scared."
    assert df["strategy"].iloc[2] == "Self-disclosure"
    assert df["all_strategies"].iloc[2] == "Self-disclosure;Affirmation and Reassurance"
    assert pd.isna(df["strategy"].iloc[1])
    assert df["feedback"].iloc[3] == 4 and pd.isna(df["feedback"].iloc[1])
    assert bool(df["empty_text"].iloc[3])  # kept and flagged, not dropped
    assert list(df.groupby("conversation_id")["distress_drop"].first()) == [3, 0]
    assert "vad" not in df.columns and "cause" not in df.columns


def test_esconv_bad_json_line_names_file_and_line(tmp_path):
    (tmp_path / "esconv").mkdir()
    path = tmp_path / "esconv" / "valid.jsonl"
    path.write_text(json.dumps(_esconv_dialogue()) + "\n" + '{"dialog": [\n', encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_esconv(tmp_path)
    msg = str(info.value)
    assert str(path) in msg and "line 2" in msg and "invalid JSON" in msg


def test_esconv_bad_speaker_names_field(tmp_path):
    (tmp_path / "esconv").mkdir()
    bad = _esconv_dialogue()
    bad["dialog"][1]["speaker"] = "bot"
    (tmp_path / "esconv" / "valid.jsonl").write_text(json.dumps(bad) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_esconv(tmp_path)
    (problem,) = info.value.problems
    assert problem.location == "line 1" and problem.field == "dialog[1].speaker"


def _dd_write(folder: Path, split: str, text: list[str], act: list[str], emo: list[str]) -> None:
    folder.mkdir(exist_ok=True)
    (folder / f"dialogues_{split}.txt").write_text("\n".join(text) + "\n", encoding="utf-8")
    (folder / f"dialogues_act_{split}.txt").write_text("\n".join(act) + "\n", encoding="utf-8")
    (folder / f"dialogues_emotion_{split}.txt").write_text("\n".join(emo) + "\n", encoding="utf-8")


def test_dailydialog_fixture(tmp_path):
    folder = tmp_path / "dailydialog"
    _dd_write(
        folder,
        "validation",
        ["Hi . __eou__ Hello ! __eou__ How are you ? __eou__", "Bye . __eou__  __eou__"],
        ["2 1 2 ", "4 1 "],
        ["0 4 0 ", "5 0 "],
    )
    df = load_dailydialog(tmp_path, splits="valid")
    check_table(df, "dailydialog")
    assert len(df) == 5
    assert list(df["speaker"]) == ["A", "B", "A", "A", "B"]
    assert list(df["act"]) == ["question", "inform", "question", "commissive", "inform"]
    assert list(df["emotion"]) == ["no emotion", "happiness", "no emotion", "sadness", "no emotion"]
    assert list(df["conversation_id"].unique()) == ["validation-1", "validation-2"]
    assert list(df["empty_text"]) == [False, False, False, False, True]


def test_dailydialog_mismatched_act_count_names_file_and_line(tmp_path):
    folder = tmp_path / "dailydialog"
    _dd_write(
        folder,
        "test",
        ["Hi . __eou__ Hello ! __eou__", "A . __eou__ B . __eou__ C . __eou__"],
        ["2 1", "1 1"],  # line 2: 2 acts for 3 turns
        ["0 0", "0 0 0"],
    )
    with pytest.raises(InputError) as info:
        load_dailydialog(tmp_path, splits=["test"])
    msg = str(info.value)
    assert str(folder / "dialogues_act_test.txt") in msg
    assert "line 2" in msg and "field 'act'" in msg
    (problem,) = info.value.problems
    assert problem.location == "line 2" and problem.field == "act"


def test_dailydialog_line_count_and_code_errors(tmp_path):
    folder = tmp_path / "dailydialog"
    _dd_write(folder, "test", ["Hi . __eou__", "Yo . __eou__"], ["2"], ["9", "x"])
    with pytest.raises(InputError) as info:
        load_dailydialog(tmp_path, splits="test")
    assert info.value.problems[0].source.endswith("dialogues_act_test.txt")
    assert info.value.problems[0].location == "line 2"
    _dd_write(folder, "test", ["Hi . __eou__", "Yo . __eou__"], ["2", "7"], ["9", "x"])
    with pytest.raises(InputError) as info:
        load_dailydialog(tmp_path, splits="test")
    where = {(p.source.rsplit("/", 1)[-1], p.location, p.field) for p in info.value.problems}
    assert ("dialogues_act_test.txt", "line 2", "act") in where
    assert ("dialogues_emotion_test.txt", "line 1", "emotion") in where
    assert ("dialogues_emotion_test.txt", "line 2", "emotion") in where


def _casino_participant(points, sat, like):
    return {
        "value2issue": {"High": "Water", "Medium": "Food", "Low": "Firewood"},
        "value2reason": {"High": "thirsty", "Medium": "hungry", "Low": "warm"},
        "outcomes": {"points_scored": points, "satisfaction": sat, "opponent_likeness": like},
        "demographics": {"age": 30, "gender": "female", "ethnicity": "x", "education": "y"},
        "personality": {"svo": "prosocial", "big-five": {"extraversion": 4.0, "agreeableness": 5.0,
                        "conscientiousness": 3.0, "emotional-stability": 2.5, "openness-to-experiences": 6.0}},
    }


def test_casino_fixture(tmp_path):
    folder = tmp_path / "casino"
    folder.mkdir()
    logs = [
        {"text": "Hello!", "task_data": {}, "id": "mturk_agent_1"},
        {"text": "Hi, I need water for my kids.", "task_data": {}, "id": "mturk_agent_2"},
        {"text": "Sure, take it.", "task_data": {}, "id": "mturk_agent_1"},
        {"text": "Submit-Deal", "task_data": {"issue2youget": {"Water": "3"}, "issue2theyget": {"Water": "0"}}, "id": "mturk_agent_2"},
        {"text": "Accept-Deal", "task_data": {"data": "accept_deal"}, "id": "mturk_agent_1"},
    ]
    dialogue = {
        "dialogue_id": 7,
        "chat_logs": logs,
        "participant_info": {
            "mturk_agent_1": _casino_participant(20, "Slightly satisfied", "Extremely like"),
            "mturk_agent_2": _casino_participant(23, "Extremely satisfied", "Slightly dislike"),
        },
        # the middle utterance has no annotation (as in a few real dialogues)
        "annotations": [["Hello!", "small-talk"], ["Sure, take it.", "promote-coordination,other-need"]],
    }
    plain = dict(dialogue, dialogue_id=8, annotations=[])
    for split, dlgs in (("train", [dialogue]), ("valid", [plain]), ("test", [])):
        (folder / f"casino_{split}.json").write_text(json.dumps(dlgs), encoding="utf-8")
    df = load_casino(tmp_path)
    check_table(df, "casino")
    assert len(df) == 10
    one = df[df["conversation_id"] == "7"]
    assert list(one["is_deal_action"]) == [False, False, False, True, True]
    assert list(one["strategies"].fillna("-")) == ["small-talk", "-", "promote-coordination;other-need", "-", "-"]
    assert one["annotated"].all() and not df.loc[df["conversation_id"] == "8", "annotated"].any()
    a1 = one[one["speaker"] == "mturk_agent_1"].iloc[0]
    assert a1["outcome_opponent_likeness"] == "Extremely like" and a1["outcome_opponent_likeness_score"] == 5
    assert a1["partner_outcome_opponent_likeness_score"] == 2 and a1["outcome_satisfaction_score"] == 4
    assert a1["big5_openness_to_experiences"] == 6.0 and a1["priority_high"] == "Water"
    assert json.loads(one["deal_offer"].iloc[3])["issue2youget"] == {"Water": "3"}
    no_deals = load_casino(tmp_path, splits=["train"], include_deal_actions=False)
    assert len(no_deals) == 3 and not no_deals["is_deal_action"].any()
    check_table(no_deals, "casino")


def test_casino_bad_agent_names_dialogue_and_field(tmp_path):
    folder = tmp_path / "casino"
    folder.mkdir()
    bad = {"dialogue_id": 3, "chat_logs": [{"text": "hi", "task_data": {}, "id": "someone"}], "annotations": []}
    path = folder / "casino_valid.json"
    path.write_text(json.dumps([bad]), encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_casino(tmp_path, splits="valid")
    (problem,) = info.value.problems
    assert problem.source == str(path) and "dialogue 0" in problem.location and problem.field == "chat_logs[0].id"
    path.write_text("[{\n  \"dialogue_id\": 1,,\n}]", encoding="utf-8")
    with pytest.raises(InputError, match="line 2"):
        load_casino(tmp_path, splits="valid")


def test_topical_chat_fixture(tmp_path):
    folder = tmp_path / "topical_chat"
    folder.mkdir()
    conv = {
        "article_url": "u",
        "config": "A",
        "content": [
            {"message": "Do you like jazz?", "agent": "agent_1", "sentiment": "Curious to dive deeper",
             "knowledge_source": ["FS1", "Personal Knowledge"], "turn_rating": "Good"},
            {"message": "I play the sax.", "agent": "agent_2", "sentiment": "Happy",
             "knowledge_source": ["Personal Knowledge"], "turn_rating": ""},
        ],
        "conversation_rating": {"agent_1": "Excellent", "agent_2": "Passable"},
    }
    for name in ("valid_freq", "valid_rare", "test_freq", "test_rare"):
        (folder / f"{name}.json").write_text(json.dumps({f"t_{name}": conv}), encoding="utf-8")
    df = load_topical_chat(tmp_path, splits="valid")
    check_table(df, "topical_chat")
    assert len(df) == 4 and set(df["split"]) == {"valid_freq", "valid_rare"}
    assert df["knowledge_source"].iloc[0] == "FS1;Personal Knowledge" and df["personal_knowledge"].all()
    assert df["turn_rating_score"].iloc[0] == 4 and pd.isna(df["turn_rating"].iloc[1])
    assert list(df["conversation_rating"].iloc[:2]) == ["Excellent", "Passable"]
    assert list(df["partner_conversation_rating_score"].iloc[:2]) == [3, 5]
    assert len(load_topical_chat(tmp_path)) == 8


def test_topical_chat_missing_message_names_conversation(tmp_path):
    folder = tmp_path / "topical_chat"
    folder.mkdir()
    conv = {"content": [{"agent": "agent_1", "sentiment": "Neutral"}], "conversation_rating": {}}
    (folder / "test_rare.json").write_text(json.dumps({"t_x": conv}), encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_topical_chat(tmp_path, splits="test_rare")
    (problem,) = info.value.problems
    assert problem.location == "conversation t_x" and problem.field == "content[0].message"


def _p4g_fixture(folder: Path) -> None:
    folder.mkdir()
    (folder / "full_dialog.csv").write_text(
        ",Unit,Turn,B4,B2\n"
        "0,Hello there.,0,0,d1\n"
        "1,Hi!,0,1,d1\n"
        "2,Would you donate to Save the Children?,1,0,d1\n"
        "3,,1,1,d1\n",
        encoding="utf-8",
    )
    (folder / "full_info.csv").write_text(
        "B2,B3,B4,B6,B7,extrovert.x,age.x\n"
        "d1,user_1,0,0.0,2,3.2,30\n"
        "d1,user_2,1,0.5,2,4.0,41\n",
        encoding="utf-8",
    )
    (folder / "300_dialog.csv").write_text(
        ",B2,B4,Turn,Unit,er_label_1,ee_label_1,er_label_2,ee_label_2,neg,neu,pos\n"
        "0,d1,0,0,Hello.,greeting,,,,0,1,0\n"
        "1,d1,0,0,I have a daughter.,personal-story,,self-modeling,,0,1,0\n"
        "2,d1,1,0,Nice!,,positive-to-inquiry,,,0,0,1\n"
        "3,d1,0,1,Will you donate?,proposition-of-donation,,,,0,1,0\n"
        "4,d1,1,1,Yes 50 cents.,,provide-donation-amount,,,0,1,0\n"
        "5,d1,0,1,Great.,thank,,,,0,0,1\n",
        encoding="utf-8",
    )
    (folder / "300_info.csv").write_text(
        "B2,B3,B4,B5,B6,B7\nd1,user_1,0,,0.0,2\nd1,user_2,1,0.5,0.5,2\n", encoding="utf-8"
    )


def test_persuasionforgood_fixture(tmp_path):
    _p4g_fixture(tmp_path / "persuasionforgood")
    full = load_persuasionforgood(tmp_path)
    check_table(full, "persuasionforgood")
    assert list(full["role"]) == ["persuader", "persuadee"] * 2
    assert list(full["speaker"]) == ["user_1", "user_2"] * 2
    assert list(full["source_turn"]) == [0, 0, 1, 1]
    assert bool(full["empty_text"].iloc[3])  # empty Unit kept and flagged
    assert (full["persuadee_donation"] == 0.5).all()
    assert list(full["donation"]) == [0.0, 0.5, 0.0, 0.5]
    assert full["participant_extrovert"].iloc[1] == 4.0

    ann = load_persuasionforgood(tmp_path, annotated=True)
    check_table(ann, "persuasionforgood")
    # the persuader speaks twice in source turn 1 (file order kept): 5 utterances
    assert list(ann["role"]) == ["persuader", "persuadee", "persuader", "persuadee", "persuader"]
    assert ann["text"].iloc[0] == "Hello. I have a daughter."
    assert ann["strategies"].iloc[0] == "greeting;personal-story;self-modeling"
    assert ann["sentence_strategies"].iloc[0] == "greeting|personal-story"
    assert ann["strategies"].iloc[1] == "positive-to-inquiry"
    assert list(ann["n_sentences"]) == [2, 1, 1, 1, 1]
    assert (ann["persuadee_intended_donation"] == 0.5).all()
    assert ann["participant_age"].iloc[0] == 30  # traits joined from full_info.csv

    sent = load_persuasionforgood(tmp_path, annotated=True, unit="sentence")
    check_table(sent, "persuasionforgood")
    assert len(sent) == 6
    assert list(sent["utterance_index"]) == [0, 0, 1, 2, 3, 4]
    assert list(sent["sentence_index"]) == [0, 1, 0, 0, 0, 0]
    assert sent["strategy_2"].iloc[1] == "self-modeling"


def test_persuasionforgood_bad_role_names_row(tmp_path):
    folder = tmp_path / "persuasionforgood"
    _p4g_fixture(folder)
    (folder / "full_dialog.csv").write_text(",Unit,Turn,B4,B2\n0,Hi,0,0,d1\n1,Hey,0,2,d1\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_persuasionforgood(tmp_path)
    (problem,) = info.value.problems
    assert problem.source == str(folder / "full_dialog.csv")
    assert problem.location == "row 2 (line 3)" and problem.field == "B4"


# --------------------------------------------------------------------------- real corpora (skip when absent)


def test_real_esconv():
    data = _need("esconv/valid.jsonl")
    df = load_esconv(data)
    check_table(df, "esconv")
    assert df["conversation_id"].nunique() == 195
    assert 3000 < len(df) < 6000
    assert set(df["role"]) == {"seeker", "supporter"}
    sup = df[df["role"] == "supporter"]
    assert (sup["strategy"] == "Self-disclosure").sum() > 100
    assert sup["strategy"].notna().all()
    assert df.loc[df["role"] == "seeker", "strategy"].isna().all()
    assert df["feedback"].dropna().between(1, 5).all()
    conv = df.groupby("conversation_id").first()
    assert (conv["distress_drop"] == conv["init_intensity"] - conv["final_intensity"]).all()
    assert conv[["emotion_type", "problem_type"]].notna().all().all()


def test_real_casino():
    data = _need(*(f"casino/casino_{s}.json" for s in ("train", "valid", "test")))
    df = load_casino(data)
    check_table(df, "casino")
    assert df["conversation_id"].nunique() == 1030
    assert df.groupby("split")["conversation_id"].nunique().to_dict() == {"train": 900, "valid": 30, "test": 100}
    assert df.groupby("conversation_id")["annotated"].first().sum() == 396
    talk = df[df["annotated"] & ~df["is_deal_action"]]
    assert talk["strategies"].notna().mean() > 0.99
    assert talk["strategies"].str.contains("showing-empathy").any()
    assert df["is_deal_action"].sum() > 1000
    assert set(df.loc[df["is_deal_action"], "text"]) <= {"Submit-Deal", "Accept-Deal", "Reject-Deal", "Walk-Away"}
    for col in ("outcome_opponent_likeness", "outcome_satisfaction", "outcome_points_scored", "big5_extraversion",
                "partner_outcome_opponent_likeness_score"):
        assert col in df.columns and df[col].notna().mean() > 0.95, col
    # an outcome belongs to its speaker: constant per (conversation, speaker)
    assert df.groupby(["conversation_id", "speaker"])["outcome_opponent_likeness"].nunique(dropna=False).max() == 1


def test_real_persuasionforgood():
    data = _need("persuasionforgood/full_dialog.csv", "persuasionforgood/full_info.csv")
    df = load_persuasionforgood(data)
    check_table(df, "persuasionforgood")
    assert df["conversation_id"].nunique() == 1017
    assert len(df) == 20932
    assert set(df["role"]) == {"persuader", "persuadee"}
    assert df["persuadee_donation"].notna().all() and df["donation"].notna().all()
    assert df.groupby("conversation_id")["speaker"].nunique().eq(2).all()


def test_real_persuasionforgood_annotated():
    data = _need("persuasionforgood/300_dialog.csv", "persuasionforgood/300_info.csv")
    df = load_persuasionforgood(data, annotated=True)
    check_table(df, "persuasionforgood")
    assert df["conversation_id"].nunique() == 300
    for label in ("personal-story", "self-modeling", "personal-related-inquiry"):
        assert df["strategies"].str.contains(label, regex=False).any(), label
    sent = load_persuasionforgood(data, annotated=True, unit="sentence")
    assert len(sent) == 10864
    assert sent["n_turns"].notna().all()  # B7 is blank on some persuader rows; taken from the partner row
    assert sent["donation"].notna().all() and sent["persuadee_donation"].notna().all()


def test_real_topical_chat():
    data = _need(*(f"topical_chat/{s}.json" for s in ("valid_freq", "valid_rare", "test_freq", "test_rare")))
    df = load_topical_chat(data)
    check_table(df, "topical_chat")
    assert df["conversation_id"].nunique() == 2156
    assert len(df) == 46903
    assert df["sentiment"].notna().all()
    assert df["personal_knowledge"].mean() > 0.1
    assert df["turn_rating_score"].notna().mean() > 0.98
    assert df["conversation_rating_score"].notna().mean() > 0.98


def test_real_dailydialog():
    data = _need(*(f"dailydialog/dialogues{k}_{s}.txt" for k in ("", "_act", "_emotion") for s in ("validation", "test")))
    df = load_dailydialog(data)
    check_table(df, "dailydialog")
    assert df["conversation_id"].nunique() == 2000
    assert 14000 < len(df) < 18000
    assert df["act"].notna().all() and df["emotion"].notna().all()
    assert set(df["speaker"]) == {"A", "B"}


def test_load_dataset_dispatch_real():
    data = _need("esconv/valid.jsonl")
    assert load_dataset("ESConv", data).equals(load_esconv(data))
