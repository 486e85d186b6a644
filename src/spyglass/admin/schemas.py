"""Shapes of the admin area: filter parsing (shared by pages and API) and the JSON API's models.

Filter errors are raised as ``InvalidInput`` keyed by the query parameter's name
(``q``, ``role``, ``active``, ``username``, ``action``, ``from``, ``to``), so the pages can
show each message next to its field and the API returns them as ``detail``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal

from litestar.params import PathParameter, QueryParameter
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from spyglass.accounts.models import Role, User
from spyglass.admin.repository import UserQuery
from spyglass.audit.models import AuditEvent
from spyglass.audit.service import AuditAction
from spyglass.core.errors import InvalidInput
from spyglass.core.ratelimit import LimitStatus
from spyglass.market.quotas import MAX_SEARCHES_LIMIT, MIN_INTERVAL_LIMIT, UserQuotas

MAX_SEARCH_LENGTH = 100
MAX_PAGE = 1_000_000
ROLES = tuple(role.value for role in Role)

UserId = Annotated[int, PathParameter(description="The user's id.")]
PageNumber = Annotated[
    int | None, QueryParameter(name="page", le=MAX_PAGE, required=False, description="Page number, from 1.")
]
PageSize = Annotated[
    int | None, QueryParameter(name="size", required=False, description="Items per page (capped by the server).")
]
_TRUE = {"true", "1", "yes", "active"}
_FALSE = {"false", "0", "no", "inactive", "deactivated"}


def known_actions() -> list[str]:
    """Every audited action name, sorted (the audit page's select)."""
    return sorted(value for name, value in vars(AuditAction).items() if name.isupper() and isinstance(value, str))


def parse_user_query(*, search: str | None, role: str | None, active: str | bool | None) -> UserQuery:
    """Validated users-list filters; raises InvalidInput with a message per bad field."""
    errors: dict[str, str] = {}
    search = (search or "").strip() or None
    if search is not None and len(search) > MAX_SEARCH_LENGTH:
        errors["q"] = f"Search for at most {MAX_SEARCH_LENGTH} characters."
    role = (role or "").strip().lower() or None
    if role is not None and role not in ROLES:
        errors["role"] = "Choose user or admin."
    is_active: bool | None = None
    if isinstance(active, bool):
        is_active = active
    elif active is not None and active.strip():
        value = active.strip().lower()
        if value in _TRUE:
            is_active = True
        elif value in _FALSE:
            is_active = False
        else:
            errors["active"] = "Choose active or deactivated."
    if errors:
        raise InvalidInput(detail=errors)
    return UserQuery(search=search, role=role, active=is_active)


@dataclass(frozen=True)
class AuditFilters:
    """Validated audit-log filters; ``until`` is the exclusive end (the day after ``to``)."""

    username: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _parse_day(raw: str | None, field: str, errors: dict[str, str]) -> date | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors[field] = "Enter a date as YYYY-MM-DD, for example 2024-05-31."
        return None


def parse_audit_filters(
    *, username: str | None, action: str | None, date_from: str | None, date_to: str | None
) -> AuditFilters:
    """Validated audit filters (dates are whole UTC days, both ends included); raises InvalidInput."""
    errors: dict[str, str] = {}
    username = (username or "").strip() or None
    if username is not None and len(username) > MAX_SEARCH_LENGTH:
        errors["username"] = f"A username has at most {MAX_SEARCH_LENGTH} characters."
    action = (action or "").strip() or None
    if action is not None and action not in known_actions():
        errors["action"] = "Choose an action from the list."
    first = _parse_day(date_from, "from", errors)
    last = _parse_day(date_to, "to", errors)
    if first is not None and last is not None and first > last:
        errors["to"] = "The end date must be on or after the start date."
    if errors:
        raise InvalidInput(detail=errors)
    since = datetime.combine(first, time.min, tzinfo=UTC) if first else None
    until = datetime.combine(last + timedelta(days=1), time.min, tzinfo=UTC) if last and last < date.max else None
    return AuditFilters(username=username, action=action, since=since, until=until)


@dataclass(frozen=True)
class AuditEntry:
    """An audit event with the names of the person it concerns and of the actor."""

    event: AuditEvent
    username: str | None
    actor_name: str | None


class UserOut(BaseModel):
    """A user as the admin API shows it."""

    id: int
    username: str
    email: str
    role: str
    is_active: bool
    email_verified: bool
    created_at: datetime
    last_login_at: datetime | None
    last_seen_at: datetime | None
    deactivated_at: datetime | None

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(
            id=user.id,
            username=user.username,
            email=user.email,
            role=user.role,
            is_active=user.is_active,
            email_verified=user.email_verified,
            created_at=user.created_at,
            last_login_at=user.last_login_at,
            last_seen_at=user.last_seen_at,
            deactivated_at=user.deactivated_at,
        )


class UserPageOut(BaseModel):
    items: list[UserOut]
    page: int
    size: int
    total: int
    pages: int


class UserPatch(BaseModel):
    """Changes an admin may make to a user; send at least one field."""

    model_config = ConfigDict(extra="forbid")

    role: Literal["user", "admin"] | None = None
    is_active: bool | None = None

    @field_validator("is_active", mode="before")
    @classmethod
    def _a_real_boolean(cls, value: object) -> object:
        if value is not None and not isinstance(value, bool):
            raise ValueError("must be true or false")
        return value

    @model_validator(mode="after")
    def _something(self) -> UserPatch:
        if self.role is None and self.is_active is None:
            raise ValueError("send role and/or is_active")
        return self


class RateLimitOut(BaseModel):
    """Where a user stands in one rate-limit category."""

    category: str
    limit: int
    remaining: int
    reset_in_seconds: int

    @classmethod
    def of(cls, status: LimitStatus) -> RateLimitOut:
        return cls(
            category=status.category,
            limit=status.limit,
            remaining=max(status.remaining, 0),
            reset_in_seconds=status.reset_in,
        )


class AuditEventOut(BaseModel):
    """One audit event."""

    id: int
    created_at: datetime
    action: str
    user_id: int | None
    username: str | None
    actor_id: int | None
    actor_name: str | None
    ip: str | None
    user_agent: str | None
    details: dict[str, Any]

    @classmethod
    def of(cls, entry: AuditEntry) -> AuditEventOut:
        event = entry.event
        return cls(
            id=event.id,
            created_at=event.created_at,
            action=event.action,
            user_id=event.user_id,
            username=entry.username,
            actor_id=event.actor_id,
            actor_name=entry.actor_name,
            ip=event.ip,
            user_agent=event.user_agent,
            details=dict(event.details or {}),
        )


class AuditPageOut(BaseModel):
    items: list[AuditEventOut]
    page: int
    size: int
    total: int
    pages: int


class MarketQuotasIn(BaseModel):
    """A user's market quotas as an admin sets them; null (or absent) means the global setting."""

    model_config = ConfigDict(extra="forbid", strict=True)

    max_searches: int | None = Field(default=None, ge=0, le=MAX_SEARCHES_LIMIT)
    min_interval_seconds: int | None = Field(default=None, ge=1, le=MIN_INTERVAL_LIMIT)

    @field_validator("max_searches", "min_interval_seconds", mode="before")
    @classmethod
    def _a_real_number(cls, value: object) -> object:
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise ValueError("must be a whole number or null")
        return value


class MarketQuotasOut(BaseModel):
    """The market quotas that apply to a user (``override``: what an admin set; null fields use the settings)."""

    max_searches: int
    min_interval_seconds: int
    override: MarketQuotasIn

    @classmethod
    def of(cls, quotas: UserQuotas) -> MarketQuotasOut:
        return cls(
            max_searches=quotas.max_searches,
            min_interval_seconds=quotas.min_interval_seconds,
            override=MarketQuotasIn(**quotas.override.as_dict()),
        )
