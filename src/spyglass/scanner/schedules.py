"""Recurring scans of a target, kept as the engine's schedule of kind ``scanner.scan`` for the target.

The schedule row is the only record: ``interval_seconds`` and ``enabled`` are the engine's, the profile
and families are in its payload (``{"scheduled": true, ...}``). Each due time the engine queues one run
whose subject is the target; the handler turns it into a Scan row keyed by the run (:func:`scan_for_run`),
so a re-executed run scans under the same row instead of adding a second one.

Never commits; the caller owns the target (``service.get_target``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from spyglass.config import Settings
from spyglass.core.errors import Forbidden, InvalidInput
from spyglass.core.services import Services
from spyglass.engine import service as engine_service
from spyglass.engine.kinds import PermanentError
from spyglass.engine.models import Schedule
from spyglass.scanner import service
from spyglass.scanner.models import Scan, ScanStatus, ScanTarget

MIN_HOURS = 1
MAX_HOURS = 24 * 90
DEFAULT_HOURS = 24 * 7


@dataclass(frozen=True)
class ScanSchedule:
    """A target's recurring scan as pages and the API show it."""

    enabled: bool
    interval_hours: int
    profile: str
    families: list[str]
    next_run_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "interval_hours": self.interval_hours,
            "profile": self.profile,
            "families": list(self.families),
            "next_run_at": self.next_run_at.isoformat() if self.next_run_at and self.enabled else None,
        }


NO_SCHEDULE = ScanSchedule(
    enabled=False, interval_hours=DEFAULT_HOURS, profile="passive", families=[], next_run_at=None
)


async def _row(session: AsyncSession, target: ScanTarget) -> Schedule | None:
    return await session.scalar(
        select(Schedule).where(
            Schedule.kind == service.SCAN_KIND, Schedule.subject_id == target.id, Schedule.user_id == target.user_id
        )
    )


async def get_schedule(session: AsyncSession, target: ScanTarget) -> ScanSchedule:
    """The target's recurring scan (disabled, weekly and passive when never set)."""
    row = await _row(session, target)
    if row is None:
        return NO_SCHEDULE
    payload = row.payload or {}
    families = payload.get("families")
    return ScanSchedule(
        enabled=row.enabled,
        interval_hours=max(MIN_HOURS, row.interval_seconds // 3600),
        profile=str(payload.get("profile", "passive")),
        families=[str(f) for f in families] if isinstance(families, list) else [],
        next_run_at=row.next_run_at,
    )


def parse_schedule(raw: Mapping[str, Any]) -> tuple[bool, int, str, list[str], bool]:
    """Validate a schedule: (enabled, interval hours, profile, families, whether it runs active checks)."""
    errors: dict[str, str] = {}
    enabled = raw.get("enabled", True)
    if isinstance(enabled, str):
        enabled = enabled.strip().lower() in ("1", "true", "on", "yes")
    if not isinstance(enabled, bool):
        errors["enabled"] = "Say true or false."
        enabled = False
    hours_raw = raw.get("interval_hours", DEFAULT_HOURS)
    text = str(hours_raw).strip() if not isinstance(hours_raw, bool) else ""
    hours = int(text) if text.isdigit() and text.isascii() else 0
    if not MIN_HOURS <= hours <= MAX_HOURS:
        errors["interval_hours"] = f"Scan every 1 to {MAX_HOURS} hours (a whole number)."
    profile, active = "passive", False
    families: list[str] = []
    try:
        profile, families, active = service.parse_launch(raw.get("profile"), raw.get("families"))
    except InvalidInput as exc:
        errors.update(exc.detail)
    if errors:
        raise InvalidInput(detail=errors)
    return enabled, hours, profile, families, active


async def save_schedule(
    session: AsyncSession, *, settings: Settings, target: ScanTarget, raw: Mapping[str, Any]
) -> ScanSchedule:
    """Set the target's recurring scan; the first one runs an interval from now. Active scans need a
    verified target (403), like launching one by hand."""
    enabled, hours, profile, families, active = parse_schedule(raw)
    if enabled and active and not service.is_verified(settings, target):
        raise Forbidden(
            "Scheduled active scans send attack payloads, so they need a target whose ownership is proven. "
            "Verify this target first, or schedule a passive scan."
        )
    await engine_service.save_schedule(
        session,
        kind=service.SCAN_KIND,
        user_id=target.user_id,
        subject_id=target.id,
        interval_seconds=hours * 3600,
        enabled=enabled,
        payload={"scheduled": True, "profile": profile, "families": families},
        first_run_in_seconds=hours * 3600,
        quota=settings.engine_max_schedules_per_user,
    )
    return await get_schedule(session, target)


async def delete_schedule(session: AsyncSession, target: ScanTarget) -> None:
    """Remove the target's recurring scan (when the target goes)."""
    if await _row(session, target) is not None:
        await engine_service.delete_schedule(session, kind=service.SCAN_KIND, subject_id=target.id)


async def scan_for_run(
    services: Services, *, run_id: int, target_id: int, user_id: int | None, payload: Mapping[str, Any]
) -> int:
    """The Scan row of a scheduled run, created on its first execution (one per run: ``scans.run_id`` is
    unique, so two executions racing both end up with the same row)."""
    existing = await _scan_of_run(services, run_id)
    if existing is not None:
        return existing
    try:
        async with services.db.session(write=True) as session:
            target = await session.get(ScanTarget, target_id)
            if target is None or target.user_id != user_id:
                raise PermanentError("This scheduled scan's target no longer exists.")
            running = len(await service.busy_scans(session, user_id=target.user_id))
            if running >= services.settings.scanner_max_active_scans_per_user:
                raise PermanentError(f"Skipped: {running} scans of this account were already queued or running.")
            families = payload.get("families")
            scan = Scan(
                user_id=target.user_id,
                target_id=target.id,
                run_id=run_id,
                profile=str(payload.get("profile", "passive")),
                families=[str(f) for f in families] if isinstance(families, list) else [],
                status=ScanStatus.QUEUED.value,
            )
            session.add(scan)
            await session.flush()
            return scan.id
    except IntegrityError:
        again = await _scan_of_run(services, run_id)
        if again is None:
            raise
        return again


async def _scan_of_run(services: Services, run_id: int) -> int | None:
    async with services.db.session() as session:
        found: int | None = await session.scalar(select(Scan.id).where(Scan.run_id == run_id))
        return found
