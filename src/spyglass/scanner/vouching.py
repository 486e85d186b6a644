"""Administrators vouching for a scan target: the target counts as verified (method ``admin``) without
the owner's own proof, until an administrator withdraws it or the target moves to another host, port
or scheme (``service.update_target``).

Both actions need a reason and are audited with the administrator as actor and the owner as the
person concerned. Withdrawing cancels the target's queued and running active scans, unless the
operator's ``SPYGLASS_VERIFIED_TARGETS`` still vouches for the host. Nothing here commits.

Admins act on every user's targets, so lookups here are deliberately not owner-scoped; the routes
that call them are guarded by ``require_admin``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from litestar.connection import ASGIConnection
from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from spyglass.accounts.auth import CurrentUser
from spyglass.accounts.models import User
from spyglass.audit.models import AuditEvent
from spyglass.audit.service import AuditAction, record
from spyglass.config import Settings
from spyglass.core.db import is_valid_id, utcnow
from spyglass.core.errors import Conflict, InvalidInput, NotFound
from spyglass.scanner import service, verification
from spyglass.scanner.models import ScanTarget, VerificationMethod

REASON_MAX = 500
SEARCH_MAX = 100
HISTORY_SIZE = 20
VOUCH_ACTIONS = (AuditAction.ADMIN_TARGET_VOUCHED, AuditAction.ADMIN_TARGET_VOUCH_WITHDRAWN)


def parse_reason(raw: Any) -> str:
    """The reason an administrator gives (required, 3 to 500 characters, one paragraph or several)."""
    text = raw.strip() if isinstance(raw, str) else ""
    if len(text) < 3:
        raise InvalidInput(detail={"reason": "Say why (at least 3 characters): it is kept in the audit log."})
    if len(text) > REASON_MAX or any((ord(ch) < 32 and ch not in "\n\r\t") or ord(ch) == 127 for ch in text):
        raise InvalidInput(detail={"reason": f"Up to {REASON_MAX} characters, no control characters."})
    return text


def parse_search(raw: Any) -> str | None:
    """The admin list's search text (host, target name or owner's username), or None."""
    text = raw.strip() if isinstance(raw, str) else ""
    if len(text) > SEARCH_MAX:
        raise InvalidInput(detail={"q": f"Search for at most {SEARCH_MAX} characters."})
    return text or None


def targets_statement(search: str | None, vouched_only: bool = False) -> Select[ScanTarget]:
    """Every user's targets, newest first, filtered by a search text (host, name or owner's username)."""
    statement = select(ScanTarget)
    if search:
        needle = search.lower()
        owners = select(User.id).where(func.lower(User.username).contains(needle, autoescape=True))
        statement = statement.where(
            or_(
                func.lower(ScanTarget.host).contains(needle, autoescape=True),
                func.lower(ScanTarget.name).contains(needle, autoescape=True),
                ScanTarget.user_id.in_(owners),
            )
        )
    if vouched_only:
        statement = statement.where(ScanTarget.verification_method == VerificationMethod.ADMIN.value)
    return statement.order_by(ScanTarget.created_at.desc(), ScanTarget.id.desc())


async def with_owners(session: AsyncSession, targets: Sequence[ScanTarget]) -> list[AdminTarget]:
    """The targets with their owners' usernames."""
    ids = {target.user_id for target in targets}
    rows = await session.execute(select(User.id, User.username).where(User.id.in_(ids)))
    names = {user_id: username for user_id, username in rows.all()}
    return [AdminTarget(target, names.get(target.user_id, "")) for target in targets]


@dataclass(frozen=True)
class AdminTarget:
    """A target as an administrator sees it: the owner's name, and no scan-login secrets."""

    target: ScanTarget
    owner: str

    def to_dict(self, settings: Settings) -> dict[str, Any]:
        target = self.target
        return {
            "id": target.id,
            "user_id": target.user_id,
            "owner": self.owner,
            "name": target.name,
            "base_url": target.base_url,
            "host": target.host,
            "verified": service.is_verified(settings, target),
            "verification_method": target.verification_method,
            "verified_at": target.verified_at.isoformat() if target.verified_at else None,
            "vouched_by_admin": service.is_admin_vouched(target),
            "allow_listed": verification.is_allow_listed(settings, target.host),
            "last_check_at": target.last_check_at.isoformat() if target.last_check_at else None,
            "last_check_result": target.last_check_result,
            "created_at": target.created_at.isoformat(),
        }


async def get_admin_target(session: AsyncSession, *, target_id: int, lock: bool = False) -> AdminTarget:
    """Any user's target with its owner's name, or NotFound; ``lock`` holds its row until the commit (PostgreSQL;
    SQLite's write transactions are serial anyway), so two administrators acting at once act one after the other."""
    target = await session.get(ScanTarget, target_id, with_for_update=lock) if is_valid_id(target_id) else None
    if target is None:
        raise NotFound("No such target.")
    [found] = await with_owners(session, [target])
    return found


def _audit(
    session: AsyncSession,
    action: str,
    *,
    admin: CurrentUser,
    target: ScanTarget,
    reason: str,
    connection: ASGIConnection[Any, Any, Any, Any] | None,
    **extra: Any,
) -> None:
    details = {"target_id": target.id, "base_url": target.base_url, "reason": reason, **extra}
    record(session, action, user_id=target.user_id, actor_id=admin.id, connection=connection, details=details)


async def vouch(
    session: AsyncSession,
    *,
    admin: CurrentUser,
    target_id: int,
    reason: Any,
    connection: ASGIConnection[Any, Any, Any, Any] | None = None,
) -> AdminTarget:
    """Mark a target verified by an administrator (409 when one already vouches for it)."""
    why = parse_reason(reason)
    found = await get_admin_target(session, target_id=target_id, lock=True)
    target = found.target
    if service.is_admin_vouched(target):
        raise Conflict("An administrator already vouches for this target.")
    previous = target.verification_method
    target.verified_at = utcnow()
    target.verification_method = VerificationMethod.ADMIN.value
    _audit(
        session,
        AuditAction.ADMIN_TARGET_VOUCHED,
        admin=admin,
        target=target,
        reason=why,
        connection=connection,
        replaced=previous,
    )
    await session.flush()
    return found


async def withdraw(
    session: AsyncSession,
    *,
    settings: Settings,
    admin: CurrentUser,
    target_id: int,
    reason: Any,
    connection: ASGIConnection[Any, Any, Any, Any] | None = None,
) -> tuple[AdminTarget, list[int]]:
    """Withdraw an administrator's vouch (409 when there is none); the target is unverified again and
    its queued or running active scans are cancelled. Returns the target and the cancelled scans' ids."""
    why = parse_reason(reason)
    found = await get_admin_target(session, target_id=target_id, lock=True)
    target = found.target
    if not service.is_admin_vouched(target):
        raise Conflict("No administrator vouches for this target.")
    target.verified_at = None
    target.verification_method = None
    cancelled: list[int] = []
    if not service.is_verified(settings, target):
        for scan in await service.busy_scans(session, user_id=target.user_id, target_id=target.id):
            if service.needs_active(scan.profile, list(scan.families or [])):
                await service.cancel_scan(session, scan=scan, user_id=target.user_id)
                cancelled.append(scan.id)
    _audit(
        session,
        AuditAction.ADMIN_TARGET_VOUCH_WITHDRAWN,
        admin=admin,
        target=target,
        reason=why,
        connection=connection,
        cancelled_scans=cancelled,
    )
    await session.flush()
    return found, cancelled


async def vouch_history(session: AsyncSession, *, target: ScanTarget) -> list[tuple[AuditEvent, str | None]]:
    """The latest vouches and withdrawals of ``target``, newest first, with the administrator's name."""
    statement = (
        select(AuditEvent, User.username)
        .outerjoin(User, User.id == AuditEvent.actor_id)
        .where(AuditEvent.user_id == target.user_id, AuditEvent.action.in_(VOUCH_ACTIONS))
        .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
        .limit(500)
    )
    rows = (await session.execute(statement)).all()
    # The target id sits in the JSON details, which the two backends query differently; the owner's
    # vouch events are few, so they are filtered here.
    mine: list[tuple[AuditEvent, str | None]] = [
        (event, name) for event, name in rows if (event.details or {}).get("target_id") == target.id
    ]
    return mine[:HISTORY_SIZE]
