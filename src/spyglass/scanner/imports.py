"""Import another scanner's results: OWASP ZAP JSON, Nuclei JSONL, Wapiti JSON and SARIF.

Each parser turns the file into :class:`ImportedFinding` records: a :class:`FindingCandidate` (so the
findings store de-duplicates and carries status as for Spyglass's own findings) plus the tool's own
severity mapped to Spyglass's five levels, its title, CWE, description, remediation and references.
Findings of a kind Spyglass also detects are mapped to the catalogue's type (so a ZAP "CSP header not
set" and Spyglass's ``csp-missing`` are one finding); the rest get the type ``<tool>:<rule>``.
Bad files raise :class:`ImportFormatError` with a message that says what is wrong.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

from spyglass.core.errors import InvalidInput
from spyglass.scanner.contract import SEVERITIES, Confidence, FindingCandidate, Severity

MAX_IMPORT_BYTES = 50_000_000
MAX_FINDINGS = 50_000
TEXT_CAP = 20_000
IMPORT_FORMATS = ("zap", "nuclei", "wapiti", "sarif")

# ZAP plugin ids and Wapiti categories for kinds Spyglass's own checks report.
ZAP_TYPES = {
    "10038": "csp-missing", "10055": "csp-weak", "10035": "hsts-missing", "10021": "x-content-type-options-missing",
    "10020": "clickjacking-protection-missing", "10010": "cookie-no-httponly", "10011": "cookie-no-secure",
    "10054": "cookie-no-samesite", "10036": "server-version-disclosure", "10037": "server-version-disclosure",
    "10098": "cors-misconfiguration", "10202": "missing-csrf-token", "10040": "mixed-content",
    "10003": "vulnerable-js-library", "90022": "stack-trace-disclosure", "2": "private-ip-disclosure",
    "40012": "xss-reflected", "40014": "xss-stored", "40018": "sql-injection", "40019": "sql-injection",
    "40020": "sql-injection", "40021": "sql-injection", "40022": "sql-injection", "40024": "sql-injection",
    "90020": "os-command-injection", "6": "path-traversal", "10028": "open-redirect", "20019": "open-redirect",
    "40003": "crlf-injection", "90023": "xxe", "40046": "ssrf", "90035": "ssti", "90036": "ssti",
    "40028": "exposed-sensitive-file", "40029": "exposed-sensitive-file", "40034": "exposed-sensitive-file",
    "90019": "os-command-injection", "40017": "xss-reflected", "0": "directory-listing",
}  # fmt: skip
WAPITI_TYPES = {
    "Cross Site Scripting": "xss-reflected", "Reflected Cross Site Scripting": "xss-reflected",
    "Stored Cross Site Scripting": "xss-stored", "SQL Injection": "sql-injection",
    "Blind SQL Injection": "sql-injection", "Command execution": "os-command-injection",
    "Path Traversal": "path-traversal", "Open Redirect": "open-redirect", "CRLF Injection": "crlf-injection",
    "XML External Entity": "xxe", "Server Side Request Forgery": "ssrf", "Backup file": "exposed-sensitive-file",
    "Potentially dangerous file": "exposed-sensitive-file", "Cross Site Request Forgery": "missing-csrf-token",
    "Content Security Policy Configuration": "csp-missing",
    "Clickjacking Protection": "clickjacking-protection-missing",
    "MIME Type Confusion": "x-content-type-options-missing", "HttpOnly Flag cookie": "cookie-no-httponly",
    "Secure Flag cookie": "cookie-no-secure", "Strict Transport Security (HSTS)": "hsts-missing",
    "Server Side Template Injection": "ssti",
}  # fmt: skip
ZAP_RISK = {"0": "info", "1": "low", "2": "medium", "3": "high"}
ZAP_CONFIDENCE: dict[str, Confidence] = {"1": "tentative", "2": "firm", "3": "firm", "4": "confirmed"}
WAPITI_LEVEL = {0: "info", 1: "low", 2: "medium", 3: "high", 4: "critical"}
SARIF_LEVEL = {"error": "high", "warning": "medium", "note": "low", "none": "info"}


class ImportFormatError(InvalidInput):
    """The file is not a readable report of the chosen tool."""


@dataclass
class ImportedFinding:
    """One finding from another tool, ready for the findings store (``candidate.details`` carries the rest)."""

    source: str
    rule_id: str
    title: str
    severity: Severity
    candidate: FindingCandidate
    cwe: int | None = None
    description: str = ""
    remediation: str = ""
    references: list[str] = field(default_factory=list)


def severity_from_cvss(score: float) -> Severity:
    """CVSS 3.1 qualitative rating: 9+ critical, 7+ high, 4+ medium, above 0 low, 0 info."""
    if score >= 9:
        return "critical"
    if score >= 7:
        return "high"
    if score >= 4:
        return "medium"
    return "low" if score > 0 else "info"


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any, limit: int = TEXT_CAP) -> str:
    if value is None:
        return ""
    return (value if isinstance(value, str) else json.dumps(value))[:limit]


def _strip_tags(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def _cwe(value: Any) -> int | None:
    """The CWE number in ``79``, ``"cwe-79"`` or ``"external/cwe/cwe-79"``; None for none, ``-1`` or ``0``."""
    text = str(value or "").strip()
    if text.startswith("-"):
        return None
    match = re.search(r"(\d+)", text)
    number = int(match.group(1)) if match else 0
    return number if 0 < number < 100_000 else None


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:80] or "finding"


def _record(
    source: str,
    rule_id: str,
    type_id: str | None,
    *,
    title: str,
    severity: Severity,
    url: str,
    method: str = "GET",
    parameter: str | None = None,
    payload: str | None = None,
    evidence: str = "",
    request: str = "",
    response: str = "",
    confidence: Confidence = "firm",
    cwe: int | None = None,
    description: str = "",
    remediation: str = "",
    references: Iterable[str] = (),
) -> ImportedFinding:
    refs = [ref for ref in references if ref][:20]
    details = {
        "source": source,
        "rule": rule_id,
        "title": title[:200],
        "severity": severity,
        "cwe": cwe,
        "description": description[:TEXT_CAP],
        "remediation": remediation[:TEXT_CAP],
        "references": refs,
    }
    candidate = FindingCandidate(
        type_id=type_id or f"{source}:{_slug(rule_id)}",
        url=url,
        method=(method or "GET").upper()[:10],
        parameter=parameter or None,
        payload=payload or None,
        evidence=evidence[:TEXT_CAP],
        request=request[:TEXT_CAP],
        response=response[:TEXT_CAP],
        confidence=confidence,
        details=details,
    )
    return ImportedFinding(source, rule_id, title[:200], severity, candidate, cwe, description, remediation, refs)


# -- ZAP ---------------------------------------------------------------------
def parse_zap(data: Any) -> list[ImportedFinding]:
    """ZAP's "Traditional JSON" report: ``site[].alerts[].instances[]``."""
    sites = data.get("site") if isinstance(data, dict) else None
    if not isinstance(sites, list):
        raise ImportFormatError('This is not a ZAP JSON report: it has no "site" list.')
    found: list[ImportedFinding] = []
    for site in sites:
        for alert in _dict(site).get("alerts") or []:
            if not isinstance(alert, dict):
                continue
            plugin = str(alert.get("pluginid") or alert.get("alertRef") or "unknown")
            confidence = str(alert.get("confidence", "2"))
            if confidence == "0":  # ZAP's "false positive" confidence
                continue
            title = str(alert.get("alert") or alert.get("name") or f"ZAP alert {plugin}")
            references = re.findall(r"https?://[^\s<\"]+", str(alert.get("reference") or ""))
            for instance in alert.get("instances") or [{"uri": _dict(site).get("@name", "")}]:
                if not isinstance(instance, dict) or not instance.get("uri"):
                    continue
                found.append(_record(
                    "zap", plugin, ZAP_TYPES.get(plugin), title=title,
                    severity=ZAP_RISK.get(str(alert.get("riskcode")), "info"),  # type: ignore[arg-type]
                    url=str(instance["uri"]), method=str(instance.get("method") or "GET"),
                    parameter=_text(instance.get("param"), 200), payload=_text(instance.get("attack"), 2000),
                    evidence=_text(instance.get("evidence")), confidence=ZAP_CONFIDENCE.get(confidence, "firm"),
                    cwe=_cwe(alert.get("cweid")), description=_strip_tags(str(alert.get("desc") or "")),
                    remediation=_strip_tags(str(alert.get("solution") or "")), references=references,
                ))  # fmt: skip
    return found


# -- Nuclei ------------------------------------------------------------------
def parse_nuclei(text: str) -> list[ImportedFinding]:
    """Nuclei's JSON Lines output (``-jsonl``): one result object per line."""
    found: list[ImportedFinding] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            result = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ImportFormatError(f"Line {number} of the Nuclei file is not JSON: {exc.msg}.") from None
        if not isinstance(result, dict) or "template-id" not in result:
            raise ImportFormatError(f'Line {number} of the Nuclei file is not a Nuclei result (no "template-id").')
        info = _dict(result.get("info"))
        classification = _dict(info.get("classification"))
        severity = str(info.get("severity", "info")).lower()
        cwe_ids = classification.get("cwe-id") or []
        references = info.get("reference") or []
        template = str(result["template-id"])
        name = str(info.get("name") or template)
        if result.get("matcher-name"):
            name = f"{name} ({result['matcher-name']})"
        found.append(_record(
            "nuclei", template, None, title=name,
            severity=severity if severity in SEVERITIES else "info",
            url=str(result.get("matched-at") or result.get("url") or result.get("host") or ""),
            method=_nuclei_method(result), evidence=_text(result.get("extracted-results"), 2000),
            request=_text(result.get("request")), response=_text(result.get("response")),
            cwe=_cwe(cwe_ids[0] if isinstance(cwe_ids, list) and cwe_ids else cwe_ids),
            description=_text(info.get("description")), remediation=_text(info.get("remediation")),
            references=[str(ref) for ref in (references if isinstance(references, list) else [references])],
        ))  # fmt: skip
    return [record for record in found if record.candidate.url]


def _nuclei_method(result: dict[str, Any]) -> str:
    request = str(result.get("request") or "")
    first = request.split(" ", 1)[0]
    return first if first.isalpha() and first.isupper() else "GET"


# -- Wapiti ------------------------------------------------------------------
def parse_wapiti(data: Any) -> list[ImportedFinding]:
    """Wapiti's JSON report: ``vulnerabilities`` (and ``anomalies``) by category, ``classifications`` for texts."""
    if not isinstance(data, dict) or not isinstance(data.get("vulnerabilities"), dict):
        raise ImportFormatError('This is not a Wapiti JSON report: it has no "vulnerabilities" object.')
    infos = _dict(data.get("infos"))
    target = str(infos.get("target") or "")
    classifications = _dict(data.get("classifications"))
    found: list[ImportedFinding] = []
    for section in ("vulnerabilities", "anomalies"):
        groups = _dict(data.get(section))
        for category, entries in groups.items():
            kind = _dict(classifications.get(category))
            refs = _dict(kind.get("ref"))
            for entry in entries if isinstance(entries, list) else []:
                if not isinstance(entry, dict):
                    continue
                path = str(entry.get("path") or "/")
                url = urljoin(target, path) if target else path
                found.append(_record(
                    "wapiti", category, WAPITI_TYPES.get(category), title=category,
                    severity=WAPITI_LEVEL.get(_int(entry.get("level")), "info"),  # type: ignore[arg-type]
                    url=url, method=str(entry.get("method") or "GET"), parameter=_text(entry.get("parameter"), 200),
                    evidence=_text(entry.get("info")), request=_text(entry.get("http_request")),
                    description=_text(kind.get("desc")), remediation=_text(kind.get("sol")),
                    references=[str(ref) for ref in refs.values()],
                ))  # fmt: skip
    return [record for record in found if record.candidate.url.startswith(("http://", "https://"))]


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


# -- SARIF -------------------------------------------------------------------
def parse_sarif(data: Any) -> list[ImportedFinding]:
    """SARIF 2.1.0 logs of any tool: results of every run, severity from ``security-severity`` or the level."""
    if not isinstance(data, dict) or not isinstance(data.get("runs"), list):
        raise ImportFormatError('This is not a SARIF log: it has no "runs" list.')
    found: list[ImportedFinding] = []
    for run in data["runs"]:
        if not isinstance(run, dict):
            continue
        driver = (run.get("tool") or {}).get("driver") or {}
        tool = _slug(str(driver.get("name") or "sarif"))
        rules = [rule for rule in driver.get("rules") or [] if isinstance(rule, dict)]
        by_id = {str(rule.get("id")): rule for rule in rules}
        for result in run.get("results") or []:
            if not isinstance(result, dict):
                continue
            rule_id = str(result.get("ruleId") or (result.get("rule") or {}).get("id") or "result")
            index = result.get("ruleIndex")
            rule = rules[index] if isinstance(index, int) and 0 <= index < len(rules) else by_id.get(rule_id, {})
            url = _sarif_url(result)
            if not url:
                continue
            properties = _dict(rule.get("properties"))
            level = str(result.get("level") or (rule.get("defaultConfiguration") or {}).get("level") or "warning")
            severity = _sarif_severity(properties.get("security-severity"), level)
            tags = [str(tag) for tag in properties.get("tags") or []]
            cwe = next((_cwe(tag) for tag in tags if "cwe" in tag.lower()), None)
            message = (result.get("message") or {}).get("text") or ""
            known = rule_id if tool == "spyglass" else None
            found.append(_record(
                tool, rule_id, known, title=str((rule.get("shortDescription") or {}).get("text") or rule_id),
                severity=severity, url=url, evidence=_text(message), cwe=cwe,
                description=_text((rule.get("fullDescription") or {}).get("text")),
                remediation=_text((rule.get("help") or {}).get("text")),
                references=[str(rule["helpUri"])] if rule.get("helpUri") else [],
                parameter=_text(((result.get("properties") or {}).get("parameter")), 200),
            ))  # fmt: skip
    return found


def _sarif_url(result: dict[str, Any]) -> str:
    for location in result.get("locations") or []:
        uri = (((location or {}).get("physicalLocation") or {}).get("artifactLocation") or {}).get("uri")
        if uri:
            return str(uri)
    return ""


def _sarif_severity(security_severity: Any, level: str) -> Severity:
    try:
        return severity_from_cvss(float(security_severity))
    except (TypeError, ValueError):
        return SARIF_LEVEL.get(level, "medium")  # type: ignore[return-value]


# -- entry point -------------------------------------------------------------
def detect_format(text: str) -> str:
    """Guess which tool wrote ``text`` (``zap``, ``nuclei``, ``wapiti`` or ``sarif``)."""
    stripped = text.lstrip()
    try:
        data = json.loads(stripped)
    except json.JSONDecodeError:
        first = stripped.splitlines()[0] if stripped else ""
        if '"template-id"' in first:
            return "nuclei"
        raise ImportFormatError("The file is neither JSON nor Nuclei JSON Lines.") from None
    if isinstance(data, dict):
        if "runs" in data and "version" in data:
            return "sarif"
        if "site" in data:
            return "zap"
        if "vulnerabilities" in data and "classifications" in data:
            return "wapiti"
        if "template-id" in data:
            return "nuclei"
    raise ImportFormatError("The file is not a ZAP, Nuclei, Wapiti or SARIF report Spyglass can read.")


def parse_import(content: bytes | str, import_format: str | None = None) -> list[ImportedFinding]:
    """Parse a report file; ``import_format`` None means detect it. Raises :class:`ImportFormatError`."""
    if len(content) > MAX_IMPORT_BYTES:
        raise ImportFormatError(f"The file is larger than {MAX_IMPORT_BYTES // 1_000_000} MB.")
    if isinstance(content, bytes):
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ImportFormatError("The file is not UTF-8 text.") from None
    else:
        text = content
    chosen = import_format or detect_format(text)
    if chosen not in IMPORT_FORMATS:
        raise ImportFormatError(f"Unknown import format {chosen!r}; choose one of {', '.join(IMPORT_FORMATS)}.")
    if chosen == "nuclei":
        found = parse_nuclei(text)
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ImportFormatError(f"The file is not valid JSON (line {exc.lineno}: {exc.msg}).") from None
        parsers: dict[str, Callable[[Any], list[ImportedFinding]]] = {
            "zap": parse_zap, "wapiti": parse_wapiti, "sarif": parse_sarif,
        }  # fmt: skip
        found = parsers[chosen](data)
    if len(found) > MAX_FINDINGS:
        raise ImportFormatError(f"The file has {len(found):,} findings; Spyglass imports at most {MAX_FINDINGS:,}.")
    return found
