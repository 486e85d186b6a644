"""Scan reports: JSON, CSV, SARIF 2.1.0 and printable HTML, rendered from :class:`ReportItem` lists.

The renderers know nothing of the database: the web pages build the items from stored findings, and
``spyglass scan`` from what the pipeline reported. Items are listed by priority, highest first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from spyglass import __version__
from spyglass.scanner.contract import SEVERITIES, FindingCandidate, FindingType

ReportFormat = Literal["json", "csv", "sarif", "html"]
REPORT_FORMATS: tuple[ReportFormat, ...] = ("json", "csv", "sarif", "html")
MEDIA_TYPES = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "sarif": "application/sarif+json",
    "html": "text/html; charset=utf-8",
}
FILE_EXTENSIONS = {"json": "json", "csv": "csv", "sarif": "sarif", "html": "html"}


@dataclass(frozen=True)
class ReportItem:
    """One finding in a report: what was found, its catalogue entry, its 0-100 priority and its status."""

    finding: FindingCandidate
    type: FindingType
    priority: int = 0
    status: str = "open"
    threat_class: str = ""


@dataclass(frozen=True)
class ReportMeta:
    """What the report is about: the target, the scan and its outcome."""

    target: str
    scan_id: int | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    profile: str = "passive"
    risk_score: int = 0
    pages_crawled: int = 0
    requests_sent: int = 0
    stopped_reason: str | None = None
    tool_version: str = __version__


def ordered(items: Sequence[ReportItem]) -> list[ReportItem]:
    """Highest priority first; then by severity, type and URL so the order is stable."""
    return sorted(
        items,
        key=lambda item: (-item.priority, SEVERITIES.index(item.type.severity), item.type.id, item.finding.url),
    )


def severity_counts(items: Sequence[ReportItem]) -> dict[str, int]:
    """How many items of each severity, every severity present (0 when none)."""
    counts: dict[str, int] = dict.fromkeys(SEVERITIES, 0)
    for item in items:
        counts[item.type.severity] += 1
    return counts


def render_report(report_format: str, items: Sequence[ReportItem], meta: ReportMeta) -> str:
    """The report as text in ``report_format`` (one of :data:`REPORT_FORMATS`)."""
    from spyglass.scanner.reports.csv_report import render_csv
    from spyglass.scanner.reports.html_report import render_html
    from spyglass.scanner.reports.json_report import render_json
    from spyglass.scanner.reports.sarif import render_sarif

    renderers: dict[str, Callable[[Sequence[ReportItem], ReportMeta], str]] = {
        "json": render_json,
        "csv": render_csv,
        "sarif": render_sarif,
        "html": render_html,
    }
    if report_format not in renderers:
        raise ValueError(f"unknown report format {report_format!r}; choose one of {', '.join(REPORT_FORMATS)}")
    return renderers[report_format](items, meta)
