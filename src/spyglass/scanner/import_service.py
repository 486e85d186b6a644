"""Importing another scanner's results into a target: the file becomes a finished scan of profile
``import`` whose findings go through the same store as Spyglass's own (deduplicated by fingerprint,
status carried from earlier scans, priority computed), so history, comparison and reports include them.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession

from spyglass.core.db import utcnow
from spyglass.core.errors import InvalidInput
from spyglass.scanner import findings
from spyglass.scanner.imports import IMPORT_FORMATS, ImportedFinding, parse_import
from spyglass.scanner.models import Scan, ScanStatus, ScanTarget

IMPORT_PROFILE = "import"


@dataclass(frozen=True)
class ImportResult:
    """The scan the import created, how many findings it stored and how many it left out (other hosts)."""

    scan: Scan
    imported: int
    skipped_other_hosts: int
    source: str


def parse_upload(content: bytes | str, import_format: str | None) -> tuple[str, list[ImportedFinding]]:
    """Parse an uploaded report; ``import_format`` empty means detect it. Raises InvalidInput."""
    chosen = (import_format or "").strip().lower() or None
    if chosen is not None and chosen not in IMPORT_FORMATS:
        raise InvalidInput(detail={"format": f"Choose one of {', '.join(IMPORT_FORMATS)}, or leave it empty."})
    if not content or not content.strip():
        raise InvalidInput(detail={"file": "The file is empty."})
    found = parse_import(content, chosen)
    source = found[0].source if found else (chosen or "import")
    return source, found


def _same_host(url: str, target: ScanTarget) -> bool:
    try:
        return (urlsplit(url).hostname or "").lower() == target.host.lower()
    except ValueError:
        return False


async def import_findings(
    session: AsyncSession, *, target: ScanTarget, source: str, imported: list[ImportedFinding]
) -> ImportResult:
    """Store ``imported`` as a finished scan of ``target``; findings about other hosts are left out."""
    now = utcnow()
    scan = Scan(
        user_id=target.user_id,
        target_id=target.id,
        profile=IMPORT_PROFILE,
        families=[source[:32]],
        status=ScanStatus.RUNNING.value,
        started_at=now,
    )
    session.add(scan)
    await session.flush()
    kept = [item for item in imported if _same_host(item.candidate.url, target)]
    for item in kept:
        await findings.record_finding(session, scan=scan, candidate=item.candidate, now=now)
    await findings.complete_scan(
        session,
        scan=scan,
        target=target,
        status=ScanStatus.SUCCEEDED.value,
        stopped_reason=None,
        high_risk_priority=100,
        notify_completion=False,  # the owner brought these findings in; nothing to tell them
    )
    skipped = len(imported) - len(kept)
    return ImportResult(scan=scan, imported=scan.findings_count, skipped_other_hosts=skipped, source=source)
