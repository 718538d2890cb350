"""Static PNG/SVG export of the report's figures, for papers.

The figures are drawn by the report page itself, in headless Chromium, and saved with ``Plotly.toImage`` —
the same route plotly's own static export (kaleido) takes, without its extra dependency and fully offline. So
an exported figure is exactly the figure in ``report.html``. Needs a Chromium-family browser (Debian:
``apt-get install chromium``; or set ``RECIPROCITY_BROWSER``).
"""

from __future__ import annotations

import base64
import json
import re
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote

from reciprocity.report.browser import Browser, BrowserError
from reciprocity.report.html import write_report

if TYPE_CHECKING:
    from reciprocity.analyze import Analysis

FORMATS = ("png", "svg")
#: Width in CSS pixels of exported figures (PNG at ``scale`` × that).
EXPORT_WIDTH = 1100


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_")[:80] or "figure"


def _decode(url: str, fmt: str) -> bytes:
    header, _, body = url.partition(",")
    if ";base64" in header:
        return base64.b64decode(body)
    return unquote(body).encode("utf-8") if fmt == "svg" else body.encode()


def export_figures(analysis: Analysis, out_dir: str | Path, formats: Sequence[str] = FORMATS, *,
                   conversations: Iterable[str] | None = None, max_conversations: int = 10,
                   width: int = EXPORT_WIDTH, scale: float = 2.0, browser: str | None = None,
                   report: str | Path | None = None) -> list[Path]:
    """Save every report figure as PNG and/or SVG under ``out_dir``; returns the files written.

    Corpus figures are named after what they show (``overview_layers``, ``corpus_onion``, ``lag_sequential``,
    ``dyad_forest_partner_slope``, …); per-conversation figures ``conversation_<id>_trajectory`` /
    ``_onion`` / ``_group_matrix`` for ``conversations`` (ids; default: the first ``max_conversations``).
    ``report`` reuses an already written report.html instead of rendering a new one.
    Raises :class:`~reciprocity.report.browser.BrowserError` when no browser is available.
    """
    formats = tuple(f.lower().lstrip(".") for f in formats)
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown:
        raise ValueError(f"unsupported figure format(s) {unknown}: use png and/or svg")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="reciprocity-export-") as tmp:
        page = Path(report) if report is not None else write_report(analysis, Path(tmp) / "report.html")
        with Browser(browser, width=width + 140, height=900, timeout=120) as chrome:
            chrome.goto(page, timeout=180)
            chrome.wait_until("document.body.getAttribute('data-ready') === '1'", timeout=120)
            if chrome.console_errors:
                raise BrowserError("the report page reported errors: " + "; ".join(chrome.console_errors[:3]))

            def save(figure_id: str, name: str) -> None:
                for fmt in formats:
                    url = chrome.evaluate(
                        f"window.reciprocityReport.toImage({json.dumps(figure_id)}, {json.dumps(fmt)}, {width}, "
                        f"null, {scale if fmt == 'png' else 1})", timeout=120)
                    path = out / f"{_safe(name)}.{fmt}"
                    path.write_bytes(_decode(url, fmt))
                    written.append(path)

            corpus = chrome.evaluate("window.reciprocityReport.figures()")
            conversation_ids = {"trajectory", "onion-conv", "group-conv"}
            for figure in corpus:
                if figure["id"] in conversation_ids:
                    continue
                if figure["id"] == "fig-forest":
                    n_stats = chrome.evaluate("document.getElementById('forest-stat').options.length")
                    for k in range(n_stats):
                        name = chrome.evaluate(
                            "(() => { const s = document.getElementById('forest-stat');"
                            f" s.value = '{k}'; s.dispatchEvent(new Event('change'));"
                            " return window.reciprocityReport.figures().find(f => f.id === 'fig-forest').name; })()")
                        save("fig-forest", name)
                    continue
                save(figure["id"], figure["name"])

            ids = chrome.evaluate("window.reciprocityReport.conversations()")
            if conversations is None:
                chosen = list(range(min(max_conversations, len(ids))))
            else:
                index = {cid: i for i, cid in enumerate(ids)}
                missing = [c for c in conversations if str(c) not in index]
                if missing:
                    raise KeyError(f"no such conversation(s): {missing[:5]}")
                chosen = [index[str(c)] for c in conversations]
            for c in chosen:
                figures = chrome.evaluate(f"window.reciprocityReport.show({c})")
                for figure in figures:
                    if figure["id"] in conversation_ids:
                        save(figure["id"], f"conversation_{ids[c]}_{figure['name']}")
    return written
