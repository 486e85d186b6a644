"""What admins do: look at users and the audit log, change roles, deactivate and reactivate
accounts, reset rate limits, clear caches. Every change is audited in the caller's session
(``actor_id`` = the admin, ``user_id`` = the person concerned).

Nothing here commits. A user-row change is only visible to other requests after the
caller has committed and then called ``forget_user`` (see ``admin.routes``): forgetting
before the commit would let a concurrent request cache the old row again.
"""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from sqlalchemy.ext.asyncio import AsyncSession

from spyglass.accounts.auth import CurrentUser
from spyglass.accounts.models import Role, User
from spyglass.admin import repository
from spyglass.admin.repository import UserQuery
from spyglass.admin.schemas import AuditEntry, AuditFilters
from spyglass.audit import repository as audit_repository
from spyglass.audit.models import AuditEvent
from spyglass.audit.repository import AuditQuery
from spyglass.audit.service import AuditAction, record
from spyglass.core.db import is_valid_id, utcnow
from spyglass.core.errors import Forbidden, InvalidInput, NotFound
from spyglass.core.pagination import Page, PageRequest, paginate
from spyglass.core.ratelimit import LimitStatus
from spyglass.core.services import Services
from spyglass.core.view_cache import forget_views
from spyglass.market import quotas as market_quotas
from spyglass.market.listing_params import SEARCHES_AREA

Connection = ASGIConnection[Any, Any, Any, Any]
RECENT_ACTIVITY_SIZE = 20


def page_request(services: Services, page: int | None, size: int | None) -> PageRequest:
    """The requested page, clamped to 1.. and to the configured maximum size."""
    settings = services.settings
    return PageRequest.from_query(page, size, default_size=settings.default_page_size, max_size=settings.max_page_size)


def limit_keys(services: Services, user: User) -> dict[str, str]:
    """The key each rate-limit category counts this user under: requests by ``user:<id>`` (as
    ``core.ratelimit_middleware.limit_key`` builds it), sign-in attempts by ``account:<username>``
    (as ``accounts.routes.login_submit`` does; the per-IP login window is not the user's)."""
    return {
        category: f"account:{user.username}" if category == "login" else f"user:{user.id}"
        for category in services.limiter.items
    }


def _audit_change(
    db: AsyncSession,
    action: str,
    *,
    admin: CurrentUser,
    target: User,
    connection: Connection | None,
    details: dict[str, Any] | None = None,
) -> None:
    """Audit an admin's change to ``target``'s account (an ``AuditAction``); the event also keeps the
    user's name at the time, which ``details`` adds to."""
    record(
        db,
        action,
        user_id=target.id,
        actor_id=admin.id,
        connection=connection,
        details={"username": target.username, **(details or {})},
    )


async def list_users(*, db: AsyncSession, query: UserQuery, page: PageRequest) -> Page[User]:
    """One page of users matching ``query``, newest first."""
    return await paginate(db, repository.users_statement(query), page)


async def get_user(*, db: AsyncSession, user_id: int) -> User:
    """The user with this id, or NotFound."""
    user = await repository.get_user(db, user_id) if is_valid_id(user_id) else None
    if user is None:
        raise NotFound("No such user.")
    return user


async def _lock_and_check_actor(db: AsyncSession, *, admin: CurrentUser) -> set[int]:
    """Lock the active admins and make sure the actor is still one of them; their ids.

    With the actor verified as an active admin under the lock, and nobody allowed to remove
    their own admin role or account, every change leaves at least one active admin, even when
    two admins act on each other at the same moment (the second waits, then finds it is no
    longer an admin)."""
    admins = await repository.lock_active_admin_ids(db)
    if admin.id not in admins:
        raise NotFound()  # demoted or deactivated since this request was authenticated
    return admins


def _refuse_self(admin: CurrentUser, target: User, admins: set[int], what: str) -> None:
    if target.id != admin.id:
        return
    if admins == {admin.id}:
        raise Forbidden(f"You cannot {what}: you are the last active admin. Make someone else an admin first.")
    raise Forbidden(f"You cannot {what}. Ask another admin to do it.")


async def change_role(
    *, db: AsyncSession, admin: CurrentUser, user_id: int, role: str, connection: Connection | None = None
) -> bool:
    """Give a user the role ``user`` or ``admin``; False when they already had it."""
    if role not in {r.value for r in Role}:
        raise InvalidInput(detail={"role": "Choose user or admin."})
    target = await get_user(db=db, user_id=user_id)
    if target.role == role:
        return False
    admins = await _lock_and_check_actor(db, admin=admin)
    if role != Role.ADMIN.value:
        _refuse_self(admin, target, admins, "remove your own admin role")
    old_role, target.role = target.role, role
    _audit_change(
        db,
        AuditAction.ADMIN_ROLE_CHANGED,
        admin=admin,
        target=target,
        connection=connection,
        details={"old_role": old_role, "new_role": role},
    )
    await db.flush()
    return True


async def deactivate_user(
    *, db: AsyncSession, admin: CurrentUser, user_id: int, connection: Connection | None = None
) -> bool:
    """Deactivate an account and end its sessions (tokens stop working too); False when already inactive."""
    target = await get_user(db=db, user_id=user_id)
    admins = await _lock_and_check_actor(db, admin=admin)
    _refuse_self(admin, target, admins, "deactivate your own account")
    if not target.is_active:
        return False
    target.is_active = False
    target.deactivated_at = utcnow()
    target.session_epoch += 1
    _audit_change(db, AuditAction.ADMIN_USER_DEACTIVATED, admin=admin, target=target, connection=connection)
    await db.flush()
    return True


async def reactivate_user(
    *, db: AsyncSession, admin: CurrentUser, user_id: int, connection: Connection | None = None
) -> bool:
    """Let a deactivated user sign in again; False when the account was already active."""
    target = await get_user(db=db, user_id=user_id)
    if target.is_active:
        return False
    await _lock_and_check_actor(db, admin=admin)
    inactive_since = target.deactivated_at
    target.is_active = True
    target.deactivated_at = None
    _audit_change(
        db,
        AuditAction.ADMIN_USER_REACTIVATED,
        admin=admin,
        target=target,
        connection=connection,
        details={"deactivated_at": inactive_since.isoformat() if inactive_since else None},
    )
    await db.flush()
    return True


async def rate_limits(*, services: Services, user: User) -> list[LimitStatus]:
    """The user's current window in every rate-limit category."""
    return [await services.limiter.status(category, key) for category, key in limit_keys(services, user).items()]


async def reset_rate_limits(
    *, db: AsyncSession, services: Services, admin: CurrentUser, user_id: int, connection: Connection | None = None
) -> None:
    """Empty every rate-limit window of a user, sign-in attempts on their account included."""
    target = await get_user(db=db, user_id=user_id)
    for category, key in limit_keys(services, target).items():
        await services.limiter.reset(category, key)
    _audit_change(
        db,
        AuditAction.ADMIN_RATE_LIMITS_RESET,
        admin=admin,
        target=target,
        connection=connection,
        details={"categories": sorted(services.limiter.items)},
    )


async def market_quotas_of(*, db: AsyncSession, services: Services, user_id: int) -> market_quotas.UserQuotas:
    """The market quotas that apply to a user, and the admin's override of them."""
    target = await get_user(db=db, user_id=user_id)
    return await market_quotas.quotas_for(db, user_id=target.id, settings=services.settings)


async def set_market_quotas(
    *,
    db: AsyncSession,
    services: Services,
    admin: CurrentUser,
    user_id: int,
    override: market_quotas.QuotaOverride,
    connection: Connection | None = None,
) -> market_quotas.UserQuotas:
    """Set (or, with None fields, clear) a user's market quotas; audited with the old and new values.

    Searches the user already has stay: a lower maximum refuses new ones, a longer minimum interval
    applies when a search is next saved."""
    target = await get_user(db=db, user_id=user_id)
    previous = await market_quotas.set_override(db, user_id=target.id, override=override)
    if previous != override:
        _audit_change(
            db,
            AuditAction.ADMIN_MARKET_QUOTAS_CHANGED,
            admin=admin,
            target=target,
            connection=connection,
            details={"old": previous.as_dict(), "new": override.as_dict()},
        )
        await forget_views(services, SEARCHES_AREA, [target.id])  # the searches page shows the quota
    return await market_quotas.quotas_for(db, user_id=target.id, settings=services.settings)


def cache_namespaces(services: Services) -> list[str]:
    """Namespaces the cache knows: those with a TTL and any that has been used."""
    return sorted(set(services.cache.describe()["ttls"]) | set(services.cache.stats))


async def clear_cache(
    *,
    db: AsyncSession,
    services: Services,
    admin: CurrentUser,
    namespace: str | None,
    connection: Connection | None = None,
) -> list[str]:
    """Clear one namespace (or every one when ``namespace`` is None); the namespaces cleared."""
    known = cache_namespaces(services)
    if namespace is not None and namespace not in known:
        raise InvalidInput(detail={"namespace": "Choose a cache namespace from the list."})
    # Namespace by namespace, never a backend-wide flush: on Redis the sessions and the
    # rate-limit windows live next to the cache.
    cleared = [namespace] if namespace is not None else known
    for name in cleared:
        await services.cache.clear_namespace(name)
    record(
        db,
        AuditAction.ADMIN_CACHE_CLEARED,
        actor_id=admin.id,
        connection=connection,
        details={"namespaces": cleared},
    )
    return cleared


async def _with_names(db: AsyncSession, events: list[AuditEvent]) -> list[AuditEntry]:
    ids = {i for event in events for i in (event.user_id, event.actor_id) if i is not None}
    names = await audit_repository.usernames(db, ids)
    return [
        AuditEntry(
            event=event,
            username=names.get(event.user_id) if event.user_id is not None else None,
            actor_name=names.get(event.actor_id) if event.actor_id is not None else None,
        )
        for event in events
    ]


async def recent_activity(*, db: AsyncSession, limit: int = RECENT_ACTIVITY_SIZE) -> list[AuditEntry]:
    """The newest audit events with the names of the people involved."""
    return await _with_names(db, await audit_repository.latest_events(db, limit=limit))


async def _audit_page(db: AsyncSession, query: AuditQuery, page: PageRequest) -> Page[AuditEntry]:
    found = await paginate(db, audit_repository.events_statement(query), page)
    return Page(items=await _with_names(db, found.items), page=found.page, size=found.size, total=found.total)


async def search_audit(*, db: AsyncSession, filters: AuditFilters, page: PageRequest) -> Page[AuditEntry]:
    """Audit events matching ``filters`` (the user filter matches subject or actor), newest first."""
    person_id: int | None = None
    if filters.username is not None:
        person_id = await repository.find_user_id(db, filters.username)
        if person_id is None:
            return Page(items=[], page=page.page, size=page.size, total=0)
    query = AuditQuery(person_id=person_id, action=filters.action, since=filters.since, until=filters.until)
    return await _audit_page(db, query, page)


async def user_activity(*, db: AsyncSession, user_id: int, page: PageRequest) -> Page[AuditEntry]:
    """Events concerning the user or done by them, newest first."""
    return await _audit_page(db, AuditQuery(person_id=user_id), page)
