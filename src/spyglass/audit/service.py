"""Writing the audit log. ``record`` adds the event to the caller's unit of work, so it is committed
(or rolled back) together with the change it describes; nothing is queued in memory."""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from sqlalchemy.ext.asyncio import AsyncSession

from spyglass.audit.models import AuditEvent
from spyglass.core.request_context import client_ip, user_agent


class AuditAction:
    """The vocabulary of audited actions (strings in the database, constants in code)."""

    LOGIN = "auth.login"
    LOGIN_FAILED = "auth.login_failed"
    LOGOUT = "auth.logout"
    REGISTER = "auth.register"
    EMAIL_VERIFIED = "auth.email_verified"
    PASSWORD_CHANGED = "auth.password_changed"
    PASSWORD_RESET_REQUESTED = "auth.password_reset_requested"
    PASSWORD_RESET = "auth.password_reset"
    EMAIL_CHANGE_REQUESTED = "account.email_change_requested"
    EMAIL_CHANGED = "account.email_changed"
    SETTINGS_CHANGED = "account.settings_changed"
    TOKEN_CREATED = "token.created"
    TOKEN_REVOKED = "token.revoked"
    BOT_STARTED = "bot.started"
    BOT_STOPPED = "bot.stopped"
    ADMIN_ROLE_CHANGED = "admin.role_changed"
    ADMIN_USER_DEACTIVATED = "admin.user_deactivated"
    ADMIN_USER_REACTIVATED = "admin.user_reactivated"
    ADMIN_RATE_LIMITS_RESET = "admin.rate_limits_reset"
    ADMIN_CACHE_CLEARED = "admin.cache_cleared"
    ADMIN_CREATED = "admin.created"
    ADMIN_MARKET_QUOTAS_CHANGED = "admin.market_quotas_changed"
    ADMIN_TARGET_VOUCHED = "admin.target_vouched"
    ADMIN_TARGET_VOUCH_WITHDRAWN = "admin.target_vouch_withdrawn"
    FEEDBACK_SUBMITTED = "feedback.submitted"
    FEEDBACK_ANSWERED = "feedback.answered"
    FEEDBACK_STATUS_CHANGED = "feedback.status_changed"
    CHANNEL_ADDED = "notifications.channel_added"
    CHANNEL_DELETED = "notifications.channel_deleted"
    UNSUBSCRIBED = "notifications.unsubscribed"


def record(
    session: AsyncSession,
    action: str,
    *,
    user_id: int | None = None,
    actor_id: int | None = None,
    connection: ASGIConnection[Any, Any, Any, Any] | None = None,
    ip: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add an audit event to ``session``. ``user_id`` is whom it concerns, ``actor_id`` who did it
    (defaults to ``user_id``); IP and user agent come from ``connection`` when given."""
    agent: str | None = None
    if connection is not None:
        trusted = connection.app.state.services.settings.trusted_proxies
        ip = ip or client_ip(connection.scope, trusted)
        agent = user_agent(connection.scope)
    event = AuditEvent(
        action=action,
        user_id=user_id,
        actor_id=actor_id if actor_id is not None else user_id,
        ip=ip,
        user_agent=agent,
        details=_scrub(details or {}),
    )
    session.add(event)
    return event


_SECRET_WORDS = ("password", "token", "secret")


def _scrub(details: dict[str, Any]) -> dict[str, Any]:
    """Never store secrets in the log, whatever a caller passes."""
    return {
        key: ("***" if any(word in key.lower() for word in _SECRET_WORDS) else value) for key, value in details.items()
    }
