"""The one shape every chart, table and CSV file is drawn from: a titled table with a chart hint.

A series is a plain dict (it goes through the cache and out as JSON unchanged)::

    {"name": "listings_per_day", "title": "...", "columns": ["day", "marketplace", "listings"],
     "rows": [["2026-12-01", "ebay", 3], ...], "chart": {"type": "line", "x": "day", "y": ["listings"],
     "group": "marketplace"}}

``chart.group`` names the column whose values become one line or bar set each; without it every
``chart.y`` column is one. ``chart`` is None for a table without a chart.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

Series = dict[str, Any]


def make_series(
    name: str,
    title: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    chart: str | None = "line",
    x: str | None = None,
    y: Sequence[str] | None = None,
    group: str | None = None,
    stacked: bool = False,
) -> Series:
    """A series; ``x`` defaults to the first column and ``y`` to the last."""
    hint = None
    if chart is not None:
        hint = {"type": chart, "x": x or columns[0], "y": list(y or [columns[-1]]), "group": group, "stacked": stacked}
    return {"name": name, "title": title, "columns": list(columns), "rows": [list(row) for row in rows], "chart": hint}


def to_csv(series: Series) -> str:
    """The series as CSV text with a header row (cells that a spreadsheet would run as formulas are quoted)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(series["columns"])
    for row in series["rows"]:
        writer.writerow([_cell(value) for value in row])
    return buffer.getvalue()


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
