"""The JSON report: the scan's metadata, severity counts and every finding with its catalogue facts."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from spyglass.scanner.reports import ReportItem, ReportMeta, ordered, severity_counts


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def finding_dict(item: ReportItem) -> dict[str, Any]:
    """One finding as plain JSON data (also used by the CSV report)."""
    finding, kind = item.finding, item.type
    return {
        "fingerprint": finding.fingerprint,
        "type": kind.id,
        "title": kind.title,
        "family": kind.family,
        "severity": kind.severity,
        "confidence": finding.confidence,
        "priority": item.priority,
        "threat_class": item.threat_class,
        "status": item.status,
        "url": finding.url,
        "method": finding.method,
        "parameter": finding.parameter,
        "payload": finding.payload,
        "evidence": finding.evidence,
        "request": finding.request,
        "response": finding.response,
        "cwe": kind.cwe,
        "owasp": kind.owasp,
        "cvss_vector": kind.cvss_vector,
        "cvss_score": kind.cvss_score,
        "description": kind.description,
        "remediation": kind.remediation,
        "references": list(kind.references),
    }


def render_json(items: Sequence[ReportItem], meta: ReportMeta) -> str:
    """The report as indented JSON."""
    document = {
        "tool": {"name": "Spyglass", "version": meta.tool_version},
        "scan": {
            "id": meta.scan_id,
            "target": meta.target,
            "profile": meta.profile,
            "started_at": _when(meta.started_at),
            "finished_at": _when(meta.finished_at),
            "risk_score": meta.risk_score,
            "pages_crawled": meta.pages_crawled,
            "requests_sent": meta.requests_sent,
            "stopped_reason": meta.stopped_reason,
        },
        "counts": severity_counts(items),
        "findings": [finding_dict(item) for item in ordered(items)],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
