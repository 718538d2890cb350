"""The end-to-end pipeline: codes (detector or human) → measures → result tables and report."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from reciprocity.corpus import validate
from reciprocity.measure import (
    conversation_profile,
    prepare_codes,
    reciprocity_tests,
    speaker_profile,
    trajectories,
    turn_pairs,
)
from reciprocity.schema import CODE_COLUMNS, CONVERSATION, LAYER_NAMES, SPEAKER, TEXT

Progress = Callable[[int, int], None]


@dataclass
class Analysis:
    """Result of :func:`analyze`: tidy tables plus a JSON-ready corpus summary."""

    utterances: pd.DataFrame
    conversations: pd.DataFrame
    speakers: pd.DataFrame
    summary: dict = field(default_factory=dict)

    def save(self, out_dir: str | Path) -> dict[str, Path]:
        """Write utterances.parquet, conversations.csv, speakers.csv, summary.json and report.html."""
        from reciprocity.report import write_report

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = {
            "utterances": out / "utterances.parquet",
            "conversations": out / "conversations.csv",
            "speakers": out / "speakers.csv",
            "summary": out / "summary.json",
            "report": out / "report.html",
        }
        utterances = self.utterances.copy()
        utterances.attrs = {}
        utterances.to_parquet(paths["utterances"], index=False)
        self.conversations.to_csv(paths["conversations"], index=False)
        self.speakers.to_csv(paths["speakers"], index=False)
        paths["summary"].write_text(json.dumps(_jsonable(self.summary), indent=2), encoding="utf-8")
        write_report(self, paths["report"])
        return paths


def analyze(
    table: pd.DataFrame,
    *,
    use_codes: bool = False,
    n_permutations: int = 200,
    seed: int = 0,
    source: str = "<table>",
    progress: Progress | None = None,
) -> Analysis:
    """Code every utterance (or use the table's own codes) and measure disclosure and reciprocity.

    ``use_codes=True`` analyses the table's ``disclosure``/``depth`` (and optional ``layer``,
    ``topics``) columns — e.g. human coding — instead of running the detector; both paths share
    every measure. Random null baselines are seeded by ``seed``.
    """
    skipped = [str(problem) for problem in table.attrs.get("skipped", [])]
    table = validate(table, source)
    if use_codes:
        coded = prepare_codes(table, source)
        codes_from = "input"
    else:
        from reciprocity.detect import detect

        existing = [c for c in CODE_COLUMNS if c in table.columns]
        coded = table.rename(columns={c: f"input_{c}" for c in existing})
        coded = pd.concat([coded, _detect_in_batches(detect, coded[TEXT], progress)], axis=1)
        codes_from = "detector"
    coded = coded.reset_index(drop=True)
    coded = pd.concat([coded, trajectories(coded)], axis=1)
    pairs = turn_pairs(coded)
    reciprocity_by_conversation, reciprocity_by_speaker, reciprocity_summary = reciprocity_tests(
        coded, pairs, n_permutations=n_permutations, seed=seed
    )
    conversations = conversation_profile(coded).merge(reciprocity_by_conversation, on=CONVERSATION, how="left")
    speakers = speaker_profile(coded).merge(reciprocity_by_speaker, on=[CONVERSATION, SPEAKER], how="left")
    summary = {
        "source": source,
        "codes": codes_from,
        "n_conversations": int(coded[CONVERSATION].nunique()),
        "n_utterances": int(len(coded)),
        "n_speakers": int(coded.groupby(CONVERSATION)[SPEAKER].nunique().sum()),
        "n_exchanges": int(len(pairs)),
        "skipped_rows": skipped,
        "disclosure_rate": float(coded["disclosure"].mean()),
        "mean_depth": float(coded["depth"].mean()),
        "layers": {LAYER_NAMES[k]: int(v) for k, v in coded["layer"].value_counts().sort_index().items()},
        "topics": {str(k): int(v) for k, v in coded["topics"].explode().dropna().value_counts().items()},
        "reciprocity": reciprocity_summary,
    }
    return Analysis(coded, conversations, speakers, summary)


def _detect_in_batches(detect: Callable, texts: pd.Series, progress: Progress | None,
                       batch_size: int = 4096) -> pd.DataFrame:
    """Run the detector over whole batches, reporting progress between batches."""
    parts = []
    for start in range(0, len(texts), batch_size):
        batch = texts.iloc[start:start + batch_size]
        parts.append(detect(batch).set_index(batch.index))
        if progress is not None:
            progress(min(start + batch_size, len(texts)), len(texts))
    return pd.concat(parts) if parts else detect(texts)


def _jsonable(value: object) -> object:
    """Plain JSON types; NaN becomes null."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return None if np.isnan(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value
