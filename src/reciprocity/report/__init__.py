"""Self-contained HTML report of an analysis."""

from reciprocity.report.html import write_report

__all__ = ["write_report"]
