"""Command-line interface: a thin Typer layer over the library."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from reciprocity.errors import InputError, Problem

app = typer.Typer(
    help="Measure, analyse and model reciprocal self-disclosure in conversations.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)

FormatOption = Annotated[
    Optional[str], typer.Option("--format", "-f", help="csv, jsonl, parquet or convokit (default: from the path).")
]

class Tier(str, Enum):
    """Detector tiers (see reciprocity.detect)."""

    fast = "fast"
    accurate = "accurate"


TierOption = Annotated[
    Tier, typer.Option("--tier", help="Detector tier: fast (no deep learning) or accurate (MiniLM ONNX; needs reciprocity\\[accurate]).")
]


def _fail(message: str) -> None:
    console.print(Text.assemble(("error: ", "bold red"), message), highlight=False, soft_wrap=True)
    raise typer.Exit(code=1)


def _check_jobs(value: int) -> int:
    """``--jobs``: a positive number of workers, or -1 for every core."""
    if value == 0 or value < -1:
        raise typer.BadParameter(f"{value} is not a number of workers (use 1, 2, ... or -1 for every core)")
    return value


def _report_skipped(table) -> None:
    skipped = table.attrs.get("skipped", [])
    if skipped:
        console.print(f"[yellow]skipped {len(skipped)} invalid row(s):[/]")
        for problem in skipped:
            console.print(f"  {problem}", markup=False, highlight=False, soft_wrap=True)


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console, transient=True)


@app.command()
def analyze(
    input: Annotated[Path, typer.Argument(help="Utterance table: CSV, JSONL, Parquet or a ConvoKit corpus directory.")],
    format: FormatOption = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory.")] = Path("out"),
    use_codes: Annotated[bool, typer.Option("--use-codes", help="Analyse the input's own disclosure/depth codes instead of running the detector.")] = False,
    seed: Annotated[int, typer.Option(help="Seed for the null baselines.")] = 0,
    permutations: Annotated[int, typer.Option(min=1, help="Shuffles for the null baseline.")] = 200,
    skip_invalid: Annotated[bool, typer.Option("--skip-invalid", help="Skip invalid rows (each one is reported) instead of stopping.")] = False,
    tier: TierOption = Tier.fast,
) -> None:
    """Code every utterance, measure disclosure and reciprocity, write tables and an HTML report."""
    from reciprocity.analyze import analyze as run_analysis
    from reciprocity.corpus import read

    try:
        table = read(input, format, skip_invalid=skip_invalid)
        _report_skipped(table)
        with _progress() as progress:
            task = progress.add_task("detecting disclosure", total=len(table))
            result = run_analysis(
                table, use_codes=use_codes, tier=tier.value, n_permutations=permutations, seed=seed, source=str(input),
                progress=lambda done, total: progress.update(task, completed=done),
            )
        paths = result.save(out)
    except (InputError, FileNotFoundError, ImportError) as error:
        _fail(str(error))
    summary = result.summary
    console.print(
        f"analysed {summary['n_utterances']} utterances in {summary['n_conversations']} conversations "
        f"(codes: {summary['codes']}); disclosure rate {summary['disclosure_rate']:.2f}, mean depth {summary['mean_depth']:.2f}"
    )
    for name, path in paths.items():
        console.print(f"  {name:<18} {path}", highlight=False)


@app.command()
def detect(
    input: Annotated[Optional[Path], typer.Argument(help="Table to code (any supported format).")] = None,
    text: Annotated[Optional[str], typer.Option("--text", help="Code a single text and print the result.")] = None,
    text_column: Annotated[str, typer.Option("--text-column", help="Column holding the text.")] = "text",
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Output file (.csv, .jsonl or .parquet).")] = None,
    format: FormatOption = None,
    tier: TierOption = Tier.fast,
    jobs: Annotated[int, typer.Option("--jobs", "-j", callback=_check_jobs,
                                      help="Worker processes for the fast tier on large inputs (-1: every core).")] = 1,
) -> None:
    """Disclosure codes (info/emo probabilities, disclosure, depth, layer, topics) for texts."""
    import json

    from reciprocity.corpus import write

    if (text is None) == (input is None):
        _fail("give either --text TEXT or an INPUT file (with --out FILE)")
    from reciprocity.detect import detect as detect_codes

    def run_detector(texts):
        return detect_codes(texts, tier=tier.value, n_jobs=jobs)

    if text is not None:
        try:
            codes = run_detector([text]).iloc[0].to_dict()
        except ImportError as error:
            _fail(str(error))
        codes = {k: (v.item() if hasattr(v, "item") else v) for k, v in codes.items()}
        typer.echo(json.dumps({"text": text, **codes}, ensure_ascii=False))
        return
    if out is None:
        _fail("--out FILE is required with an INPUT file")
    from reciprocity.analyze import detect_in_batches
    from reciprocity.detect import KEPT_PREFIX, append_codes

    try:
        table = _read_texts(input, format, text_column)
        with _progress() as progress:
            task = progress.add_task("detecting disclosure", total=len(table))
            codes = detect_in_batches(run_detector, table[text_column],
                                      lambda done, total: progress.update(task, completed=done))
        coded = append_codes(table, codes, str(input))
        write(coded, out)
    except (InputError, ImportError) as error:
        _fail(str(error))
    kept = [c for c in coded.columns if c.startswith(KEPT_PREFIX) and c not in table.columns]
    if kept:
        console.print(f"kept the input's own {', '.join(c[len(KEPT_PREFIX):] for c in kept)} column(s) as "
                      f"{', '.join(kept)}", markup=False, highlight=False)
    console.print(f"coded {len(coded)} texts → {out}", highlight=False, markup=False)


def _read_texts(path: Path, format: str | None, text_column: str):
    """Any table with a text column (need not be a conversation table); empty texts are coded as such."""
    import pandas as pd

    from reciprocity.corpus import infer_format, read

    format = format or infer_format(path)
    if text_column == "text" and format == "convokit":
        return read(path, format)
    readers = {"csv": lambda p: pd.read_csv(p, keep_default_na=False, na_values=[""]),
               "jsonl": lambda p: pd.read_json(p, lines=True), "parquet": pd.read_parquet}
    try:
        table = readers[format](path)
    except Exception as error:
        raise InputError(Problem(str(path), "file", None, f"cannot read as {format}: {error}")) from None
    if text_column not in table.columns:
        raise InputError(Problem(str(path), "header", text_column, "no such column"))
    table[text_column] = table[text_column].fillna("").astype(str)
    return table


@app.command()
def train(
    data: Annotated[Path, typer.Option(help="Folder with the shared datasets (offmychest/, question_intimacy/, tweet_intimacy/; for distillation also topical_chat/, persuasionforgood/, casino/).")] = Path("../shared/data"),
    out: Annotated[Optional[Path], typer.Option(help="Where to write the artefact (default: the package's bundled artefact).")] = None,
    seed: Annotated[int, typer.Option(help="Seed for cross-validation and training.")] = 0,
    tier: TierOption = Tier.fast,
    distill: Annotated[bool, typer.Option(help="Fast tier: also learn from the accurate tier's teacher logits on "
                                               "unlabelled conversation sentences (as shipped).")] = True,
) -> None:
    """Rebuild a detector artefact from the human-labelled data, deterministically."""
    from reciprocity.detect import train as train_tier

    try:
        metrics = train_tier(data, out, tier=tier.value, seed=seed, distill=distill)
    except (FileNotFoundError, InputError, ImportError) as error:
        _fail(str(error))
    console.print_json(data=metrics)


@app.command()
def outcomes(
    input: Annotated[Path, typer.Argument(help="Utterance table carrying the outcome column(s).")],
    outcome: Annotated[list[str], typer.Option("--outcome", help="Outcome column (repeatable), e.g. donation.")],
    format: FormatOption = None,
    covariate: Annotated[Optional[list[str]], typer.Option("--covariate", help="Dyad-level covariate column (repeatable).")] = None,
    use_codes: Annotated[bool, typer.Option("--use-codes", help="Analyse the input's own codes instead of the detector's.")] = False,
    standardize: Annotated[bool, typer.Option("--standardize", help="Standardised coefficients (z-scored outcome and predictors).")] = False,
    seed: Annotated[int, typer.Option(help="Seed for the null baselines.")] = 0,
    out: Annotated[Path, typer.Option("--out", "-o", help="CSV of the tidy regression table.")] = Path("out/outcomes.csv"),
) -> None:
    """Relate dyad reciprocity measures to outcomes: OLS with HC3 robust standard errors, one model per measure.

    Outcome and covariate columns are averaged per conversation (person-level outcomes → dyad mean);
    for actor–partner models of person-level outcomes use ``reciprocity.outcomes.apim`` from Python.
    """
    from reciprocity.analyze import analyze as run_analysis
    from reciprocity.corpus import read
    from reciprocity.outcomes import relate_outcomes
    from reciprocity.schema import CONVERSATION

    covariates = covariate or []
    try:
        table = read(input, format)
        missing = [c for c in [*outcome, *covariates] if c not in table.columns]
        if missing:
            raise InputError(Problem(str(input), "header", missing[0], "no such outcome/covariate column"))
        _check_numeric(table, [*outcome, *covariates], str(input))
        result = run_analysis(table, use_codes=use_codes, seed=seed, n_permutations=0, source=str(input))
    except (InputError, FileNotFoundError, ImportError) as error:
        _fail(str(error))
    values = result.utterances.groupby(CONVERSATION)[[*outcome, *covariates]].mean(numeric_only=True)
    dyads = result.conversations.merge(values, left_on=CONVERSATION, right_index=True, how="left")
    tidy = relate_outcomes(dyads, outcome, covariates=covariates, standardize=standardize)
    out.parent.mkdir(parents=True, exist_ok=True)
    tidy.to_csv(out, index=False)
    focal = tidy.loc[tidy["term"] == tidy["model"]]
    for row in focal.itertuples():
        line = (f"{row.outcome:<20} {row.term:<28} not estimated: {row.note}  n = {row.n}" if row.note else
                f"{row.outcome:<20} {row.term:<28} b = {row.estimate:+.3f} "
                f"[{row.ci_low:+.3f}, {row.ci_high:+.3f}]  p = {row.p:.3f}  n = {row.n}")
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    console.print(f"table → {out}", highlight=False)


def _check_numeric(table, columns: list[str], source: str) -> None:
    """Outcomes and covariates are averaged per conversation: every given value must be a number."""
    import numpy as np
    import pandas as pd

    problems = []
    locations = table.attrs.get("locations") or [f"row {i + 1}" for i in range(len(table))]
    for column in columns:
        values = table[column]
        bad = np.flatnonzero((pd.to_numeric(values, errors="coerce").isna() & values.notna()).to_numpy())
        problems += [Problem(source, locations[row], column,
                             f"not a number: {values.iloc[row]!r} (utterance id {table['id'].iloc[row]!r})")
                     for row in bad]
    if problems:
        raise InputError(problems)


def _register_extensions() -> None:
    """Commands that live next to their library code (simulator, report)."""
    from reciprocity.model.cli import register as register_model
    from reciprocity.report.cli import register as register_report

    register_model(app)
    register_report(app)


_register_extensions()


def main() -> None:  # pragma: no cover - console entry
    app(prog_name="reciprocity")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
