"""JSON shapes of the scanner API: what it accepts (msgspec structs, which also document the OpenAPI
schema) and what it answers (plain dicts built here, so pages and API show the same fields)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from markupsafe import Markup, escape

from spyglass.config import Settings
from spyglass.scanner import service, verification
from spyglass.scanner.models import Finding, Scan, ScanTarget

UNSET = msgspec.UNSET
Unset = msgspec.UnsetType


class ScanAuthIn(msgspec.Struct, forbid_unknown_fields=True):
    """How scans log in. Secrets left empty on an update keep the stored ones."""

    kind: Literal["cookie", "header", "form"]
    cookie: str | Unset = UNSET
    header_name: str | Unset = UNSET
    header_value: str | Unset = UNSET
    login_url: str | Unset = UNSET
    fields: dict[str, str] | Unset = UNSET


def _doc(description: str, example: Any) -> msgspec.Meta:
    return msgspec.Meta(description=description, examples=[example])


Name = Annotated[str, _doc("A name you will recognise (1-100 characters).", "Shop (staging)")]
BaseUrl = Annotated[str, _doc("Where scans start; only its host and port are scanned.", "https://shop.example/")]
Include = Annotated[list[str], _doc("Only these paths (prefixes or globs with *); empty: every path.", ["/app/"])]
Exclude = Annotated[list[str], _doc("Never these paths.", ["/logout"])]
Depth = Annotated[int, _doc("Link depth from the base URL (0-20, default 5).", 5)]
Pages = Annotated[int, _doc("Most pages crawled (1-10000, default 200).", 200)]
Budget = Annotated[int, _doc("Request budget of one scan (default 5000).", 5000)]
TimeLimit = Annotated[int, _doc("Time limit of one scan in seconds (default 1800).", 1800)]
Rate = Annotated[float, _doc("Requests per second (0.1-100, default 10).", 10.0)]
Concurrency = Annotated[int, _doc("Requests at once (1-32, default 4).", 4)]


class TargetIn(msgspec.Struct, forbid_unknown_fields=True):
    """A target to create (``name`` and ``base_url`` required) or the fields to change."""

    name: Name | Unset = UNSET
    base_url: BaseUrl | Unset = UNSET
    include_paths: Include | Unset = UNSET
    exclude_paths: Exclude | Unset = UNSET
    max_depth: Depth | Unset = UNSET
    max_pages: Pages | Unset = UNSET
    max_requests: Budget | Unset = UNSET
    time_limit_seconds: TimeLimit | Unset = UNSET
    requests_per_second: Rate | Unset = UNSET
    concurrency: Concurrency | Unset = UNSET
    auth: ScanAuthIn | Unset | None = UNSET

    def given(self) -> dict[str, Any]:
        """The fields the caller sent, as plain values."""
        values: dict[str, Any] = {}
        for name in self.__struct_fields__:
            value = getattr(self, name)
            if value is UNSET:
                continue
            if isinstance(value, ScanAuthIn):
                value = {k: v for k, v in msgspec.structs.asdict(value).items() if v is not UNSET}
            values[name] = value
        return values


class VerifyIn(msgspec.Struct, forbid_unknown_fields=True):
    """Which proof to check; omit ``method`` to try the file, the meta tag and DNS in turn."""

    method: Literal["file", "meta", "dns"] | None = None


class ScanLaunchIn(msgspec.Struct, forbid_unknown_fields=True):
    """A scan to start: ``passive``, ``active`` (needs a verified target) or ``custom`` with ``families``."""

    profile: Literal["passive", "active", "custom"] = "passive"
    families: list[str] = msgspec.field(default_factory=list)


class ScheduleIn(msgspec.Struct, forbid_unknown_fields=True):
    """A target's recurring scan: every ``interval_hours`` (1–2160) with a profile as for ``ScanLaunchIn``;
    ``enabled: false`` stops it."""

    enabled: bool = True
    interval_hours: int = 168
    profile: Literal["passive", "active", "custom"] = "passive"
    families: list[str] = msgspec.field(default_factory=list)


class ImportIn(msgspec.Struct, forbid_unknown_fields=True):
    """Another scanner's report: the file's text and its ``format`` (zap, nuclei, wapiti, sarif; omit to detect)."""

    content: str
    format: Literal["zap", "nuclei", "wapiti", "sarif"] | None = None


class FindingStatusIn(msgspec.Struct, forbid_unknown_fields=True):
    """A decision about a finding; ``accepted_risk`` needs ``accepted_days`` (1–3650)."""

    status: Literal["open", "fixed", "false_positive", "accepted_risk"]
    note: str = ""
    accepted_days: int | None = None


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def target_out(target: ScanTarget, settings: Settings) -> dict[str, Any]:
    """A target as the API shows it (scan login masked)."""
    return {
        "id": target.id,
        "name": target.name,
        "base_url": target.base_url,
        "host": target.host,
        "include_paths": list(target.include_paths or []),
        "exclude_paths": list(target.exclude_paths or []),
        "max_depth": target.max_depth,
        "max_pages": target.max_pages,
        "max_requests": target.max_requests,
        "time_limit_seconds": target.time_limit_seconds,
        "requests_per_second": target.requests_per_second,
        "concurrency": target.concurrency,
        "auth": service.masked_auth(target.auth),
        "verified": service.is_verified(settings, target),
        "verified_at": _iso(target.verified_at),
        "verification_method": target.verification_method
        or ("allow_list" if verification.is_allow_listed(settings, target.host) else None),
        "vouched_by_admin": service.is_admin_vouched(target),
        "verification": verification_instructions(target),
        "last_check_at": _iso(target.last_check_at),
        "last_check_result": target.last_check_result,
        "created_at": _iso(target.created_at),
    }


def verification_instructions(target: ScanTarget) -> dict[str, str]:
    """The three ways to prove ownership of ``target``, with its token."""
    token = target.verification_token
    return {
        "token": token,
        "file_url": verification.proof_file_url(target.base_url),
        "file_content": token,
        "meta_tag": f'<meta name="{verification.META_NAME}" content="{token}">',
        "dns_name": target.host,
        "dns_txt": f"{verification.TXT_PREFIX}{token}",
    }


def scan_out(scan: Scan) -> dict[str, Any]:
    """A scan's state and totals."""
    return {
        "id": scan.id,
        "target_id": scan.target_id,
        "run_id": scan.run_id,
        "profile": scan.profile,
        "families": list(scan.families or []),
        "status": scan.status,
        "created_at": _iso(scan.created_at),
        "started_at": _iso(scan.started_at),
        "finished_at": _iso(scan.finished_at),
        "pages_crawled": scan.pages_crawled,
        "requests_sent": scan.requests_sent,
        "findings": scan.findings_count,
        "severity_counts": dict(scan.severity_counts or {}),
        "risk_score": scan.risk_score,
        "stopped_reason": scan.stopped_reason,
        "error": scan.error,
    }


def finding_out(finding: Finding, *, full: bool = False) -> dict[str, Any]:
    """A finding as listed; ``full`` adds the evidence, the priority's reasons and the catalogue text."""
    data: dict[str, Any] = {
        "id": finding.id,
        "scan_id": finding.scan_id,
        "target_id": finding.target_id,
        "type_id": finding.type_id,
        "title": finding.title,
        "family": finding.family,
        "url": finding.url,
        "method": finding.method,
        "parameter": finding.parameter,
        "severity": finding.severity,
        "confidence": finding.confidence,
        "priority": finding.priority,
        "threat_class": finding.threat_class,
        "status": finding.effective_status(),
        "accepted_until": _iso(finding.accepted_until),
        "fingerprint": finding.fingerprint,
        "first_seen_scan_id": finding.first_seen_scan_id,
        "first_seen_at": _iso(finding.first_seen_at),
        "fixed_at": _iso(finding.fixed_at),
        "fixed_by_scan_id": finding.fixed_by_scan_id,
        "regression": finding.regression,
    }
    if full:
        from spyglass.scanner.findings import finding_type_of

        kind = finding_type_of(finding.type_id, finding.details)
        data.update(
            {
                "payload": finding.payload,
                "evidence": finding.evidence,
                "request": finding.request_excerpt,
                "response": finding.response_excerpt,
                "cwe": finding.cwe,
                "owasp": finding.owasp,
                "cvss_vector": finding.cvss_vector,
                "cvss_score": finding.cvss_score,
                "priority_why": finding.priority_why,
                "status_note": finding.status_note,
                "description": kind.description,
                "remediation": kind.remediation,
                "references": list(kind.references),
            }
        )
    return data


def highlight(text: str) -> Markup:
    """An evidence excerpt as safe HTML: everything escaped, the parts between ``[[`` and ``]]`` in <mark>."""
    out: list[str] = []
    rest = text or ""
    while "[[" in rest:
        before, _, after = rest.partition("[[")
        marked, closed, tail = after.partition("]]")
        out.append(str(escape(before)))
        if not closed:
            out.append(str(escape("[[" + marked)))
            rest = ""
            break
        out.append(f"<mark>{escape(marked)}</mark>")
        rest = tail
    out.append(str(escape(rest)))
    return Markup("".join(out))  # noqa: S704 - every piece was escaped above
