"""Tests for the accurate-tier disclosure detector (reciprocity.detect.accurate).

They use the bundled artefact (int8 ONNX encoder + heads) and skip cleanly when the optional runtime
(onnxruntime, tokenizers) or the artefact is absent. Nothing is downloaded.
"""

from __future__ import annotations

import importlib.util
import json
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reciprocity.schema import CODE_COLUMNS, TOPICS

HAVE_RUNTIME = all(importlib.util.find_spec(m) is not None for m in ("onnxruntime", "tokenizers"))

from reciprocity.detect.accurate import AccurateConfig, AccurateDetector  # noqa: E402  (imports without runtime)
from reciprocity.detect.accurate.model import ARTIFACT_DIR  # noqa: E402

HAVE_ARTIFACT = all((ARTIFACT_DIR / f).is_file() for f in ("encoder.int8.onnx", "tokenizer.json", "heads.npz", "heads.json"))
needs_runtime = pytest.mark.skipif(not HAVE_RUNTIME, reason='needs onnxruntime + tokenizers: pip install "reciprocity[accurate]"')
needs_artifact = pytest.mark.skipif(not (HAVE_RUNTIME and HAVE_ARTIFACT), reason="accurate artefact or runtime absent")

from detect_fixtures import DISCLOSURE, FIXTURE, SMALL_TALK  # noqa: E402  (tests/ is on sys.path)


@pytest.fixture(scope="module")
def acc() -> AccurateDetector:
    return AccurateDetector.load()


def _check_schema(out: pd.DataFrame, n: int) -> None:
    assert list(out.columns) == list(CODE_COLUMNS)
    assert len(out) == n
    assert out["info_disclosure"].dtype == np.float64 and out["emo_disclosure"].dtype == np.float64
    assert out["disclosure"].dtype == bool
    assert out["depth"].dtype == np.float64
    assert out["layer"].dtype == np.int64
    assert out[["info_disclosure", "emo_disclosure"]].stack().between(0, 1).all()
    assert out["depth"].between(0, 3).all()
    assert out["layer"].isin([0, 1, 2, 3]).all()
    for t in out["topics"]:
        assert isinstance(t, list) and set(t) <= set(TOPICS)


def test_import_without_runtime_is_lazy():
    """``import reciprocity`` and the accurate subpackage must not import onnxruntime/tokenizers."""
    code = (
        "import sys\n"
        "import reciprocity, reciprocity.detect.accurate\n"
        "assert 'onnxruntime' not in sys.modules and 'tokenizers' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_missing_runtime_message(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def fake(name, *a, **k):
        if name.split(".")[0] in ("onnxruntime", "tokenizers"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", fake)
    with pytest.raises(ImportError, match=r"reciprocity\[accurate\]"):
        AccurateDetector.load()


@needs_artifact
def test_schema_and_direction(acc):
    out = acc.predict([SMALL_TALK, DISCLOSURE, "I'm a nurse in Leeds."])
    _check_schema(out, 3)
    assert not out.loc[0, "disclosure"]
    assert out.loc[1, "disclosure"] and out.loc[1, "layer"] == 3
    assert out.loc[1, "emo_disclosure"] > out.loc[0, "emo_disclosure"]
    assert out.loc[1, "depth"] > out.loc[0, "depth"]


@needs_artifact
def test_transform_is_predict_and_series_index(acc):
    s = pd.Series([DISCLOSURE, SMALL_TALK], index=[10, 20])
    out = acc.transform(s)
    assert list(out.index) == [10, 20]
    pd.testing.assert_frame_equal(out.reset_index(drop=True), acc.predict([DISCLOSURE, SMALL_TALK]))
    one = acc.predict(DISCLOSURE)
    assert len(one) == 1


@needs_artifact
def test_deterministic(acc):
    texts = [DISCLOSURE, SMALL_TALK, "My sister and I don't really talk since the wedding. I miss her."]
    a = acc.predict(texts)
    b = AccurateDetector.load().predict(texts)
    pd.testing.assert_frame_equal(a, b)


@needs_artifact
def test_edge_inputs(acc):
    long_text = ("I have been feeling really low and I do not know who to tell about it " * 400).strip()
    texts = ["", "   ", None, long_text, "Je suis très fatigué et je me sens seul.", "😂😂😂🙏", "日本語のテキストです。",
             "!!!", "a" * 5000]
    out = acc.predict(pd.Series(texts, dtype=object))
    _check_schema(out, len(texts))
    for i in (0, 1, 2):
        assert out.loc[i, "info_disclosure"] == 0 and out.loc[i, "emo_disclosure"] == 0
        assert out.loc[i, "layer"] == 0 and out.loc[i, "topics"] == [] and not out.loc[i, "disclosure"]
    assert out.loc[3, "disclosure"]  # long utterance: split into sentences, max aggregated
    empty = acc.predict([])
    _check_schema(empty, 0)


@needs_artifact
def test_long_utterance_aggregates_like_fast_tier(acc):
    both = acc.predict([SMALL_TALK + " " + DISCLOSURE])
    parts = acc.predict([SMALL_TALK, DISCLOSURE])
    assert both.loc[0, "emo_disclosure"] == pytest.approx(parts["emo_disclosure"].max(), abs=0.02)
    assert both.loc[0, "layer"] == parts["layer"].max()


@needs_artifact
def test_loads_and_predicts_offline(monkeypatch):
    def no_network(*a, **k):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    out = AccurateDetector.load().predict([DISCLOSURE])
    assert bool(out.loc[0, "disclosure"])


@needs_artifact
def test_artefact_metadata():
    meta = json.loads((ARTIFACT_DIR / "heads.json").read_text())
    assert meta["model"] == "reciprocity.detect.accurate.AccurateDetector"
    assert set(meta["thresholds"]) == {"info", "emo"}
    from reciprocity.detect.accurate.model import file_sha256

    assert meta["encoder_sha256"] == file_sha256(ARTIFACT_DIR / "encoder.int8.onnx")
    total = sum(p.stat().st_size for p in ARTIFACT_DIR.iterdir() if p.is_file())
    assert total < 40 * 2**20


@needs_artifact
def test_fit_save_load_roundtrip(tmp_path):
    texts, info, emo = zip(*FIXTURE)
    from reciprocity.detect.features import FeatureConfig

    cfg = AccurateConfig(layers=(6,), n_folds=3, features=FeatureConfig(n_features_word=2**10, n_features_char=2**10))
    det = AccurateDetector(cfg, seed=0).fit(list(texts), info, emo, intimacy_texts=["I love you", "Hi"],
                                            intimacy_scores=[1.0, 0.0])
    a = det.predict([DISCLOSURE, SMALL_TALK])
    _check_schema(a, 2)
    det.save(tmp_path)
    b = AccurateDetector.load(tmp_path).predict([DISCLOSURE, SMALL_TALK])
    pd.testing.assert_frame_equal(a, b, atol=1e-5)
    det2 = AccurateDetector(cfg, seed=0).fit(list(texts), info, emo, intimacy_texts=["I love you", "Hi"],
                                             intimacy_scores=[1.0, 0.0])
    pd.testing.assert_frame_equal(a, det2.predict([DISCLOSURE, SMALL_TALK]))


@needs_runtime
def test_unfitted_and_bad_dir(tmp_path):
    with pytest.raises(RuntimeError):
        AccurateDetector().predict(["x"])
    with pytest.raises(FileNotFoundError):
        AccurateDetector.load(tmp_path)
