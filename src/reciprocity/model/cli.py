"""CLI commands of the simulator: ``reciprocity simulate`` and ``reciprocity fit`` (wired by :func:`register`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

console = Console(stderr=True)


def _fail(message: str) -> None:
    console.print(Text.assemble(("error: ", "bold red"), message), highlight=False, soft_wrap=True)  # verbatim
    raise typer.Exit(code=1)


def fit_warnings(result) -> list[str]:
    """Plain-language warnings about a :class:`~reciprocity.model.fit.FitResult`: estimates at a bound of their
    box, moments far off (|z| > 3), no convergence."""
    from reciprocity.model.fit import FIT_BOUNDS

    out = []
    for name, value in result.estimates.items():
        low, high = FIT_BOUNDS[name]
        if min(value - low, high - value) <= 0.01 * (high - low):
            side = "lower" if value - low <= high - value else "upper"
            out.append(f"{name} = {value:.3f} sits at the {side} bound of its range [{low:g}, {high:g}]; its interval "
                       "is cut there and the data may want a value outside what the model allows")
    worst = float(result.moments["z"].abs().max())
    if worst > 3:
        out.append(f"the model misses some moments by up to {worst:.1f} standard errors (see fit.json → moments): "
                   "read the estimates as the closest setting to these data, not as a good fit (docs/simulator.md §4)")
    if not result.converged:
        out.append("the least-squares search did not converge; try more --max-evals or --starts")
    return out


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console, transient=True)


def _overrides(pairs: list[str]) -> dict:
    from reciprocity.model.params import FIELD_NAMES, INT_FIELDS

    values = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep:
            raise ValueError(f"--set {pair!r}: expected KEY=VALUE")
        if key not in FIELD_NAMES:
            raise ValueError(f"--set {pair!r}: {key!r} is not a parameter; parameters: {', '.join(FIELD_NAMES)} "
                             "(moderators go in a scenario file's [moderators] table; the seed is --seed)")
        try:
            values[key] = int(value) if key in INT_FIELDS else float(value)
        except ValueError:
            kind = "an integer" if key in INT_FIELDS else "a number"
            raise ValueError(f"--set {pair!r}: {key} must be {kind}, got {value.strip()!r}") from None
    return values


def simulate_command(
    scenario: Annotated[str, typer.Argument(help="Scenario name in scenarios/ (e.g. baseline) or a TOML file.")] = "baseline",
    out: Annotated[Path, typer.Option("--out", "-o", help="Output table: .parquet (streamed in chunks), .csv or .jsonl.")] = Path("simulated.parquet"),
    dyads: Annotated[Optional[int], typer.Option("--dyads", "-n", help="Conversations to simulate (default: the scenario's, else 1000).")] = None,
    turns: Annotated[Optional[int], typer.Option("--turns", "-t", help="Turns per conversation (default: the scenario's, else 60).")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Random seed (default: the scenario's, else 0).")] = None,
    chunk_size: Annotated[int, typer.Option("--chunk-size", help="Conversations simulated per chunk (bounds memory).")] = 50_000,
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="Override a parameter, KEY=VALUE (repeatable).")] = None,
) -> None:
    """Simulate conversations under a scenario and write the utterance table with true latent trust/intimacy."""
    from reciprocity.corpus import write
    from reciprocity.errors import InputError
    from reciprocity.model.params import find_scenario
    from reciprocity.model.simulate import simulate_chunks, simulate_to_parquet

    try:
        chosen = find_scenario(scenario)
        params = chosen.params.replace(**_overrides(set_ or []))
        n = dyads if dyads is not None else chosen.n_dyads or 1000
        t = turns if turns is not None else chosen.n_turns or 60
        s = seed if seed is not None else (chosen.seed or 0)
        if n < 1 or t < 1 or chunk_size < 1:
            raise ValueError("--dyads, --turns and --chunk-size must be positive")
        suffix = out.suffix.lower()
        if suffix not in (".parquet", ".pq", ".csv", ".jsonl"):
            raise ValueError(f"--out {out}: use a .parquet, .csv or .jsonl file")
        with _progress() as progress:
            task = progress.add_task(f"simulating {chosen.name}", total=n)
            if suffix in (".parquet", ".pq"):
                simulate_to_parquet(params, out, n, t, s, chunk_size=chunk_size,
                                    progress=lambda done, total: progress.update(task, completed=done))
            else:
                import pandas as pd

                parts = []
                for part in simulate_chunks(params, n, t, s, chunk_size=chunk_size):
                    parts.append(part)
                    progress.update(task, advance=part["conversation_id"].nunique())
                write(pd.concat(parts, ignore_index=True), out)
    except (InputError, FileNotFoundError, ValueError, OSError) as error:
        _fail(str(error))
    console.print(f"simulated {n} conversations x {t} turns ({chosen.name}, seed {s}) → {out}", highlight=False)


def fit_command(
    input: Annotated[Path, typer.Argument(help="Coded utterance table (CSV, JSONL, Parquet or ConvoKit) — or uncoded, see --detect.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory for params.json and fit.json.")] = Path("fit"),
    format: Annotated[Optional[str], typer.Option("--format", "-f", help="csv, jsonl, parquet or convokit (default: from the path).")] = None,
    detect: Annotated[bool, typer.Option("--detect", help="Code the texts with the bundled detector instead of using the table's disclosure/depth columns.")] = False,
    base: Annotated[Optional[str], typer.Option("--base", help="Scenario holding the parameters that are not fitted (default: baseline Params).")] = None,
    parameters: Annotated[Optional[str], typer.Option("--parameters", help="Comma-separated parameters to fit (default: disclosure_bias, reciprocity, depth_noise, intimacy0; pace is weakly identified and only fitted on request).")] = None,
    seed: Annotated[int, typer.Option(help="Seed for the simulations (common random numbers) and the bootstrap.")] = 0,
    sim_ratio: Annotated[int, typer.Option("--sim-ratio", help="Simulated conversations per observed conversation.")] = 10,
    min_sim: Annotated[int, typer.Option("--min-sim", help="Simulate at least this many conversations per evaluation.")] = 3000,
    max_evals: Annotated[int, typer.Option("--max-evals", help="Evaluations per local least-squares search.")] = 120,
    starts: Annotated[int, typer.Option("--starts", help="Local searches, from the best Latin-hypercube screen points.")] = 3,
    weighting: Annotated[str, typer.Option("--weighting", help="Moment weighting: optimal (inverse bootstrap covariance) or diagonal.")] = "optimal",
) -> None:
    """Fit the simulator's identifiable parameters to coded conversations (simulated method of moments)."""
    from reciprocity.corpus import read
    from reciprocity.errors import InputError
    from reciprocity.model.fit import FIT_PARAMETERS, fit
    from reciprocity.model.params import find_scenario

    try:
        table = read(input, format)
        if detect or ("depth" not in table.columns and "disclosure" not in table.columns):
            from reciprocity import detect as run_detector

            console.print("coding texts with the detector …")
            table = run_detector(table.drop(columns=[c for c in ("disclosure", "depth", "layer", "topics")
                                                     if c in table.columns]))
        names = FIT_PARAMETERS if parameters is None else tuple(p.strip() for p in parameters.split(",") if p.strip())
        if not names:
            raise ValueError("--parameters is empty; name at least one parameter (or leave the option out)")
        base_params = find_scenario(base).params if base else None
        with _progress() as progress:
            task = progress.add_task("fitting (simulated method of moments)", total=None)
            if sim_ratio < 1 or min_sim < 1 or max_evals < 1 or starts < 1:
                raise ValueError("--sim-ratio, --min-sim, --max-evals and --starts must be positive")
            result = fit(table, base_params, names, seed=seed, sim_ratio=sim_ratio, min_sim=min_sim, max_evals=max_evals,
                         n_starts=starts, weighting=weighting,
                         progress=lambda done, total: progress.update(task, completed=done, total=total))
        paths = result.save(out)
    except (InputError, FileNotFoundError, ValueError, ImportError, OSError) as error:
        _fail(str(error))
    console.print(f"fitted {len(result.estimates)} parameters to {result.n_conversations} conversations "
                  f"({result.n_utterances} utterances); objective {result.objective:.2f}", highlight=False)
    for name, value in result.estimates.items():
        low, high = result.ci95[name]
        console.print(f"  {name:<18} {value:8.3f}  95% CI [{low:.3f}, {high:.3f}]", highlight=False, markup=False)
    worst = result.moments.loc[result.moments["z"].abs().idxmax()]
    console.print(f"  worst-fitting moment: {worst['moment']} (z = {worst['z']:.2f})", highlight=False)
    for warning in fit_warnings(result):
        console.print(Text.assemble(("warning: ", "yellow"), warning), highlight=False, soft_wrap=True)
    for name, path in paths.items():
        console.print(f"  {name:<14} {path}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add the ``simulate`` and ``fit`` commands to the toolkit's Typer app."""
    app.command("simulate")(simulate_command)
    app.command("fit")(fit_command)
