"""Command-line interface: a thin Typer layer over the library."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from reciprocity.errors import InputError

app = typer.Typer(
    help="Measure, analyse and model reciprocal self-disclosure in conversations.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)

FormatOption = Annotated[
    Optional[str], typer.Option("--format", "-f", help="csv, jsonl, parquet or convokit (default: from the path).")
]


def _fail(message: str) -> None:
    console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=1)


def _report_skipped(table) -> None:
    skipped = table.attrs.get("skipped", [])
    if skipped:
        console.print(f"[yellow]skipped {len(skipped)} invalid row(s):[/]")
        for problem in skipped:
            console.print(f"  {problem}", highlight=False, soft_wrap=True)


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
    permutations: Annotated[int, typer.Option(help="Shuffles for the null baseline.")] = 200,
    skip_invalid: Annotated[bool, typer.Option("--skip-invalid", help="Skip invalid rows (each one is reported) instead of stopping.")] = False,
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
                table, use_codes=use_codes, n_permutations=permutations, seed=seed, source=str(input),
                progress=lambda done, total: progress.update(task, completed=done),
            )
        paths = result.save(out)
    except (InputError, FileNotFoundError) as error:
        _fail(str(error))
    summary = result.summary
    console.print(
        f"analysed {summary['n_utterances']} utterances in {summary['n_conversations']} conversations "
        f"(codes: {summary['codes']}); disclosure rate {summary['disclosure_rate']:.2f}, mean depth {summary['mean_depth']:.2f}"
    )
    for name, path in paths.items():
        console.print(f"  {name:<14} {path}", highlight=False)


@app.command()
def detect(
    input: Annotated[Optional[Path], typer.Argument(help="Table to code (any supported format).")] = None,
    text: Annotated[Optional[str], typer.Option("--text", help="Code a single text and print the result.")] = None,
    text_column: Annotated[str, typer.Option("--text-column", help="Column holding the text.")] = "text",
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Output file (.csv, .jsonl or .parquet).")] = None,
    format: FormatOption = None,
) -> None:
    """Disclosure codes (info/emo probabilities, disclosure, depth, layer, topics) for texts."""
    import json

    import pandas as pd

    from reciprocity.corpus import write

    if (text is None) == (input is None):
        _fail("give either --text TEXT or an INPUT file (with --out FILE)")
    from reciprocity.detect import detect as run_detector

    if text is not None:
        codes = run_detector([text]).iloc[0].to_dict()
        codes = {k: (v.item() if hasattr(v, "item") else v) for k, v in codes.items()}
        typer.echo(json.dumps({"text": text, **codes}, ensure_ascii=False))
        return
    if out is None:
        _fail("--out FILE is required with an INPUT file")
    try:
        table = _read_texts(input, format, text_column)
    except InputError as error:
        _fail(str(error))
    with _progress() as progress:
        task = progress.add_task("detecting disclosure", total=len(table))
        parts = []
        for start in range(0, len(table), 4096):
            batch = table[text_column].iloc[start:start + 4096]
            parts.append(run_detector(batch).set_index(batch.index))
            progress.update(task, completed=start + len(batch))
    coded = pd.concat([table, pd.concat(parts)], axis=1) if parts else table
    write(coded, out)
    console.print(f"coded {len(coded)} texts → {out}", highlight=False)


def _read_texts(path: Path, format: str | None, text_column: str):
    """Any table with a text column (need not be a conversation table); empty texts are coded as such."""
    import pandas as pd

    from reciprocity.corpus import infer_format, read
    from reciprocity.errors import Problem

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
    data: Annotated[Path, typer.Option(help="Folder with the shared datasets (offmychest/, question_intimacy/, tweet_intimacy/).")] = Path("../shared/data"),
    out: Annotated[Optional[Path], typer.Option(help="Where to write the artefact (default: the package's bundled artefact).")] = None,
    seed: Annotated[int, typer.Option(help="Seed for cross-validation and training.")] = 0,
) -> None:
    """Rebuild the detector artefact from the human-labelled data, deterministically."""
    from reciprocity.detect import train_detector

    try:
        metrics = train_detector(data, out, seed=seed)
    except (FileNotFoundError, InputError) as error:
        _fail(str(error))
    console.print_json(data=metrics)


def main() -> None:  # pragma: no cover - console entry
    app(prog_name="reciprocity")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
