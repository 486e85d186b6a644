"""The SARIF 2.1.0 report, for code-scanning dashboards and CI (valid against the OASIS schema).

One run; one rule per finding type (CWE and OWASP category as tags, the CVSS score as GitHub's
``security-severity``); one result per finding with its URL as the location, the priority as
``rank``, the fingerprint as a partial fingerprint, and a suppression for findings the owner marked
a false positive or an accepted risk.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from spyglass.scanner.contract import FindingType
from spyglass.scanner.reports import ReportItem, ReportMeta, ordered

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
LEVELS = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
PRECISION = {"confirmed": "very-high", "firm": "high", "tentative": "medium"}
SUPPRESSED = {"false_positive": "marked a false positive", "accepted_risk": "risk accepted by the owner"}
EXCERPT = 2000


def _utc(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _rule_name(kind: FindingType) -> str:
    return "".join(word.capitalize() for word in re.split(r"[^A-Za-z0-9]+", kind.id) if word) or "Finding"


def _rule(kind: FindingType) -> dict[str, Any]:
    tags = ["security", kind.family]
    if kind.cwe:
        tags.append(f"CWE-{kind.cwe}")
    if kind.owasp:
        tags.append(f"OWASP-{kind.owasp.split('-', 1)[0]}")
    rule: dict[str, Any] = {
        "id": kind.id,
        "name": _rule_name(kind),
        "shortDescription": {"text": kind.title},
        "fullDescription": {"text": kind.description or kind.title},
        "help": {"text": kind.remediation or kind.title, "markdown": kind.remediation or kind.title},
        "defaultConfiguration": {"level": LEVELS[kind.severity]},
        "properties": {"tags": list(dict.fromkeys(tags)), "security-severity": f"{kind.cvss_score:.1f}"},
    }
    references = [ref for ref in kind.references if ref.startswith(("http://", "https://"))]
    if references:
        rule["helpUri"] = references[0]
    if kind.cvss_vector:
        rule["properties"]["cvssVector"] = kind.cvss_vector
    return rule


def _result(item: ReportItem, rule_index: int) -> dict[str, Any]:
    finding, kind = item.finding, item.type
    where = f" (parameter {finding.parameter})" if finding.parameter else ""
    message = f"{kind.title} at {finding.url}{where}."
    if finding.evidence:
        message += f" Evidence: {finding.evidence[:300]}"
    result: dict[str, Any] = {
        "ruleId": kind.id,
        "ruleIndex": rule_index,
        "level": LEVELS[kind.severity],
        "message": {"text": message},
        "locations": [{"physicalLocation": {"artifactLocation": {"uri": finding.url}}}],
        "partialFingerprints": {"spyglassFingerprint/v1": finding.fingerprint},
        "rank": float(max(0, min(100, item.priority))),
        "webRequest": {"method": finding.method, "target": finding.url},
        "properties": {
            "severity": kind.severity,
            "confidence": finding.confidence,
            "precision": PRECISION.get(finding.confidence, "medium"),
            "status": item.status,
            "threatClass": item.threat_class,
        },
    }
    for key in ("parameter", "payload"):
        value = getattr(finding, key)
        if value:
            result["properties"][key] = value
    if finding.request:
        result["webRequest"]["body"] = {"text": finding.request[:EXCERPT]}
    if finding.response:
        result["webResponse"] = {"body": {"text": finding.response[:EXCERPT]}}
    if item.status in SUPPRESSED:
        result["suppressions"] = [{"kind": "external", "status": "accepted", "justification": SUPPRESSED[item.status]}]
    return result


def render_sarif(items: Sequence[ReportItem], meta: ReportMeta) -> str:
    """The report as a SARIF 2.1.0 log (JSON text)."""
    listed = ordered(items)
    kinds: dict[str, FindingType] = {}
    for item in listed:
        kinds.setdefault(item.type.id, item.type)
    rule_ids = sorted(kinds)
    index = {rule_id: position for position, rule_id in enumerate(rule_ids)}
    invocation: dict[str, Any] = {"executionSuccessful": meta.stopped_reason is None}
    if meta.started_at is not None:
        invocation["startTimeUtc"] = _utc(meta.started_at)
    if meta.finished_at is not None:
        invocation["endTimeUtc"] = _utc(meta.finished_at)
    if meta.stopped_reason:
        invocation["exitCodeDescription"] = f"stopped early: {meta.stopped_reason}"
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "Spyglass",
                "version": meta.tool_version,
                "rules": [_rule(kinds[rule_id]) for rule_id in rule_ids],
            }
        },
        "invocations": [invocation],
        "originalUriBaseIds": {"TARGET": {"uri": meta.target}},
        "results": [_result(item, index[item.type.id]) for item in listed],
        "properties": {
            "profile": meta.profile,
            "riskScore": meta.risk_score,
            "pagesCrawled": meta.pages_crawled,
            "requestsSent": meta.requests_sent,
        },
    }
    if meta.scan_id is not None:
        run["automationDetails"] = {"id": f"spyglass/scan/{meta.scan_id}"}
    log = {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"
