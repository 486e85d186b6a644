"""The CSV report: one row per finding, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from spyglass.scanner.reports import ReportItem, ReportMeta, ordered
from spyglass.scanner.reports.json_report import finding_dict

COLUMNS = (
    "priority", "threat_class", "severity", "confidence", "status", "type", "title", "url", "method",
    "parameter", "payload", "evidence", "cwe", "owasp", "cvss_score", "cvss_vector", "remediation", "fingerprint",
)  # fmt: skip
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: object) -> str:
    """The cell text, with a leading ``'`` when a spreadsheet would run it as a formula (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def render_csv(items: Sequence[ReportItem], meta: ReportMeta) -> str:
    """The report as CSV with a header row (RFC 4180 quoting, CRLF line ends)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    for item in ordered(items):
        row = finding_dict(item)
        writer.writerow([spreadsheet_safe(row[column]) for column in COLUMNS])
    return buffer.getvalue()
