"""``reciprocity report``: rebuild the report (and static figures) from the saved outputs of ``analyze``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

console = Console(stderr=True)


def register(app: typer.Typer) -> None:
    """Add the ``report`` command to ``app``."""

    @app.command("report")
    def report(
        out_dir: Annotated[Path, typer.Argument(help="Output folder of `reciprocity analyze` (utterances.parquet, summary.json, …).")],
        figures: Annotated[Optional[Path], typer.Option("--figures", help="Also save every figure as PNG/SVG into this folder (needs Chromium).")] = None,
        html: Annotated[Optional[Path], typer.Option("--html", help="Where to write the report (default: OUT_DIR/report.html).")] = None,
        formats: Annotated[str, typer.Option("--formats", help="Figure formats, comma-separated: png, svg.")] = "png,svg",
        conversations: Annotated[int, typer.Option("--conversations", help="Export per-conversation figures for the first N conversations.")] = 10,
    ) -> None:
        """Rebuild report.html from saved analysis outputs; optionally export static figures for papers."""
        from reciprocity.errors import InputError
        from reciprocity.report.browser import BrowserError
        from reciprocity.report.html import write_report
        from reciprocity.report.load import load_analysis

        def fail(message: str) -> None:
            console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
            raise typer.Exit(code=1)

        try:
            analysis = load_analysis(out_dir)
        except (InputError, FileNotFoundError, OSError, ValueError) as error:
            fail(str(error))
        target = html or out_dir / "report.html"
        path = write_report(analysis, target)
        console.print(f"report        {path} ({path.stat().st_size / 1e6:.1f} MB)", highlight=False)
        if figures is not None:
            from reciprocity.report.export import export_figures

            chosen = tuple(f.strip() for f in formats.split(",") if f.strip())
            try:
                written = export_figures(analysis, figures, chosen, max_conversations=conversations, report=path)
            except (BrowserError, ValueError) as error:
                fail(f"figure export failed: {error}")
            console.print(f"figures       {len(written)} files in {figures}", highlight=False)
