"""Findings: recording what the pipeline reports (deduplicated, status carried across scans),
finishing a scan (counts, risk score, notifications), status changes and scan comparison.

Every function takes the caller's session and never commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from spyglass.core.db import utcnow
from spyglass.core.errors import InvalidInput
from spyglass.notifications.outbox import EVENT_HIGH_RISK_FINDING, EVENT_SCAN_COMPLETED, notify
from spyglass.scanner.catalogue import get_finding_type
from spyglass.scanner.contract import SEVERITIES, FindingCandidate, FindingType
from spyglass.scanner.models import Finding, FindingStatus, Scan, ScanStatus, ScanTarget
from spyglass.scanner.priority import compute_priority, scan_risk_score

CONFIDENCE_RANK = {"tentative": 0, "firm": 1, "confirmed": 2}
TEXT_CAP = 20_000  # evidence and excerpts are excerpts: keep rows small
CARRIED_STATUSES = (FindingStatus.FALSE_POSITIVE.value, FindingStatus.ACCEPTED_RISK.value)
NOT_A_RISK = (FindingStatus.FALSE_POSITIVE.value, FindingStatus.ACCEPTED_RISK.value, FindingStatus.FIXED.value)
ACCEPT_MAX_DAYS = 3650
#: Profiles of scans Spyglass runs itself; only those can tell that a finding is gone (an import cannot).
FIXING_PROFILES = ("passive", "active", "custom")


def finding_type_of(type_id: str, details: dict[str, Any] | None = None) -> FindingType:
    """The catalogue entry of ``type_id``; an unknown id (an imported or retired type) becomes a
    generic entry so nothing the pipeline reports is dropped."""
    try:
        return get_finding_type(type_id)
    except KeyError:
        extra = details or {}
        severity = str(extra.get("severity", "info"))
        cwe = extra.get("cwe")
        references = extra.get("references")
        return FindingType(
            id=type_id,
            title=str(extra.get("title") or type_id)[:200],
            family=str(extra.get("source") or "other")[:32],
            cwe=cwe if isinstance(cwe, int) and not isinstance(cwe, bool) else 0,
            owasp="",
            severity=severity if severity in SEVERITIES else "info",
            description=str(extra.get("description") or ""),
            remediation=str(extra.get("remediation") or ""),
            references=tuple(str(r) for r in references) if isinstance(references, list) else (),
        )


def _cap(text: str | None, limit: int = TEXT_CAP) -> str:
    return (text or "")[:limit]


async def _previous_sighting(
    session: AsyncSession, *, target_id: int, fingerprint: str, scan_id: int
) -> Finding | None:
    """The latest finding with this fingerprint on this target from another (earlier) scan."""
    statement = (
        select(Finding)
        .where(Finding.target_id == target_id, Finding.fingerprint == fingerprint, Finding.scan_id < scan_id)
        .order_by(Finding.scan_id.desc())
        .limit(1)
    )
    return await session.scalar(statement)


async def record_finding(
    session: AsyncSession,
    *,
    scan: Scan,
    candidate: FindingCandidate,
    requires_auth: bool = False,
    now: datetime | None = None,
) -> tuple[Finding, bool]:
    """Store ``candidate`` for ``scan``, once per fingerprint (a re-run updates, never duplicates).
    Returns the row and whether it is new in this scan."""
    now = now or utcnow()
    fingerprint = candidate.fingerprint
    existing = await session.scalar(
        select(Finding).where(Finding.scan_id == scan.id, Finding.fingerprint == fingerprint)
    )
    if existing is not None:
        if CONFIDENCE_RANK.get(candidate.confidence, 0) > CONFIDENCE_RANK.get(existing.confidence, 0):
            _fill_evidence(existing, candidate)
            existing.confidence = candidate.confidence
            _set_priority(existing, candidate.details, requires_auth, now)
        return existing, False
    kind = finding_type_of(candidate.type_id, candidate.details)
    finding = Finding(
        scan_id=scan.id,
        target_id=scan.target_id,
        user_id=scan.user_id,
        type_id=candidate.type_id[:64],
        title=kind.title[:200],
        family=kind.family[:32],
        fingerprint=fingerprint,
        confidence=candidate.confidence if candidate.confidence in CONFIDENCE_RANK else "tentative",
        severity=_severity(candidate, kind),
        cwe=kind.cwe,
        owasp=kind.owasp[:64],
        cvss_vector=kind.cvss_vector[:128],
        cvss_score=kind.cvss_score,
        first_seen_scan_id=scan.id,
        first_seen_at=now,
        status=FindingStatus.OPEN.value,
        status_note="",
    )
    _fill_evidence(finding, candidate)
    previous = await _previous_sighting(session, target_id=scan.target_id, fingerprint=fingerprint, scan_id=scan.id)
    if previous is not None:
        finding.first_seen_scan_id = previous.first_seen_scan_id or previous.scan_id
        finding.first_seen_at = previous.first_seen_at
        if previous.status in CARRIED_STATUSES and previous.effective_status(now) == previous.status:
            finding.status = previous.status
            finding.status_note = previous.status_note
            finding.accepted_until = previous.accepted_until
        # Fixed before and back again: a regression (open, whatever the fix said).
        finding.regression = previous.status == FindingStatus.FIXED.value or previous.regression
    _set_priority(finding, candidate.details, requires_auth, now, active=_is_active(kind))
    session.add(finding)
    await session.flush()
    return finding, True


def _is_active(kind: FindingType) -> bool:
    return kind.active


def _severity(candidate: FindingCandidate, kind: FindingType) -> str:
    """The catalogue's severity, unless the check rated this instance differently (``details["severity"]``)."""
    override = str(candidate.details.get("severity", ""))
    return override if override in SEVERITIES else kind.severity


def _fill_evidence(finding: Finding, candidate: FindingCandidate) -> None:
    finding.url = candidate.url[:2048]
    finding.method = (candidate.method or "GET").upper()[:16]
    finding.parameter = candidate.parameter[:255] if candidate.parameter else None
    finding.payload = _cap(candidate.payload) if candidate.payload is not None else None
    finding.evidence = _cap(candidate.evidence)
    finding.request_excerpt = _cap(candidate.request)
    finding.response_excerpt = _cap(candidate.response)
    finding.details = {k: v for k, v in candidate.details.items() if _plain(v)}


def _plain(value: Any) -> bool:
    """JSON-safe scalars and lists of them (what the details column keeps)."""
    if isinstance(value, list):
        return len(value) <= 50 and all(isinstance(item, str | int | float | bool | None) for item in value)
    return isinstance(value, str | int | float | bool | None)


def _set_priority(
    finding: Finding, details: dict[str, Any], requires_auth: bool, now: datetime, *, active: bool | None = None
) -> None:
    if active is None:
        active = finding_type_of(finding.type_id).active
    priority = compute_priority(
        severity=finding.severity,
        confidence=finding.confidence,
        url=finding.url,
        cvss_vector=finding.cvss_vector,
        active=active,
        requires_auth=bool(details.get("requires_auth", requires_auth)),
        first_seen_at=finding.first_seen_at,
        now=now,
    )
    finding.priority = priority.score
    finding.threat_class = priority.threat_class
    finding.priority_why = priority.why()


@dataclass
class ScanTotals:
    """What a finished scan adds up to."""

    findings: int = 0
    by_severity: dict[str, int] = field(default_factory=dict)
    risk_score: int = 0


async def scan_totals(session: AsyncSession, scan_id: int, now: datetime | None = None) -> ScanTotals:
    """Counts by severity and the risk score from the open findings of a scan."""
    rows = (
        await session.execute(
            select(Finding.severity, Finding.priority, Finding.status, Finding.accepted_until).where(
                Finding.scan_id == scan_id
            )
        )
    ).all()
    moment = now or utcnow()
    by_severity: dict[str, int] = {str(severity): 0 for severity in SEVERITIES}
    risky: list[int] = []
    for severity, priority, status, accepted_until in rows:
        by_severity[severity] = by_severity.get(severity, 0) + 1
        expired = (
            status == FindingStatus.ACCEPTED_RISK.value and accepted_until is not None and accepted_until <= moment
        )
        if status not in NOT_A_RISK or expired:
            risky.append(priority)
    return ScanTotals(findings=len(rows), by_severity=by_severity, risk_score=scan_risk_score(risky))


async def complete_scan(
    session: AsyncSession,
    *,
    scan: Scan,
    target: ScanTarget,
    status: str,
    stopped_reason: str | None,
    high_risk_priority: int,
    error: str | None = None,
    notify_completion: bool = True,
    complete: bool = True,
) -> ScanTotals:
    """Write a scan's final counts, risk score and status, and queue its notifications (idempotent:
    the outbox keys are per scan and per target fingerprint).

    A scan that succeeded without stopping early, with ``complete`` (every check ran to its end), marks
    the target's open findings it would have reported but did not as fixed (:func:`mark_fixed`)."""
    if status == ScanStatus.SUCCEEDED.value and stopped_reason is None and complete:
        await mark_fixed(session, scan=scan)
    totals = await scan_totals(session, scan.id)
    scan.findings_count = totals.findings
    scan.severity_counts = totals.by_severity
    scan.risk_score = totals.risk_score
    scan.status = status
    scan.stopped_reason = stopped_reason
    scan.error = error
    scan.finished_at = scan.finished_at or utcnow()
    candidates = (
        await session.scalars(
            select(Finding).where(Finding.scan_id == scan.id).order_by(Finding.priority.desc(), Finding.id).limit(50)
        )
    ).all()
    top = [f for f in candidates if f.effective_status() == FindingStatus.OPEN.value][:5]
    if not notify_completion:
        return totals
    await notify(
        session,
        user_id=scan.user_id,
        event=EVENT_SCAN_COMPLETED,
        payload={
            "scan_id": scan.id,
            "target_id": target.id,
            "target_url": target.base_url,
            "risk_score": totals.risk_score,
            "counts": totals.by_severity,
            "top_findings": [{"title": f.title, "priority": f.priority} for f in top],
        },
        key=f"scanner.scan_completed:{scan.id}",
    )
    high = (
        await session.scalars(
            select(Finding).where(
                Finding.scan_id == scan.id,
                Finding.priority >= high_risk_priority,
                Finding.status == FindingStatus.OPEN.value,
            )
        )
    ).all()
    for finding in high:
        await notify(
            session,
            user_id=scan.user_id,
            event=EVENT_HIGH_RISK_FINDING,
            payload={
                "scan_id": scan.id,
                "finding_id": finding.id,
                "title": finding.title,
                "priority": finding.priority,
                "url": finding.url,
                "target_url": target.base_url,
            },
            key=f"scanner.high_risk:{target.id}:{finding.fingerprint}",
        )
    return totals


def scan_covers(profile: str, families: Sequence[str], type_id: str) -> bool:
    """Whether a scan with this profile and families runs the check that reports ``type_id``, so that not
    seeing it means it is gone. Unknown types (imported from other scanners) are never covered."""
    if profile not in FIXING_PROFILES:
        return False
    try:
        kind = get_finding_type(type_id)
    except KeyError:
        return False
    if profile == "passive" and kind.active:
        return False
    return not families or kind.family in families


async def mark_fixed(session: AsyncSession, *, scan: Scan, now: datetime | None = None) -> list[Finding]:
    """Mark fixed the target's findings that are open in their latest sighting, were seen before ``scan``
    and not by it, and that ``scan`` looked for (:func:`scan_covers`). Returns them; running it again
    changes nothing."""
    now = now or utcnow()
    latest = (
        select(Finding.fingerprint, func.max(Finding.scan_id).label("scan_id"))
        .where(Finding.target_id == scan.target_id)
        .group_by(Finding.fingerprint)
        .subquery()
    )
    statement = (
        select(Finding)
        .join(latest, and_(Finding.fingerprint == latest.c.fingerprint, Finding.scan_id == latest.c.scan_id))
        .where(
            Finding.target_id == scan.target_id,
            Finding.scan_id < scan.id,  # a newer scan's sighting is newer news than this scan's silence
            Finding.status.in_([FindingStatus.OPEN.value, FindingStatus.ACCEPTED_RISK.value]),
        )
    )
    fixed: list[Finding] = []
    for finding in (await session.scalars(statement)).all():
        if finding.effective_status(now) != FindingStatus.OPEN.value:
            continue
        if not scan_covers(scan.profile, list(scan.families or ()), finding.type_id):
            continue
        finding.status = FindingStatus.FIXED.value
        finding.fixed_at = now
        finding.fixed_by_scan_id = scan.id
        fixed.append(finding)
    await session.flush()
    return fixed


async def fixed_by_scan(session: AsyncSession, scan: Scan, limit: int = 100) -> list[Finding]:
    """Findings of earlier scans that ``scan`` found gone, highest priority first."""
    statement = (
        select(Finding)
        .where(Finding.fixed_by_scan_id == scan.id, Finding.user_id == scan.user_id)
        .order_by(Finding.priority.desc(), Finding.id)
        .limit(limit)
    )
    return list((await session.scalars(statement)).all())


def parse_status_change(
    *, status: str, note: str | None = None, accepted_days: str | int | None = None, now: datetime | None = None
) -> tuple[str, str, datetime | None]:
    """Validate a status change: (status, note, accepted_until). Accepted risk needs 1–3650 days."""
    from datetime import timedelta

    errors: dict[str, str] = {}
    valid = {s.value for s in FindingStatus}
    if status not in valid:
        errors["status"] = "Choose open, fixed, false_positive or accepted_risk."
    clean_note = (note or "").strip()
    if len(clean_note) > 500:
        errors["note"] = "Keep the note under 500 characters."
    if any(ord(ch) < 32 and ch not in "\n\t" for ch in clean_note):
        errors["note"] = "The note contains control characters."
    until: datetime | None = None
    if status == FindingStatus.ACCEPTED_RISK.value:
        text = str(accepted_days if accepted_days is not None else "").strip()
        if not text.isdigit() or not 1 <= int(text) <= ACCEPT_MAX_DAYS:
            errors["accepted_days"] = f"Say for how many days the risk is accepted (1 to {ACCEPT_MAX_DAYS})."
        else:
            until = (now or utcnow()) + timedelta(days=int(text))
    if errors:
        raise InvalidInput(detail=errors)
    return status, clean_note, until


async def change_status(
    session: AsyncSession, *, finding: Finding, status: str, note: str, accepted_until: datetime | None
) -> None:
    """Set a finding's status; later scans of the target carry false positive and accepted risk forward.
    Marked fixed by hand, it is fixed now (no scan); any other status withdraws the fix."""
    if status == FindingStatus.FIXED.value:
        if finding.status != FindingStatus.FIXED.value:
            finding.fixed_at, finding.fixed_by_scan_id = utcnow(), None
    else:
        finding.fixed_at, finding.fixed_by_scan_id = None, None
    finding.status = status
    finding.status_note = note
    finding.accepted_until = accepted_until
    scan = await session.get(Scan, finding.scan_id)
    if scan is not None and scan.finished_at is not None:
        scan.risk_score = (await scan_totals(session, scan.id)).risk_score


@dataclass
class ScanDiff:
    """Findings of ``newer`` that ``older`` did not have, those of both, and those only ``older`` had."""

    new: list[Finding]
    still_open: list[Finding]
    fixed: list[Finding]


async def compare_scans(session: AsyncSession, *, older: Scan, newer: Scan) -> ScanDiff:
    """Compare two scans of one target by fingerprint."""
    before = {f.fingerprint: f for f in await _all_findings(session, older.id)}
    after = {f.fingerprint: f for f in await _all_findings(session, newer.id)}
    return ScanDiff(
        new=[f for fp, f in after.items() if fp not in before],
        still_open=[f for fp, f in after.items() if fp in before],
        fixed=[f for fp, f in before.items() if fp not in after],
    )


async def _all_findings(session: AsyncSession, scan_id: int) -> list[Finding]:
    statement = select(Finding).where(Finding.scan_id == scan_id).order_by(Finding.priority.desc(), Finding.id)
    return list((await session.scalars(statement)).all())


async def count_findings(session: AsyncSession, scan_id: int) -> int:
    return int(await session.scalar(select(func.count()).where(Finding.scan_id == scan_id)) or 0)
