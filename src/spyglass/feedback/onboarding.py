"""The first-run checklist: verify your email, add a channel, create a search, add a target, run a scan.

Each step is read from the table of the feature that owns it, by table name with SQLAlchemy Core,
so this module depends on no other feature's code; a table that does not exist (a feature not
installed or not migrated yet) counts as "not done". The overview page includes
``onboarding/checklist.html`` with the :class:`Checklist` from :func:`onboarding_status`;
:func:`send_welcome` queues the welcome email that points at it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import column, exists, inspect, select, table, update
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.expression import ColumnClause

from spyglass.accounts.models import User
from spyglass.core.db import utcnow
from spyglass.feedback.models import UserOnboarding
from spyglass.notifications.outbox import EVENT_WELCOME, notify


@dataclass(frozen=True)
class Step:
    """One item of the checklist; ``table`` rows with the user's ``user_id`` (and ``where``) mean done."""

    key: str
    title: str
    description: str
    href: str
    table: str | None = None
    where: tuple[str, str] | None = None


STEPS: tuple[Step, ...] = (
    Step("verify_email", "Verify your email address", "Open the link we emailed you.", "/account"),
    Step(
        "add_channel",
        "Add a notification channel",
        "Email, Slack, Discord, Telegram, ntfy… wherever you want alerts.",
        "/notifications",
        table="notification_channels",
    ),
    Step(
        "create_search",
        "Create your first market search",
        "Tell a market bot what to watch for.",
        "/market/searches/new",
        table="market_searches",
    ),
    Step(
        "add_target",
        "Add your first website",
        "Register a site you own for security scans.",
        "/scanner/targets",
        table="scan_targets",
    ),
    Step(
        "run_scan",
        "Run your first scan",
        "Scan one of your websites and read the findings.",
        "/scanner/targets",
        table="scans",
        where=("status", "succeeded"),
    ),
)


@dataclass(frozen=True)
class ChecklistItem:
    """A step and whether the user has done it."""

    key: str
    title: str
    description: str
    href: str
    done: bool


@dataclass(frozen=True)
class Checklist:
    """A user's checklist: its items, progress, and whether the user hid it."""

    items: tuple[ChecklistItem, ...]
    dismissed: bool

    @property
    def done_count(self) -> int:
        return sum(1 for item in self.items if item.done)

    @property
    def total(self) -> int:
        return len(self.items)

    @property
    def percent(self) -> int:
        return round(100 * self.done_count / self.total) if self.total else 100

    @property
    def complete(self) -> bool:
        return self.done_count == self.total

    @property
    def visible(self) -> bool:
        """Shown on the overview until the user dismisses it or finishes every step."""
        return not self.dismissed and not self.complete

    def to_dict(self) -> dict[str, Any]:
        return {
            "items": [
                {"key": i.key, "title": i.title, "description": i.description, "href": i.href, "done": i.done}
                for i in self.items
            ],
            "done": self.done_count,
            "total": self.total,
            "percent": self.percent,
            "complete": self.complete,
            "dismissed": self.dismissed,
        }


# Tables only ever appear (migrations), so a table once found is not looked up again.
_known_tables: set[str] = set()


async def _table_exists(session: AsyncSession, name: str) -> bool:
    if name in _known_tables:
        return True
    found = await session.run_sync(lambda sync_session: inspect(sync_session.connection()).has_table(name))
    if found:
        _known_tables.add(name)
    return bool(found)


async def _has_rows(session: AsyncSession, step: Step, user_id: int) -> bool:
    if step.table is None or not await _table_exists(session, step.table):
        return False
    columns: list[ColumnClause[Any]] = [column("user_id")] + ([column(step.where[0])] if step.where else [])
    source = table(step.table, *columns)
    condition = source.c.user_id == user_id
    if step.where:
        condition = condition & (source.c[step.where[0]] == step.where[1])
    return bool(await session.scalar(select(exists().where(condition))))


async def onboarding_status(session: AsyncSession, user_id: int) -> Checklist:
    """The user's first-run checklist: which steps are done, and whether it was dismissed."""
    verified = await session.scalar(select(User.email_verified_at.is_not(None)).where(User.id == user_id))
    items = []
    for step in STEPS:
        done = bool(verified) if step.key == "verify_email" else await _has_rows(session, step, user_id)
        items.append(ChecklistItem(step.key, step.title, step.description, step.href, done))
    dismissed_at = await session.scalar(select(UserOnboarding.dismissed_at).where(UserOnboarding.user_id == user_id))
    return Checklist(items=tuple(items), dismissed=dismissed_at is not None)


async def dismiss(session: AsyncSession, *, user_id: int) -> None:
    """Hide the checklist for good (idempotent: dismissing twice, even at once, keeps the first time)."""
    now = utcnow()
    insert = postgres_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    await session.execute(
        insert(UserOnboarding)
        .values(user_id=user_id, dismissed_at=now)
        .on_conflict_do_nothing(index_elements=["user_id"])
    )
    await session.execute(
        update(UserOnboarding)
        .where(UserOnboarding.user_id == user_id, UserOnboarding.dismissed_at.is_(None))
        .values(dismissed_at=now)
    )


async def restore(session: AsyncSession, *, user_id: int) -> None:
    """Show the checklist again."""
    state = await session.get(UserOnboarding, user_id)
    if state is not None:
        state.dismissed_at = None
        await session.flush()


def welcome_key(user_id: int) -> str:
    """The outbox key of a user's welcome email: one per account, however often it is asked for."""
    return f"welcome:{user_id}"


async def send_welcome(session: AsyncSession, *, user_id: int, username: str, email: str, base_url: str) -> None:
    """Queue the welcome email (it points at the checklist) in the caller's transaction; idempotent."""
    await notify(
        session,
        user_id=user_id,
        event=EVENT_WELCOME,
        payload={"to": email, "username": username, "link": f"{base_url}/"},
        key=welcome_key(user_id),
    )
