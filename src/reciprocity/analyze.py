"""The end-to-end pipeline: codes (detector or human) → measures → result tables and report."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from reciprocity.advise import advise
from reciprocity.corpus import validate
from reciprocity.errors import InputError, Problem
from reciprocity.measure import (
    conversation_profile,
    prepare_codes,
    reciprocity_tests,
    speaker_profile,
    trajectories,
    turn_pairs,
)
from reciprocity.measure.groups import pairwise_reciprocity, round_robin_scores, social_relations
from reciprocity.measure.multilevel import dyad_slopes, lag_design, lagged_multilevel
from reciprocity.measure.sequential import lag_sequential
from reciprocity.measure.stages import stages
from reciprocity.schema import CONVERSATION, LAYER_NAMES, SPEAKER, TEXT

Progress = Callable[[int, int], None]
#: Stage columns added to the utterance table (see :mod:`reciprocity.measure.stages`).
STAGE_COLUMNS = ["stage", "speaker_stage", "depenetration", "speaker_depenetration"]


@dataclass
class Analysis:
    """Result of :func:`analyze`: tidy tables plus a JSON-ready corpus summary.

    Tables (and the files :meth:`save` writes them to):

    * ``utterances`` (utterances.parquet), ``conversations`` (conversations.csv — profile plus
      per-conversation reciprocity against the shuffle, circular-shift and pseudo-dyad nulls),
      ``speakers`` (speakers.csv);
    * ``transitions`` (transitions.csv) — corpus lag-sequential tables for ``layer`` and
      ``disclosure``: code, from, to, count, row_total, col_total, n, p_transition, expected,
      adjusted_residual;
    * ``dyad_transitions`` (dyad_transitions.parquet) — the same per conversation;
    * ``dyad_reciprocity`` (dyad_reciprocity.csv) — per conversation: Yule's Q of the 2x2
      disclosure table, the within-dyad partner-lag slope (reciprocity) and own-lag slope with
      SE and 95% CI, and the multilevel BLUP of the partner-lag slope;
    * ``multilevel`` (multilevel.csv) — lagged multilevel model terms (estimate, std_error, z,
      p_value, ci_low, ci_high; random-effect variances);
    * ``group_reciprocity`` (group_reciprocity.csv) — reciprocity per ordered speaker pair in
      conversations with 3+ speakers;
    * ``srm`` (srm.csv) and ``srm_effects`` (srm_effects.csv) — Social Relations Model variance
      components and actor/partner effects for conversations with 4+ speakers forming a complete
      round robin of replies (empty otherwise);
    * ``alerts`` (alerts.csv) — :func:`reciprocity.advise.advise` alerts: conversation_id, speaker,
      turn, kind, severity, evidence, suggestion.

    The utterance table also carries penetration ``stage`` / ``speaker_stage`` labels and
    ``depenetration`` flags (:mod:`reciprocity.measure.stages`).

    ``summary`` (summary.json) adds ``multilevel`` (beta_p and beta_s with CI and fit info),
    ``reciprocity.nulls`` (observed vs shuffle / circular-shift / pseudo-dyad nulls),
    ``lag_sequential`` and ``groups``.
    """

    utterances: pd.DataFrame
    conversations: pd.DataFrame
    speakers: pd.DataFrame
    summary: dict = field(default_factory=dict)
    transitions: pd.DataFrame = field(default_factory=pd.DataFrame)
    dyad_transitions: pd.DataFrame = field(default_factory=pd.DataFrame)
    dyad_reciprocity: pd.DataFrame = field(default_factory=pd.DataFrame)
    multilevel: pd.DataFrame = field(default_factory=pd.DataFrame)
    group_reciprocity: pd.DataFrame = field(default_factory=pd.DataFrame)
    srm: pd.DataFrame = field(default_factory=pd.DataFrame)
    srm_effects: pd.DataFrame = field(default_factory=pd.DataFrame)
    alerts: pd.DataFrame = field(default_factory=pd.DataFrame)

    #: attribute -> file name for the extra tables written by :meth:`save`.
    TABLE_FILES = {
        "transitions": "transitions.csv",
        "dyad_transitions": "dyad_transitions.parquet",
        "dyad_reciprocity": "dyad_reciprocity.csv",
        "multilevel": "multilevel.csv",
        "group_reciprocity": "group_reciprocity.csv",
        "srm": "srm.csv",
        "srm_effects": "srm_effects.csv",
        "alerts": "alerts.csv",
    }

    def save(self, out_dir: str | Path) -> dict[str, Path]:
        """Write utterances.parquet, conversations.csv, speakers.csv, the tables of
        :attr:`TABLE_FILES`, summary.json and report.html."""
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
        for column in utterances.columns[utterances.dtypes == object].drop("topics", errors="ignore"):
            values = utterances[column]
            present = values.dropna()
            if (pd.api.types.infer_dtype(values, skipna=True).startswith("mixed") and len(present)
                    and not isinstance(present.iloc[0], (list, tuple, dict, np.ndarray))):  # list columns stay lists
                # a metadata column of mixed scalar types (e.g. 1, "two", 3.5 from JSON lines): Parquet needs one type
                utterances[column] = values.astype(str).where(values.notna(), None)
        utterances.to_parquet(paths["utterances"], index=False)
        self.conversations.to_csv(paths["conversations"], index=False)
        self.speakers.to_csv(paths["speakers"], index=False)
        for name, filename in self.TABLE_FILES.items():
            table = getattr(self, name)
            paths[name] = out / filename
            if filename.endswith(".parquet"):
                frame = table.copy()
                frame.attrs = {}
                for column in frame.columns[frame.dtypes == object]:
                    frame[column] = frame[column].astype(str)
                frame.to_parquet(paths[name], index=False)
            else:
                table.to_csv(paths[name], index=False)
        paths["summary"].write_text(json.dumps(_jsonable(self.summary), indent=2), encoding="utf-8")
        write_report(self, paths["report"])
        return paths


def analyze(
    table: pd.DataFrame,
    *,
    use_codes: bool = False,
    tier: str = "fast",
    n_permutations: int = 200,
    seed: int = 0,
    source: str = "<table>",
    progress: Progress | None = None,
) -> Analysis:
    """Code every utterance (or use the table's own codes) and measure disclosure and reciprocity.

    ``use_codes=True`` analyses the table's ``disclosure``/``depth`` (and optional ``layer``,
    ``topics``) columns — e.g. human coding — instead of running the detector; both paths share
    every measure; ``tier`` picks the detector ("fast" or "accurate"). Random null baselines are
    seeded by ``seed``.
    """
    skipped = [str(problem) for problem in table.attrs.get("skipped", [])]
    table = validate(table, source)
    if table.empty:
        why = f"all {len(skipped)} rows were invalid and skipped" if skipped else "the table has no rows"
        raise InputError(Problem(source, "rows", None, f"no utterances to analyse ({why})"))
    release_memory()
    if use_codes:
        coded = prepare_codes(table, source)
        codes_from = "input"
    else:
        from reciprocity.detect import append_codes, detect

        # the table's own code columns are kept as input_<name> (an error if that name is taken too)
        codes = detect_in_batches(lambda texts: detect(texts, tier=tier), table[TEXT], progress)
        coded = append_codes(table, codes, source)
        codes_from = f"detector ({tier} tier)"
    if not isinstance(coded.index, pd.RangeIndex) or coded.index.start != 0 or coded.index.step != 1:
        coded = coded.reset_index(drop=True)
    # add the measured columns without copying the table's columns
    coded = _with_columns(coded, trajectories(coded))
    release_memory()
    coded = _with_columns(coded, stages(coded, columns=STAGE_COLUMNS))
    release_memory()
    # corpus counts for the summary now, while few result tables are held (their temporaries, e.g. the exploded
    # topics, then do not add to the peak memory); ``coded`` does not change after this point
    counts = {
        "n_conversations": int(coded[CONVERSATION].nunique()),
        "n_utterances": int(len(coded)),
        "n_speakers": int(coded.groupby(CONVERSATION)[SPEAKER].nunique().sum()),
        "disclosure_rate": float(coded["disclosure"].mean()),
        "mean_depth": float(coded["depth"].mean()),
        "layers": {LAYER_NAMES[k]: int(v) for k, v in coded["layer"].value_counts().sort_index().items()},
        "topics": {str(k): int(v) for k, v in coded["topics"].explode().dropna().value_counts().items()},
        "stages": {str(k): int(v) for k, v in coded["stage"].value_counts(sort=False).items()},
    }
    release_memory()
    alerts = advise(coded)
    release_memory()
    # profiles first (while few result tables are held: lower peak memory); order does not change results
    conversation_profiles = conversation_profile(coded)
    release_memory()
    speaker_profiles = speaker_profile(coded)
    release_memory()
    pairs = turn_pairs(coded)
    release_memory()
    reciprocity_by_conversation, reciprocity_by_speaker, reciprocity_summary = reciprocity_tests(
        coded, pairs, n_permutations=n_permutations, seed=seed
    )
    release_memory()
    statistics = reciprocity_statistics(coded, pairs, seed=seed)
    release_memory()
    conversations = conversation_profiles.merge(reciprocity_by_conversation, on=CONVERSATION, how="left")
    speakers = speaker_profiles.merge(reciprocity_by_speaker, on=[CONVERSATION, SPEAKER], how="left")
    summary = {
        "source": source,
        "codes": codes_from,
        "n_conversations": counts["n_conversations"],
        "n_utterances": counts["n_utterances"],
        "n_speakers": counts["n_speakers"],
        "n_exchanges": int(len(pairs)),
        "skipped_rows": skipped,
        "disclosure_rate": counts["disclosure_rate"],
        "mean_depth": counts["mean_depth"],
        "layers": counts["layers"],
        "topics": counts["topics"],
        "reciprocity": reciprocity_summary,
        "stages": counts["stages"],
        "alerts": {str(k): int(v) for k, v in alerts["kind"].value_counts().items()},
        **statistics.pop("summary"),
    }
    return Analysis(coded, conversations, speakers, summary, **statistics, alerts=alerts)


def reciprocity_statistics(coded: pd.DataFrame, pairs: pd.DataFrame, *, seed: int = 0) -> dict:
    """Lag-sequential tables, dyad reciprocity, the lagged multilevel model and group analyses.

    Returns the :class:`Analysis` table attributes plus ``summary`` (the summary.json entries).
    Shared by detector and human codes (it only reads the schema columns).
    """
    # group analyses first (small results, transient memory while little else is held), then the model frame,
    # freed before the (large) per-dyad transition tables are built: lower peak memory
    groups = pairwise_reciprocity(coded, pairs)
    srm = social_relations(round_robin_scores(coded, pairs))
    release_memory()
    design = lag_design(coded, pairs)
    release_memory()
    multilevel = lagged_multilevel(coded, pairs, design=design)
    release_memory()
    slopes = dyad_slopes(design)
    del design
    release_memory()
    layer = lag_sequential(coded, pairs, "layer")
    release_memory()
    disclosure = lag_sequential(coded, pairs, "disclosure")
    # one integer dtype for the codes of both tables (bools of disclosure -> 0/1) and one categorical ``code``, so
    # that the concatenations stay narrow (no object columns)
    code_type = pd.CategoricalDtype(["layer", "disclosure"])
    for table in (layer.corpus, disclosure.corpus, layer.by_dyad, disclosure.by_dyad):
        for column in ("from", "to"):
            table[column] = table[column].to_numpy().astype(np.int8)
        table["code"] = table["code"].astype(code_type)
    transitions = pd.concat([layer.corpus, disclosure.corpus], ignore_index=True)
    dyad_transitions = pd.concat([layer.by_dyad, disclosure.by_dyad], ignore_index=True)
    yules_q = disclosure.yules_q
    del layer, disclosure                                      # their per-dyad tables now live in dyad_transitions
    release_memory()
    dyads = (yules_q.merge(slopes, on=CONVERSATION, how="left")
             .merge(multilevel.dyad_effects, on=CONVERSATION, how="left"))
    diagonal = transitions.loc[(transitions["code"] == "layer") & (transitions["from"] == transitions["to"])]
    q = dyads["yules_q"].to_numpy(float)
    slope = dyads["partner_slope"].to_numpy(float)
    summary = {
        "multilevel": multilevel.headline(),
        "lag_sequential": {
            "layer_same_layer_adjusted_residuals": dict(zip((LAYER_NAMES[int(v)] for v in diagonal["from"]),
                                                            diagonal["adjusted_residual"].tolist())),
            "disclosure_yules_q_median": float(np.nanmedian(q)) if np.isfinite(q).any() else float("nan"),
            "disclosure_yules_q_mean": float(np.nanmean(q)) if np.isfinite(q).any() else float("nan"),
            "n_dyads_with_q": int(np.isfinite(q).sum()),
        },
        "dyad_partner_slope": {
            "median": float(np.nanmedian(slope)) if np.isfinite(slope).any() else float("nan"),
            "share_ci_above_0": float(np.mean(dyads["partner_slope_ci_low"] > 0)) if len(dyads) else float("nan"),
            "n_dyads": int(np.isfinite(slope).sum()),
        },
        "groups": {
            "n_group_conversations": int(groups[CONVERSATION].nunique()) if len(groups) else 0,
            "srm": dict(zip(*srm.variances.loc[srm.variances["group"] == "pooled", ["component", "estimate"]]
                            .to_numpy().T.tolist())) if len(srm.variances) else {},
            "srm_excluded": srm.excluded.to_dict("records"),
        },
    }
    return {
        "transitions": transitions,
        "dyad_transitions": dyad_transitions,
        "dyad_reciprocity": dyads,
        "multilevel": multilevel.params,
        "group_reciprocity": groups,
        "srm": srm.variances,
        "srm_effects": srm.effects,
        "summary": summary,
    }


def _with_columns(frame: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """``pd.concat([frame, new], axis=1)`` (same index) without copying ``frame``'s columns: concat merges
    columns of one dtype into one block, which copies them (tens of MiB per call at a million rows)."""
    columns = {name: frame[name] for name in frame.columns}
    columns.update((name, new[name]) for name in new.columns)
    return pd.DataFrame(columns, index=frame.index, copy=False)


def release_memory() -> None:
    """Hand freed memory back to the operating system between pipeline stages.

    Each stage allocates and frees many mid-sized numpy arrays; glibc keeps freed heap memory (and pyarrow's
    pool its freed blocks) resident, so without this the process's resident size ratchets up stage after
    stage although the live data does not grow. ``malloc_trim`` is glibc-only; elsewhere this is a no-op.
    """
    global _MALLOC_TRIM
    if _MALLOC_TRIM is None:
        try:
            import ctypes

            _MALLOC_TRIM = ctypes.CDLL("libc.so.6").malloc_trim
        except (OSError, AttributeError):
            _MALLOC_TRIM = False
    if _MALLOC_TRIM:
        _MALLOC_TRIM(0)
    try:
        import pyarrow

        pyarrow.default_memory_pool().release_unused()
    except ImportError:
        pass


_MALLOC_TRIM = None


def detect_in_batches(detect: Callable, texts: pd.Series, progress: Progress | None,
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
