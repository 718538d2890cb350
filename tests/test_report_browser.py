"""End to end: the report in headless Chromium — no console errors, every figure drawn, the picker works, export.

Needs a Chromium-family browser (Debian: ``apt-get install chromium``; or set RECIPROCITY_BROWSER); skipped
without one. Screenshots go to tests/artifacts/ (gitignored).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import reciprocity
from reciprocity.report import export_figures, write_report
from reciprocity.report.browser import Browser, find_browser

from test_report import EXAMPLE, group_table

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"

pytestmark = pytest.mark.skipif(
    find_browser() is None,
    reason="no Chromium browser found (apt-get install chromium, or set RECIPROCITY_BROWSER): browser tests skipped",
)

DRAWN = """(id => { const d = document.getElementById(id);
  return {svg: d.querySelectorAll('.main-svg').length,
          marks: d.querySelectorAll('g.trace path, g.trace image, g.hm image').length,
          width: d.getBoundingClientRect().width, height: d.getBoundingClientRect().height}; })"""


@pytest.fixture(scope="module")
def analysis() -> reciprocity.Analysis:
    # detector codes give the onion its topics; the four-person chat gives a group matrix
    table = pd.concat([reciprocity.read(EXAMPLE), group_table().drop(columns=["depth", "topics"])], ignore_index=True)
    return reciprocity.analyze(table, n_permutations=50, seed=7, source="examples/conversations.csv + group chat")


@pytest.fixture(scope="module")
def report(analysis: reciprocity.Analysis) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return write_report(analysis, ARTIFACTS / "report.html")


@pytest.fixture(scope="module")
def page(report: Path):
    with Browser(width=1280, height=1000) as browser:
        browser.goto(report)
        browser.wait_until("document.body.getAttribute('data-ready') === '1'", timeout=60)
        yield browser


def select(browser: Browser, element: str, value: str) -> None:
    browser.evaluate(f"(() => {{ const s = document.getElementById({json.dumps(element)}); s.value = {json.dumps(value)};"
                     " s.dispatchEvent(new Event('change')); })()")


def test_no_console_errors_and_every_figure_drawn(page: Browser) -> None:
    assert page.console_errors == []
    figures = page.evaluate("window.reciprocityReport.figures()")
    ids = {f["id"] for f in figures}
    assert {"fig-layers", "fig-topics", "fig-reciprocity", "fig-alerts", "fig-stages", "fig-onion-corpus", "fig-lagseq",
            "fig-forest", "fig-group", "trajectory", "onion-conv"} <= ids
    for figure in figures:
        drawn = page.evaluate(f"{DRAWN}({json.dumps(figure['id'])})")
        assert drawn["svg"] >= 1 and drawn["marks"] > 0, (figure, drawn)
        assert drawn["width"] > 200 and drawn["height"] > 200, (figure, drawn)
        assert figure["title"] and figure["title"] != figure["name"]  # every figure says what it shows
    assert "not available" not in page.evaluate("document.body.innerText")


def test_picker_changes_the_plots(page: Browser) -> None:
    before = page.evaluate("document.getElementById('trajectory').layout.title.text")
    ids = page.evaluate("window.reciprocityReport.conversations()")
    target = ids.index("c04_one_sided_first_date")
    select(page, "conversation-picker", str(target))
    after = page.evaluate("document.getElementById('trajectory').layout.title.text")
    assert after != before and after.endswith("c04_one_sided_first_date")
    assert page.evaluate("document.getElementById('onion-conv').layout.title.text").endswith("c04_one_sided_first_date")
    assert page.evaluate("document.querySelectorAll('#transcript li').length") == 12
    assert page.evaluate("document.getElementById('group-conv') === null")
    # the multi-party conversation adds its group matrix
    select(page, "conversation-picker", str(ids.index("group_chat")))
    assert page.evaluate(f"{DRAWN}('group-conv')")["marks"] > 0
    assert page.evaluate("document.getElementById('onion-conv').layout.annotations.length") == 6  # all + 4 speakers + key
    assert page.console_errors == []


def test_filters_narrow_the_picker(page: Browser) -> None:
    total = page.evaluate("document.getElementById('conversation-picker').options.length")
    select(page, "filter-alert", "some")
    some = page.evaluate("document.getElementById('conversation-picker').options.length")
    select(page, "filter-alert", "none")
    none = page.evaluate("document.getElementById('conversation-picker').options.length")
    assert some + none == total and some > 0
    select(page, "filter-alert", "any")
    select(page, "filter-stage", "max0")
    stage = page.evaluate("document.getElementById('conversation-picker').options.length")
    assert stage < total
    select(page, "filter-stage", "any")
    assert page.console_errors == []


def test_screenshots(page: Browser) -> None:
    ids = page.evaluate("window.reciprocityReport.conversations()")
    select(page, "conversation-picker", str(ids.index("c01_reciprocal_coworkers")))
    shots = {"report_overview.png": "#overview", "report_onion.png": "#fig-onion-corpus",
             "report_reciprocity.png": "#reciprocity", "report_trajectory.png": "#trajectory",
             "report_conversation_onion.png": "#onion-conv"}
    for name, selector in shots.items():
        path = page.screenshot(ARTIFACTS / name, selector=selector)
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000
    page.screenshot(ARTIFACTS / "report_page.png")


def test_export_figures(analysis: reciprocity.Analysis, tmp_path: Path) -> None:
    files = export_figures(analysis, tmp_path / "figures", conversations=["c01_reciprocal_coworkers", "group_chat"])
    names = {f.name for f in files}
    for stem in ("overview_layers", "corpus_onion", "lag_sequential", "dyad_forest_lagged_matching", "group_matrix",
                 "conversation_c01_reciprocal_coworkers_trajectory", "conversation_group_chat_group_matrix"):
        assert {f"{stem}.png", f"{stem}.svg"} <= names, stem
    for path in files:
        data = path.read_bytes()
        if path.suffix == ".png":
            assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
        else:
            assert data.lstrip().startswith(b"<svg") and b"</svg>" in data[-20:]
