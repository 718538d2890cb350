"""Reciprocity measures vs real outcomes: CaSiNo liking, ESConv distress relief, PersuasionForGood donation.

    python bench/outcomes.py [--data-dir ../shared/data] [--permutations 20]

Codes: the bundled detector (``reciprocity.analyze(table)``) when ``reciprocity.detect`` imports, and in addition
the datasets' human strategy labels as disclosure codes (a transparent, detector-free check):

* CaSiNo — ``self-need`` or ``small-talk`` in the utterance's strategies (396 annotated dialogues);
* ESConv — supporter ``strategy == "Self-disclosure"`` (seekers are not labelled, so only supporter disclosure);
* PersuasionForGood (300 annotated) — persuader ``personal-story``/``self-modeling``; persuadee answers to personal
  questions (``positive-/negative-/neutral-to-inquiry``).

Label codes carry no depth, so depth = 1 for a disclosure. Models: :func:`reciprocity.outcomes.relate_outcomes`
(OLS, HC3 SEs, standardised betas: outcome and predictors z-scored) and :func:`reciprocity.outcomes.apim`
(GEE/GLS, exchangeable within-dyad correlation, dyad-clustered SEs). Writes ``bench/results/outcomes.json`` and
``docs/findings-outcomes.md``; exits 0 with a "skipped" note when the data folder is absent.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import reciprocity  # noqa: E402
from reciprocity.datasets import default_data_dir, load_casino, load_esconv, load_persuasionforgood  # noqa: E402
from reciprocity.outcomes import apim, relate_outcomes  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "outcomes.json"
FINDINGS = ROOT / "docs" / "findings-outcomes.md"
MEASURES = ["conditional_reciprocity", "lagged_matching", "matching_index", "balance_index", "disclosure_rate",
            "mean_depth"]


def detector_available() -> bool:
    try:
        from reciprocity.detect import detect

        detect(["I am a nurse."])
        return True
    except Exception:  # noqa: BLE001 - any failure means: fall back to labels
        return False


def label_codes(table: pd.DataFrame, mask: pd.Series) -> pd.DataFrame:
    coded = table.copy()
    coded["disclosure"] = mask.fillna(False).astype(bool).to_numpy()
    coded["depth"] = coded["disclosure"].astype(float)
    return coded


def has_label(series: pd.Series, labels: set[str]) -> pd.Series:
    return series.fillna("").astype(str).str.split(";").map(lambda parts: bool(labels.intersection(parts)))


def measure(table: pd.DataFrame, use_codes: bool, permutations: int) -> reciprocity.Analysis:
    keep = [c for c in table.columns if c not in ("reply_to",)]  # dyads: reply edges are just the previous turn
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return reciprocity.analyze(table[keep], use_codes=use_codes, n_permutations=permutations)


def person_rates(result: reciprocity.Analysis, table: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    people = result.speakers[["conversation_id", "speaker", "disclosure_rate", "mean_depth", "n_utterances"]]
    extra = table.groupby(["conversation_id", "speaker"], sort=False)[columns].first().reset_index()
    return people.merge(extra, on=["conversation_id", "speaker"], how="left")


def focal(table: pd.DataFrame) -> list[dict]:
    rows = table[(table["term"] == table["model"]) | (table["note"] != "")]
    return json.loads(rows.drop(columns=["note"] if (rows["note"] == "").all() else []).to_json(orient="records"))


def apim_record(table: pd.DataFrame) -> dict:
    return {"effects": json.loads(table.to_json(orient="records")),
            "attrs": {k: v for k, v in table.attrs.items()}}


# ------------------------------------------------------------------------------------------------- datasets


def casino(data_dir: Path, detector: bool, permutations: int) -> dict:
    raw = load_casino(data_dir, include_deal_actions=False)
    raw = raw[~raw["empty_text"]]
    outcome = "outcome_opponent_likeness_score"
    out = {"outcome": "opponent_likeness (1-5; how much each participant liked the partner)"}
    variants = []
    if detector:
        variants.append(("detector", raw, False))
    annotated = raw[raw["annotated"]]
    variants.append(("labels: self-need or small-talk", label_codes(annotated, has_label(annotated["strategies"],
                                                                                          {"self-need", "small-talk"})), True))
    for name, table, use_codes in variants:
        result = measure(table, use_codes, permutations)
        people = person_rates(result, table, [outcome])
        people[outcome] = pd.to_numeric(people[outcome], errors="coerce")
        dyads = result.conversations.merge(
            people.groupby("conversation_id")[outcome].mean().rename("likeness_mean"), on="conversation_id")
        ols = relate_outcomes(dyads, "likeness_mean", MEASURES, ["n_utterances"], standardize=True)
        people["likeness_z"] = (people[outcome] - people[outcome].mean()) / people[outcome].std()
        people["disclosure_rate_z"] = (people["disclosure_rate"] - people["disclosure_rate"].mean()) / people["disclosure_rate"].std()
        model = apim(people, "likeness_z", "disclosure_rate_z", "conversation_id", covariates=["n_utterances"])
        out[name] = {"n_dyads": int(len(dyads)), "n_people": int(len(people)), "dyad_ols": focal(ols),
                     "apim_disclosure_rate_on_liking": apim_record(model)}
    return out


def esconv(data_dir: Path, detector: bool, permutations: int) -> dict:
    raw = load_esconv(data_dir)
    raw = raw[~raw["empty_text"]]
    out = {"outcome": "distress_drop = init_intensity − final_intensity (seeker, 1-5 scale)"}
    variants = []
    if detector:
        variants.append(("detector", raw, False))
    variants.append(("labels: supporter Self-disclosure", label_codes(raw, raw["strategy"].eq("Self-disclosure")), True))
    for name, table, use_codes in variants:
        result = measure(table, use_codes, permutations)
        people = person_rates(result, table, ["role"])
        wide = people.pivot(index="conversation_id", columns="role", values="disclosure_rate").add_suffix("_disclosure_rate")
        meta = table.groupby("conversation_id")[["distress_drop", "init_intensity"]].first().astype(float)
        dyads = result.conversations.merge(wide, on="conversation_id").merge(meta, on="conversation_id")
        predictors = ["supporter_disclosure_rate"]
        if use_codes is False:
            predictors = MEASURES + ["supporter_disclosure_rate", "seeker_disclosure_rate"]
        ols = relate_outcomes(dyads, "distress_drop", predictors, ["init_intensity", "n_utterances"], standardize=True)
        out[name] = {"n_dyads": int(len(dyads)), "dyad_ols": focal(ols)}
    return out


def persuasion(data_dir: Path, detector: bool, permutations: int) -> dict:
    out = {"outcome": "persuadee donation ($; log1p) and donated (> 0; linear probability)"}
    variants = []
    if detector:
        full = load_persuasionforgood(data_dir)
        variants.append(("detector", full[~full["empty_text"]], False))
    ann = load_persuasionforgood(data_dir, annotated=True)
    ann = ann[~ann["empty_text"]]
    mask = np.where(ann["role"].eq("persuader"), has_label(ann["strategies"], {"personal-story", "self-modeling"}),
                    has_label(ann["strategies"], {"positive-to-inquiry", "negative-to-inquiry", "neutral-to-inquiry"}))
    variants.append(("labels: personal-story/self-modeling; answers to inquiries", label_codes(ann, pd.Series(mask, index=ann.index)), True))
    for name, table, use_codes in variants:
        result = measure(table, use_codes, permutations)
        people = person_rates(result, table, ["role", "donation"])
        wide = people.pivot_table(index="conversation_id", columns="role", values="disclosure_rate").add_suffix("_disclosure_rate")
        meta = table.groupby("conversation_id")[["persuadee_donation"]].first().astype(float)
        dyads = result.conversations.merge(wide, on="conversation_id").merge(meta, on="conversation_id")
        dyads["log_donation"] = np.log1p(dyads["persuadee_donation"].clip(lower=0))
        dyads["donated"] = (dyads["persuadee_donation"] > 0).astype(float)
        predictors = MEASURES + ["persuader_disclosure_rate", "persuadee_disclosure_rate"]
        ols = relate_outcomes(dyads, ["log_donation", "donated"], predictors, ["n_utterances"], standardize=True)
        people["log_donation"] = np.log1p(pd.to_numeric(people["donation"], errors="coerce").clip(lower=0))
        people = people.dropna(subset=["log_donation"])
        record = {"n_dyads": int(len(dyads)), "dyad_ols": focal(ols)}
        try:
            model = apim(people, "log_donation", "disclosure_rate", "conversation_id", role_col="role")
            record["apim_disclosure_rate_on_own_donation"] = apim_record(model)
        except ValueError as exc:
            record["apim_disclosure_rate_on_own_donation"] = {"error": str(exc)}
        out[name] = record
    return out


# ------------------------------------------------------------------------------------------------- report


def _fmt(row: dict) -> str:
    return (f"{row['estimate']:+.3f} [{row['ci_low']:+.3f}, {row['ci_high']:+.3f}], p = {row['p']:.3g}, "
            f"n = {row['n']}")


def findings_markdown(results: dict) -> str:
    lines = ["# Findings: reciprocity measures and real outcomes", "",
             f"Generated by `bench/outcomes.py` on {results['generated']} (codes: {results['codes_note']}).",
             "Dyad-level models are OLS with HC3 robust SEs, outcome and predictor z-scored (standardised β, 95 % CI),",
             "one model per measure, adjusted for conversation length (and initial distress for ESConv). APIM: GEE",
             "with exchangeable within-dyad correlation and dyad-clustered robust SEs (`reciprocity.outcomes.apim`).",
             "Significance is unadjusted for the number of models; treat single p < .05 results as exploratory.", ""]
    for dataset, block in results["datasets"].items():
        lines += [f"## {dataset}", "", f"Outcome: {block.get('outcome', '')}", ""]
        if "error" in block:
            lines += [f"Not run: {block['error']}", ""]
            continue
        for variant, record in block.items():
            if not isinstance(record, dict):
                continue
            lines += [f"### Codes: {variant} ({record['n_dyads']} dyads)", "", "| outcome | measure | β [95 % CI], p, n |",
                      "|---|---|---|"]
            for row in record["dyad_ols"]:
                if row.get("note"):
                    lines.append(f"| {row['outcome']} | {row['model']} | not fitted: {row['note']} |")
                else:
                    lines.append(f"| {row['outcome']} | {row['model']} | {_fmt(row)} |")
            lines.append("")
            for key, model in record.items():
                if not key.startswith("apim"):
                    continue
                if "error" in model:
                    lines += [f"APIM ({key}): not fitted — {model['error']}", ""]
                    continue
                lines += [f"APIM `{key}` (within-dyad residual correlation "
                          f"{model['attrs']['nonindependence']:.2f}; k = {model['attrs']['k']}):", "",
                          "| effect | estimate [95 % CI], p, n persons |", "|---|---|"]
                for row in model["effects"]:
                    lines.append(f"| {row['term']} | {_fmt(row)} |")
                lines.append("")
    lines += ["## Reading", "", results.get("interpretation", "See the tables above."), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--permutations", type=int, default=20)
    parser.add_argument("--labels-only", action="store_true", help="skip the detector")
    parser.add_argument("--output", default=str(RESULTS))
    parser.add_argument("--findings", default=str(FINDINGS))
    args = parser.parse_args(argv)
    data_dir = Path(args.data_dir) if args.data_dir else default_data_dir()
    if not data_dir.is_dir():
        data_dir = ROOT.parent / "shared" / "data"
    if not data_dir.is_dir():
        print(f"skipped: no data folder at {data_dir}")
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(json.dumps({"skipped": f"no data folder at {data_dir}"}, indent=2) + "\n")
        return 0
    detector = not args.labels_only and detector_available()
    results = {"generated": time.strftime("%Y-%m-%d"), "data_dir": str(data_dir),
               "codes_note": ("bundled detector, plus human strategy labels as codes" if detector
                              else "human strategy labels as codes (detector not available)"),
               "datasets": {}}
    for name, run in (("CaSiNo", casino), ("ESConv", esconv), ("PersuasionForGood", persuasion)):
        started = time.perf_counter()
        try:
            results["datasets"][name] = run(data_dir, detector, args.permutations)
        except FileNotFoundError as exc:
            results["datasets"][name] = {"error": str(exc)}
        print(f"{name}: {time.perf_counter() - started:.1f} s", flush=True)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
    Path(args.findings).parent.mkdir(parents=True, exist_ok=True)
    Path(args.findings).write_text(findings_markdown(results), encoding="utf-8")
    print(f"wrote {args.output} and {args.findings}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
