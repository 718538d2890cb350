"""Self-contained HTML report of an analysis.

One file, no network: plotly.js is embedded once, the analysis is embedded once as compact JSON
(:func:`reciprocity.report.data.build_payload`), and every figure — overview, onion, reciprocity maps and the
per-conversation plots of the conversation browser — is drawn in the browser from that data. Per-conversation
figures are built only when a conversation is picked, so the page stays small and fast for thousands of
conversations (about 1 KB per 15-turn conversation of short utterances, plus ~4.7 MB of plotly.js).
"""

from __future__ import annotations

import html
import json
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from reciprocity.report.data import build_payload

if TYPE_CHECKING:
    from reciprocity.analyze import Analysis

#: Okabe–Ito colour-blind-safe palette (speakers use it in this order).
PALETTE = ["#0072B2", "#009E73", "#CC79A7", "#000000", "#E69F00", "#56B4E9", "#D55E00", "#F0E442"]
#: Layer colours: 0 none (grey), 1 peripheral (sky blue), 2 intermediate (orange), 3 core (vermillion).
LAYER_COLORS = ["#BBBBBB", "#56B4E9", "#E69F00", "#D55E00"]
#: Plotly div ids of the corpus-level figures (the conversation browser adds ``trajectory``, ``onion-conv`` and,
#: for multi-party conversations, ``group-conv``).
CORPUS_FIGURES = ("fig-layers", "fig-topics", "fig-reciprocity", "fig-alerts", "fig-stages", "fig-onion-corpus",
                  "fig-lagseq", "fig-forest", "fig-group")


@lru_cache(maxsize=1)
def _template() -> str:
    return resources.files("reciprocity.report").joinpath("template.html").read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def _plotly_js() -> str:
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def _json_for_script(payload: dict) -> str:
    """JSON safe inside a <script> element (no '</script>' or '<!--' can appear)."""
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def render_report(analysis: Analysis, *, title: str | None = None) -> str:
    """The report page as a string."""
    payload = build_payload(analysis)
    source = payload["meta"]["source"]
    page_title = title or (f"reciprocity report — {source}" if source else "reciprocity report")
    template = _template()
    head, rest = template.split("/*__PLOTLYJS__*/", 1)
    middle, tail = rest.split("__DATA__", 1)
    head = head.replace("__TITLE__", html.escape(page_title))
    return "".join([head, _plotly_js(), middle, _json_for_script(payload), tail])


def write_report(analysis: Analysis, path: str | Path, *, title: str | None = None) -> Path:
    """Write the self-contained ``report.html`` for an :class:`~reciprocity.analyze.Analysis`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report(analysis, title=title), encoding="utf-8")
    return path
