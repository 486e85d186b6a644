"""Quiet hours: a daily window, in the channel's time zone, during which it receives nothing.
Notifications that fall inside wait until the window ends (they are not dropped)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

MINUTES_PER_DAY = 24 * 60


def valid_timezone(name: str) -> bool:
    """Whether ``name`` is an IANA time zone this machine knows."""
    if not name or len(name) > 64:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return name in available_timezones() or name == "UTC"


def quiet_until(now: datetime, start_minute: int | None, end_minute: int | None, timezone: str) -> datetime | None:
    """When the quiet window that contains ``now`` ends (UTC), or None when ``now`` is not quiet."""
    if start_minute is None or end_minute is None or start_minute == end_minute:
        return None
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    local = now.astimezone(zone)
    minute = local.hour * 60 + local.minute
    if start_minute < end_minute:
        inside = start_minute <= minute < end_minute
    else:  # wraps midnight, e.g. 22:00-07:00
        inside = minute >= start_minute or minute < end_minute
    if not inside:
        return None
    days = 1 if minute >= end_minute else 0
    end_local = (local + timedelta(days=days)).replace(
        hour=end_minute // 60, minute=end_minute % 60, second=0, microsecond=0
    )
    # Re-attach the zone after the date moved (daylight saving may change the offset).
    end_local = end_local.replace(tzinfo=zone)
    return end_local.astimezone(UTC)


def parse_hhmm(text: str) -> int | None:
    """``"22:30"`` → 1350 minutes; ``""`` → None; raises ValueError for anything else."""
    text = text.strip()
    if not text:
        return None
    hours, sep, minutes = text.partition(":")
    if not sep or not hours.isdigit() or not minutes.isdigit() or len(minutes) != 2:
        raise ValueError("use HH:MM, e.g. 22:00")
    value = int(hours) * 60 + int(minutes)
    if int(hours) > 23 or int(minutes) > 59:
        raise ValueError("use a time between 00:00 and 23:59")
    return value


def format_hhmm(minute: int | None) -> str:
    return "" if minute is None else f"{minute // 60:02d}:{minute % 60:02d}"
