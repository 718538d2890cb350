"""Self-contained HTML report: corpus summary, metrics table, a depth/breadth trajectory per conversation.

Plotly's JavaScript is embedded once, so the file works offline (no CDN).
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from reciprocity.schema import CONVERSATION, SPEAKER

if TYPE_CHECKING:
    from reciprocity.analyze import Analysis

#: Okabe–Ito colour-blind-safe palette.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]
MAX_PLOTTED_CONVERSATIONS = 100
TABLE_COLUMNS = [
    CONVERSATION, "n_utterances", "n_speakers", "disclosure_rate", "mean_depth", "max_depth", "breadth",
    "balance_index", "depth_slope", "lagged_matching", "lagged_matching_p", "conditional_reciprocity",
    "conditional_reciprocity_p",
]


def trajectory_figure(utterances: pd.DataFrame, conversation: str) -> go.Figure:
    """Depth per turn for each speaker, with cumulative dyad depth and breadth."""
    rows = utterances.loc[utterances[CONVERSATION] == conversation]
    figure = make_subplots(specs=[[{"secondary_y": True}]])
    for index, (speaker, turns) in enumerate(rows.groupby(SPEAKER, sort=False)):
        figure.add_trace(go.Scatter(
            x=turns["turn"], y=turns["depth"], mode="lines+markers", name=f"{speaker}: depth",
            line={"color": PALETTE[index % len(PALETTE)]},
            text=turns["text"].str.slice(0, 120), hovertemplate="turn %{x}<br>depth %{y:.2f}<br>%{text}<extra></extra>",
        ))
    figure.add_trace(go.Scatter(x=rows["turn"], y=rows["cum_max_depth"], mode="lines", name="deepest so far",
                                line={"color": "#555555", "dash": "dot"}))
    figure.add_trace(go.Scatter(x=rows["turn"], y=rows["cum_breadth"], mode="lines", name="breadth (topics opened)",
                                line={"color": "#009E73", "shape": "hv"}), secondary_y=True)
    figure.update_layout(
        title=f"Depth and breadth over turns — {conversation}", height=340, margin={"l": 60, "r": 60, "t": 50, "b": 40},
        legend={"orientation": "h", "y": -0.25}, template="plotly_white",
    )
    figure.update_xaxes(title_text="turn")
    figure.update_yaxes(title_text="depth (0 none … 3 core)", range=[-0.1, 3.1], secondary_y=False)
    figure.update_yaxes(title_text="distinct topics", rangemode="tozero", secondary_y=True)
    return figure


def _summary_html(summary: dict) -> str:
    lag = summary["reciprocity"]["lagged_matching"]
    rec = summary["reciprocity"]["conditional_reciprocity"]

    def fmt(value: float | None) -> str:
        return "n/a" if value is None or pd.isna(value) else f"{value:.3f}"

    items = [
        ("Conversations", summary["n_conversations"]),
        ("Utterances", summary["n_utterances"]),
        ("Codes from", summary["codes"]),
        ("Disclosure rate", fmt(summary["disclosure_rate"])),
        ("Mean depth", fmt(summary["mean_depth"])),
        ("Lagged matching (Fisher-z mean)", f"{fmt(lag['observed'])} vs shuffle null {fmt(lag['null_mean'])}, "
                                            f"p = {fmt(lag['p_value'])}, 95% CI [{fmt(lag['ci95'][0])}, {fmt(lag['ci95'][1])}]"),
        ("Conditional reciprocity (mean)", f"{fmt(rec['observed'])} vs shuffle null {fmt(rec['null_mean'])}, "
                                           f"p = {fmt(rec['p_value'])}, 95% CI [{fmt(rec['ci95'][0])}, {fmt(rec['ci95'][1])}]"),
        ("Skipped input rows", len(summary.get("skipped_rows", []))),
    ]
    cells = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in items)
    return f"<table class='summary'>{cells}</table>"


def write_report(analysis: Analysis, path: str | Path) -> Path:
    """Write ``report.html`` for an :class:`~reciprocity.analyze.Analysis`."""
    path = Path(path)
    conversations = analysis.conversations
    shown = conversations[CONVERSATION].head(MAX_PLOTTED_CONVERSATIONS).tolist()
    figures = []
    for index, conversation in enumerate(shown):
        figure = trajectory_figure(analysis.utterances, conversation)
        figures.append(figure.to_html(full_html=False, include_plotlyjs=(index == 0), div_id=f"trajectory-{index}"))
    omitted = len(conversations) - len(shown)
    note = f"<p>{omitted} more conversations are in the metrics table (plots shown for the first {len(shown)}).</p>" if omitted else ""
    table = conversations[[c for c in TABLE_COLUMNS if c in conversations.columns]].to_html(
        index=False, float_format=lambda v: f"{v:.3f}", na_rep="–", classes="metrics", border=0
    )
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>reciprocity report</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; }}
table {{ border-collapse: collapse; font-size: 0.9rem; }} th, td {{ padding: 0.25rem 0.6rem; border-bottom: 1px solid #ddd; text-align: left; }}
.metrics {{ display: block; overflow-x: auto; }} .summary th {{ width: 18rem; }}
</style></head><body>
<h1>Self-disclosure and reciprocity report</h1>
<p>Source: {html.escape(str(analysis.summary.get("source", "")))}. Depth layers: 0 none, 1 peripheral, 2 intermediate,
3 core. Reciprocity is compared against a within-speaker shuffle null (one-sided permutation p-values).</p>
<h2>Corpus</h2>{_summary_html(analysis.summary)}
<h2>Conversations</h2>{table}
<h2>Trajectories</h2>{note}{''.join(figures)}
</body></html>"""
    path.write_text(page, encoding="utf-8")
    return path
