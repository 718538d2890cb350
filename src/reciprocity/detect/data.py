"""Readers for the training corpora under ``data_dir`` (the project's ``../shared/data``).

* ``offmychest/train.csv`` — CL-Aff 2020 #OffMyChest sentences (Jaidka et al. 2020, CC BY 4.0); columns
  ``full_text``, ``Information_disclosure``, ``Emotional_disclosure`` (0/1) and the post ``id``.
* ``question_intimacy/final_{train,val,test}.txt`` — Pei & Jurgens (2020), TSV ``text<TAB>score`` in about
  [-1, 1], no header (MIT). Rescaled to [0, 1] by ``(score + 1) / 2``.
* ``tweet_intimacy/train.csv`` — SemEval-2023 Task 9 (Pei et al. 2023), English rows only; ``label`` 1–5,
  rescaled by ``(label - 1) / 4`` (research use).
* unlabelled conversation sentences for distillation (:func:`load_transfer_sentences`): Topical-Chat
  (CDLA-Sharing-1.0), PersuasionForGood ``full_*`` (Apache-2.0) and CaSiNo (CC BY 4.0), read with
  :mod:`reciprocity.datasets`; only their text is used, never their labels.
"""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

OFFMYCHEST = Path("offmychest") / "train.csv"
QUESTION_TRAIN = Path("question_intimacy") / "final_train.txt"
QUESTION_TEST = Path("question_intimacy") / "final_test.txt"
TWEETS = Path("tweet_intimacy") / "train.csv"
TRAINING_FILES: tuple[Path, ...] = (OFFMYCHEST, QUESTION_TRAIN, TWEETS)
#: conversation corpora whose sentences form the distillation transfer set (text only, see load_transfer_sentences)
TRANSFER_FILES: tuple[Path, ...] = (
    *(Path("topical_chat") / f"{s}.json" for s in ("valid_freq", "valid_rare", "test_freq", "test_rare")),
    Path("persuasionforgood") / "full_dialog.csv",
    Path("persuasionforgood") / "300_dialog.csv",
    *(Path("casino") / f"casino_{s}.json" for s in ("train", "valid", "test")),
)


def _require(data_dir: Path, rel: Path) -> Path:
    path = Path(data_dir) / rel
    if not path.is_file():
        raise FileNotFoundError(
            f"training data file not found: {path} (expected the shared data folder, e.g. --data ../shared/data)"
        )
    return path


def load_offmychest(data_dir: Path) -> pd.DataFrame:
    """Sentences with ``text``, ``info`` and ``emo`` (0/1 ints) and ``group`` (Reddit post id)."""
    df = pd.read_csv(_require(data_dir, OFFMYCHEST))
    for col in ("full_text", "Information_disclosure", "Emotional_disclosure"):
        if col not in df.columns:
            raise ValueError(f"{Path(data_dir) / OFFMYCHEST}: missing column '{col}'")
    return pd.DataFrame(
        {
            "text": df["full_text"].fillna("").astype(str),
            "info": df["Information_disclosure"].astype(int),
            "emo": df["Emotional_disclosure"].astype(int),
            "group": df["id"].astype(str) if "id" in df.columns else pd.Series(np.arange(len(df))).astype(str),
        }
    )


def load_questions(data_dir: Path, split: Path = QUESTION_TRAIN) -> pd.DataFrame:
    """Question-intimacy rows: ``text``, ``target`` in [0, 1]."""
    df = pd.read_csv(
        _require(data_dir, split), sep="\t", header=None, names=["text", "score"], quoting=csv.QUOTE_NONE,
        dtype={"text": str}, keep_default_na=False,
    )
    return pd.DataFrame({"text": df["text"].astype(str), "target": ((df["score"].astype(float) + 1.0) / 2.0).clip(0, 1)})


def load_tweets(data_dir: Path) -> pd.DataFrame:
    """English tweet-intimacy rows: ``text``, ``target`` in [0, 1] (original row order kept)."""
    df = pd.read_csv(_require(data_dir, TWEETS))
    df = df[df["language"] == "English"]
    return pd.DataFrame(
        {"text": df["text"].fillna("").astype(str), "target": ((df["label"].astype(float) - 1.0) / 4.0).clip(0, 1)}
    ).reset_index(drop=True)


def load_transfer_sentences(data_dir: Path, min_chars: int = 8) -> pd.Series:
    """Distinct sentences (sorted, so the order is fixed) of the Topical-Chat, PersuasionForGood and CaSiNo
    conversations, split and normalised as ``predict`` does, at least ``min_chars`` long, minus the OffMyChest
    training sentences. Dialogues with human strategy labels (the 300 annotated PersuasionForGood dialogues and the
    annotated CaSiNo dialogues) are left out so those labels stay an independent cross-domain check."""
    from reciprocity.datasets import load_casino, load_persuasionforgood, load_topical_chat

    from .text import as_series, normalise, split_sentences

    for rel in TRANSFER_FILES:
        _require(data_dir, rel)
    chat = load_topical_chat(data_dir)
    p4g = load_persuasionforgood(data_dir)
    labelled = set(load_persuasionforgood(data_dir, annotated=True)["conversation_id"])
    casino = load_casino(data_dir)
    texts = pd.concat(
        [chat["text"], p4g.loc[~p4g["conversation_id"].isin(labelled), "text"],
         casino.loc[~casino["annotated"].astype(bool), "text"]],
        ignore_index=True,
    )
    sentences = pd.Series(split_sentences(as_series(texts.fillna("").astype(str)))["sentence"].unique())
    known = set(normalise(as_series(load_offmychest(data_dir)["text"])))
    keep = (sentences.str.len() >= min_chars) & ~sentences.isin(known)
    return pd.Series(np.sort(sentences[keep].to_numpy(dtype=object)), name="text").astype(str)


def tweet_holdout_mask(n: int, fraction: float = 0.2, seed: int = 0) -> np.ndarray:
    """Deterministic boolean mask of a ``fraction`` slice of ``n`` tweets (for held-out evaluation)."""
    rng = np.random.default_rng(seed)
    mask = np.zeros(n, dtype=bool)
    mask[rng.permutation(n)[: int(round(fraction * n))]] = True
    return mask


def data_hash(data_dir: Path, files: tuple[Path, ...] = TRAINING_FILES) -> str:
    """SHA-256 over the bytes of the training files (in a fixed order), to pin what an artefact was built from."""
    h = hashlib.sha256()
    for rel in files:
        h.update(str(rel).encode())
        h.update(_require(data_dir, rel).read_bytes())
    return h.hexdigest()


#: Depth/topic development set written for this project (Apache-2.0), shipped in the repository.
DEPTH_DEV = Path(__file__).resolve().parents[3] / "bench" / "data" / "depth_dev.csv"


def load_depth_dev(path: Path | None = None) -> pd.DataFrame:
    """``bench/data/depth_dev.csv``: ``id``, ``text``, ``layer`` (0-3) and ``topics`` (list of topic ids)."""
    p = Path(path) if path is not None else DEPTH_DEV
    if not p.is_file():
        raise FileNotFoundError(f"depth development set not found: {p} (bench/data/depth_dev.csv in the repository)")
    df = pd.read_csv(p, keep_default_na=False, dtype={"id": str, "text": str})
    return pd.DataFrame(
        {
            "id": df["id"],
            "text": df["text"].astype(str),
            "layer": df["layer"].astype(int),
            "topics": df["topics"].astype(str).map(lambda s: [t for t in s.split(";") if t]),
        }
    )


def dev_test_mask(layers: np.ndarray, fraction: float = 0.3, seed: int = 20240601) -> np.ndarray:
    """Frozen held-out slice of the dev set (stratified by layer, fixed seed). It was drawn before any tuning of
    the depth model or the topic tagger and is never used to choose anything; ``train_detector`` fits the shipped
    artefact on all rows, ``bench/detector.py`` reports a model fitted on the other 70 %."""
    layers = np.asarray(layers)
    rng = np.random.default_rng(seed)
    mask = np.zeros(len(layers), dtype=bool)
    for k in np.unique(layers):
        idx = np.flatnonzero(layers == k)
        mask[rng.permutation(idx)[: int(round(fraction * len(idx)))]] = True
    return mask
