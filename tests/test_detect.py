"""Tests for the fast-tier disclosure detector (reciprocity.detect).

They use the artefact bundled in the package and small in-test fixtures; tests that need the shared data folder
skip when it is absent.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reciprocity.detect import DisclosureDetector, detect, train_detector
from reciprocity.detect.calibration import choose_threshold, expected_calibration_error, macro_f1, platt_apply, platt_fit
from reciprocity.detect.features import FeatureConfig
from reciprocity.detect.model import ARTIFACT_DIR, DetectorConfig
from reciprocity.detect.text import split_sentences
from reciprocity.schema import CODE_COLUMNS, TOPICS

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"

from detect_fixtures import DISCLOSURE, FIXTURE, SMALL_TALK  # noqa: E402  (tests/ is on sys.path)

# Tiny depth/topic fixture (text, layer, topics), written for these tests.
DEPTH_FIXTURE = [
    ("The train was cancelled.", 0, []),
    ("What time is it?", 0, []),
    ("I'm a teacher in York.", 1, ["school_work", "biographical"]),
    ("I love swimming.", 1, ["interests_hobbies_habits"]),
    ("My brother and I haven't spoken since the funeral.", 2, ["parental_family", "relations_with_others"]),
    ("I think I'm too strict with my kids.", 2, ["marriage_family", "attitudes_values"]),
    ("I was diagnosed with anxiety and I'm scared all the time.", 3, ["physical_condition_appearance", "emotions"]),
    ("I've never told anyone that I hate myself.", 3, ["emotions"]),
] * 3

# THEORY.md §2 layer examples, in order.
THEORY_LAYERS = [
    ("The bus was late again.", 0),
    ("I'm a nurse in Leeds.", 1),
    ("I love hiking.", 1),
    ("My sister and I don't really talk since the wedding.", 2),
    ("I think I'm too hard on my students.", 2),
    ("I was diagnosed with depression last year.", 3),
    ("I've never told anyone, but I'm terrified I'm not a good father.", 3),
]

# Small hashing spaces keep the fit tests fast; the pipeline is the same.
SMALL = DetectorConfig(features=FeatureConfig(n_features_word=2**12, n_features_char=2**12), n_folds=3, n_features_small=2**10)


@pytest.fixture(scope="module")
def bundled() -> DisclosureDetector:
    return DisclosureDetector.load()


def test_columns_and_types(bundled):
    out = bundled.predict([SMALL_TALK, DISCLOSURE, "I'm a nurse in Leeds."])
    assert list(out.columns) == list(CODE_COLUMNS)
    assert len(out) == 3
    assert out["info_disclosure"].dtype == np.float64 and out["emo_disclosure"].dtype == np.float64
    assert out["disclosure"].dtype == bool
    assert out["depth"].dtype == np.float64
    assert np.issubdtype(out["layer"].dtype, np.integer)
    for topics in out["topics"]:
        assert isinstance(topics, list)
        assert set(topics) <= set(TOPICS)


def test_probability_and_depth_ranges(bundled):
    texts = [SMALL_TALK, DISCLOSURE, "", "I love hiking.", "My sister and I don't talk since the wedding."]
    out = bundled.predict(texts)
    for col in ("info_disclosure", "emo_disclosure"):
        assert ((out[col] >= 0) & (out[col] <= 1)).all()
    assert ((out["depth"] >= 0) & (out["depth"] <= 3)).all()
    assert out["layer"].isin([0, 1, 2, 3]).all()
    # layer 0 exactly when not a disclosure
    assert ((out["layer"] == 0) == ~out["disclosure"]).all()


def test_series_index_preserved_and_detect_function():
    s = pd.Series([SMALL_TALK, DISCLOSURE], index=["a", "b"])
    out = detect(s)
    assert list(out.index) == ["a", "b"]
    assert list(detect([SMALL_TALK]).index) == [0]


def test_deterministic(bundled):
    texts = [DISCLOSURE, SMALL_TALK, "I'm 24 and I just moved to Berlin for work."]
    a, b = bundled.predict(texts), DisclosureDetector.load().predict(texts)
    pd.testing.assert_frame_equal(a, b)


def test_disclosure_deeper_than_small_talk(bundled):
    out = bundled.predict([DISCLOSURE, SMALL_TALK])
    assert out["depth"].iloc[0] > out["depth"].iloc[1]
    assert bool(out["disclosure"].iloc[0])
    assert out["layer"].iloc[0] == 3
    assert "emotions" in out["topics"].iloc[0]


def test_topics_empty_for_non_disclosures(bundled):
    texts = [SMALL_TALK, "It's a book by Hemingway.", "What time is it?", "Are you ok?", DISCLOSURE]
    out = bundled.predict(texts)
    assert (out.loc[~out["disclosure"], "topics"].map(len) == 0).all()
    assert not out["disclosure"].iloc[0]


#: THEORY §2's taste example: since the fast tier is distilled from the accurate tier, short "I love X." sentences
#: get a high emotional-disclosure probability (OffMyChest's rubric counts mild positive feelings) and the depth
#: model codes them intermediate; a known deviation, listed in the model card's limitations.
TASTE_EXAMPLE = "I love hiking."


def test_theory_layer_examples(bundled):
    """THEORY §2: none < peripheral < intermediate < core, in depth and in layer (the taste example apart)."""
    texts, layers = zip(*THEORY_LAYERS)
    out = bundled.predict(list(texts))
    exact = np.asarray(texts) != TASTE_EXAMPLE
    assert out["layer"].to_numpy()[exact].tolist() == np.asarray(layers)[exact].tolist()
    d = out["depth"].to_numpy()
    by_layer = {k: d[np.asarray(layers) == k] for k in range(4)}
    for lo, hi in ((0, 1), (1, 2), (2, 3)):
        assert by_layer[lo].max() < by_layer[hi].min(), (lo, hi, d)
    assert d[0] < 0.5  # a non-disclosure is near 0


@pytest.mark.xfail(strict=True, reason="known deviation: the distilled fast tier codes 'I love hiking.' as layer 2")
def test_theory_taste_example_is_peripheral(bundled):
    assert bundled.predict([TASTE_EXAMPLE])["layer"].iloc[0] == 1


def test_non_disclosures_are_layer_zero_near_zero_depth(bundled):
    texts = ["The bus was late again.", "What are you most afraid of?", "Can you pass me the salt?",
             "The forecast says snow by the weekend.", "😀😀😀🎉", "Je suis très triste aujourd'hui."]
    out = bundled.predict(texts)
    assert (out["layer"] == 0).all() and not out["disclosure"].any()
    assert (out["depth"] < 0.5).all()
    assert (out["topics"].map(len) == 0).all()


def test_third_person_gossip_is_not_own_disclosure(bundled):
    out = bundled.predict(["He said he's been feeling really depressed lately."])
    assert out["layer"].iloc[0] == 0


def test_edge_inputs_do_not_crash(bundled):
    long = ("I went to the shop and bought some milk " * 2600)[:100_000]
    texts = ["", "   ", "😀😀😀🎉", "Je suis très triste aujourd'hui.", "我今天很难过。", long, None, "?!..."]
    out = bundled.predict(pd.Series(texts, dtype=object))
    assert len(out) == len(texts)
    assert out.loc[0, "info_disclosure"] == 0.0 and out.loc[0, "emo_disclosure"] == 0.0
    assert out.loc[0, "layer"] == 0 and out.loc[0, "depth"] == 0.0 and out.loc[0, "topics"] == []
    assert out.loc[6, "layer"] == 0
    assert np.isfinite(out[["info_disclosure", "emo_disclosure", "depth"]].to_numpy()).all()
    # empty-topic lists are distinct objects
    out.loc[0, "topics"].append("x")
    assert out.loc[1, "topics"] == []


def test_empty_batch(bundled):
    out = bundled.predict([])
    assert list(out.columns) == list(CODE_COLUMNS) and len(out) == 0


def test_long_utterance_aggregates_sentences(bundled):
    single = bundled.predict([DISCLOSURE + "."])
    combo = bundled.predict([SMALL_TALK + " " + DISCLOSURE + ". Anyway, see you tomorrow."])
    assert combo["depth"].iloc[0] == pytest.approx(single["depth"].iloc[0])  # max over sentences
    assert combo["layer"].iloc[0] == single["layer"].iloc[0]
    assert set(single["topics"].iloc[0]) <= set(combo["topics"].iloc[0])  # union of topics
    two = bundled.predict(["I love hiking. I was diagnosed with depression last year."])
    parts = bundled.predict(["I love hiking.", "I was diagnosed with depression last year."])
    assert two["layer"].iloc[0] == parts["layer"].max()
    assert set(two["topics"].iloc[0]) == set(parts["topics"].iloc[0]) | set(parts["topics"].iloc[1])


def test_sentence_splitter():
    sents = split_sentences(pd.Series(["Hi there. I'm 30! Are you?", "", "no punctuation here"]))
    assert sents["doc"].tolist() == [0, 0, 0, 2]
    assert sents["sentence"].tolist()[1] == "I'm 30!"


def test_save_load_roundtrip(tmp_path):
    texts, info, emo = zip(*FIXTURE)
    det = DisclosureDetector(SMALL, seed=3).fit(
        list(texts), info, emo, intimacy_texts=["How are you?", "Do you ever feel lonely?"] * 5,
        intimacy_scores=[-1.0, 1.0] * 5,
    )
    det.save(tmp_path)
    assert {p.name for p in tmp_path.iterdir()} == {"model.json", "model.npz"}
    meta = json.loads((tmp_path / "model.json").read_text())
    assert set(meta["thresholds"]) == {"info", "emo"}
    again = DisclosureDetector.load(tmp_path)
    probe = ["I'm a nurse in Leeds.", SMALL_TALK, "I feel so lonely."]
    pd.testing.assert_frame_equal(det.predict(probe), again.predict(probe))
    assert again.transform(probe).shape == (3, len(CODE_COLUMNS))


def _fit_with_depth(seed: int = 1) -> DisclosureDetector:
    texts, info, emo = zip(*FIXTURE)
    dt, dl, dtop = zip(*DEPTH_FIXTURE)
    return DisclosureDetector(SMALL, seed=seed).fit(
        list(texts), info, emo, intimacy_texts=["How are you?", "Do you ever feel lonely?"] * 5,
        intimacy_scores=[-1.0, 1.0] * 5, depth_texts=list(dt), depth_layers=dl, depth_topics=dtop,
    )


def test_fit_is_deterministic():
    texts, info, emo = zip(*FIXTURE)
    a = DisclosureDetector(SMALL, seed=1).fit(list(texts), info, emo)
    b = DisclosureDetector(SMALL, seed=1).fit(list(texts), info, emo)
    np.testing.assert_array_equal(a.weights_, b.weights_)
    assert a.thresholds_ == b.thresholds_
    c, d = _fit_with_depth(), _fit_with_depth()
    np.testing.assert_array_equal(c.depth_weights_, d.depth_weights_)
    np.testing.assert_array_equal(c.topic_weights_, d.topic_weights_)


def test_learned_depth_roundtrip_and_schema(tmp_path):
    det = _fit_with_depth()
    assert det.depth_weights_ is not None and det.depth_weights_.shape[1] == 3
    det.save(tmp_path)
    again = DisclosureDetector.load(tmp_path)
    probe = ["I'm a nurse in Leeds.", SMALL_TALK, "I feel so lonely.", ""]
    a, b = det.predict(probe), again.predict(probe)
    pd.testing.assert_frame_equal(a, b)
    assert list(a.columns) == list(CODE_COLUMNS)
    assert ((a["depth"] >= 0) & (a["depth"] <= 3)).all()
    assert ((a["layer"] == 0) == ~a["disclosure"]).all()
    assert (a.loc[~a["disclosure"], "topics"].map(len) == 0).all()


def test_ordinal_helpers():
    from reciprocity.detect.depth import ordinal_depth, ordinal_layer

    assert ordinal_depth(np.array([0.0, 1.0, 1.0, 1.0]), np.array([1.0, 0.0, 1.0, 1.0]), np.array([1.0, 0.0, 0.0, 1.0])).tolist() == [0, 1, 2, 3]
    assert ordinal_layer(np.array([0.4, 0.6, 0.6, 0.6]), np.array([0.9, 0.4, 0.6, 0.6]), np.array([0.9, 0.9, 0.4, 0.6])).tolist() == [0, 1, 2, 3]


def test_bundled_artifact_is_small_and_not_pickle():
    files = {p.name: p.stat().st_size for p in ARTIFACT_DIR.iterdir() if p.is_file()}
    assert "model.json" in files and "model.npz" in files
    assert sum(files.values()) < 40 * 2**20
    with np.load(ARTIFACT_DIR / "model.npz", allow_pickle=False) as z:
        assert z["weights"].dtype == np.float32


def test_loads_without_network(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    out = DisclosureDetector.load().predict([DISCLOSURE])
    assert out["disclosure"].iloc[0]


def test_calibration_helpers():
    rng = np.random.default_rng(0)
    s = rng.normal(size=4000)
    y = rng.random(4000) < 1 / (1 + np.exp(-2 * s))
    a, b = platt_fit(s, y)
    p = platt_apply(s, a, b)
    assert expected_calibration_error(y, p) < 0.05
    t, f1 = choose_threshold(y, p)
    assert f1 == pytest.approx(macro_f1(y, p >= t), abs=1e-9)


def test_train_detector_missing_data_names_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="offmychest"):
        train_detector(tmp_path / "nowhere", out_dir=tmp_path / "out")


@pytest.mark.skipif(not (SHARED / "offmychest" / "train.csv").is_file(), reason="shared data not present")
def test_bundled_artifact_matches_shared_data():
    from reciprocity.detect.data import data_hash

    meta = json.loads((ARTIFACT_DIR / "model.json").read_text())
    files = tuple(Path(p) for p in meta["metadata"]["training_files"])
    assert meta["metadata"]["training_data_sha256"] == data_hash(SHARED, files)


def test_bundled_artifact_matches_dev_set():
    import hashlib

    from reciprocity.detect.data import DEPTH_DEV

    meta = json.loads((ARTIFACT_DIR / "model.json").read_text())
    assert meta["format_version"] == 2 and meta["depth_intercepts"] is not None
    if DEPTH_DEV.is_file():
        assert meta["metadata"]["depth_dev_sha256"] == hashlib.sha256(DEPTH_DEV.read_bytes()).hexdigest()


def test_folded_small_block_equals_direct_hashing():
    """The depth/topic n-gram block folded from the word counts is the small hasher's matrix, bucket for bucket."""
    from reciprocity.detect.features import Featurizer, fold_binary, small_hasher

    texts = ["I'm so scared I'll lose my job!", "", "🙂🙂", "the bus the bus the bus was late?",
             "Mi hermana y yo no hablamos", "I I I love love hiking and hiking"] * 3
    feat = Featurizer().fit(texts)
    _, counts = feat.transform_with_word_counts(texts)
    folded = fold_binary(counts, 2**14)
    direct = small_hasher(2**14).transform(texts)
    assert folded.shape == direct.shape
    assert abs(folded - direct).max() < 1e-6
    with pytest.raises(ValueError, match="cannot fold"):
        fold_binary(counts, 3)


def test_char_counts_per_distinct_word_equal_sklearn_hashing():
    """The word-wise char_wb counts are exactly scikit-learn's HashingVectorizer counts."""
    from reciprocity.detect.features import Featurizer

    texts = ["I'm SO scared  I'll lose my job!", "", "🙂🙂 ok", "a\tb\nc  d", "Ünïcödé wörds and   spaces ",
             "x", "the the the", "Mi hermana y yo no hablamos"] * 2
    feat = Featurizer()
    direct = feat._char.transform(texts)
    wordwise = feat._char_counts(pd.Series(texts, dtype=object))
    assert wordwise.shape == direct.shape
    assert abs(wordwise - direct).max() == 0
    assert feat._char_counts(pd.Series([], dtype=object)).shape == (0, direct.shape[1])


def test_parallel_predict_equals_serial(bundled):
    """n_jobs > 1 scores chunks in worker processes and returns exactly the serial frame, index included."""
    texts = pd.Series(["I was diagnosed with depression last year.", "The bus was late again.", "I love hiking!",
                       "My sister and I don't talk since the wedding. I miss her."] * 300,
                      index=pd.RangeIndex(1000, 2200))
    serial = bundled.predict(texts)
    parallel = bundled.predict(texts, n_jobs=2)
    pd.testing.assert_frame_equal(parallel, serial)
    small = bundled.predict(list(texts[:10]), n_jobs=2)  # below the threshold: in-process
    pd.testing.assert_frame_equal(small, bundled.predict(list(texts[:10])))


def test_parallel_predict_uses_the_detector_in_memory_and_accepts_generators(bundled):
    """Workers score with the detector as changed in memory, and a one-pass iterable is not lost."""
    import copy

    det = copy.deepcopy(bundled)
    det.thresholds_ = {"info": 0.99, "emo": 0.99}  # nothing discloses any more
    texts = ["I was diagnosed with depression last year.", "I love hiking!", "The bus was late."] * 400
    parallel = det.predict(texts, n_jobs=2)
    pd.testing.assert_frame_equal(parallel, det.predict(texts))
    assert not parallel["disclosure"].any()
    few = det.predict((t for t in texts[:3]), n_jobs=2)  # generator, below the parallel threshold
    assert len(few) == 3 and list(few.index) == [0, 1, 2]
    many = bundled.predict((t for t in texts), n_jobs=2)  # generator, parallel
    pd.testing.assert_frame_equal(many, bundled.predict(texts))
