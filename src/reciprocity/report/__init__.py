"""Self-contained HTML report of an analysis, static figure export and the ``report`` command."""

from reciprocity.report.html import render_report, write_report

__all__ = ["export_figures", "render_report", "write_report"]


def __getattr__(name: str):  # lazy: the export module pulls in the browser driver
    if name == "export_figures":
        from reciprocity.report.export import export_figures

        return export_figures
    raise AttributeError(name)
