"""What the cluster test's scenario and faults share: the report of checks, read-only SQL on the primary, a
person using the cluster through nginx, waiting for a condition, and dealing a fault then timing the recovery."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import text

from spyglass.core.db import create_engine
from spyglass.core.migrations import run_coroutine_blocking
from spyglass.engine.leadership import SCHEDULER_LOCK_KEY

#: After a fault, a signed-in read through nginx must answer 200 again within this many seconds.
RECOVERY_LIMIT_SECONDS = 10.0


@dataclass
class Check:
    """One verdict of the run: a name, whether it passed and what was seen."""

    name: str
    passed: bool
    detail: str = ""


@dataclass
class Report:
    """The checks and notes of a run, printed as they come with the seconds since the start."""

    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def _print(self, line: str) -> None:
        print(f"{time.monotonic() - self.started:6.1f}s {line}", flush=True)

    def check(self, name: str, passed: bool, detail: str = "") -> bool:
        self.checks.append(Check(name, passed, detail))
        self._print(f"[{'PASS' if passed else 'FAIL'}] {name}{': ' + detail if detail else ''}")
        return passed

    def note(self, message: str) -> None:
        self.notes.append(message)
        self._print(f"- {message}")

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(check.passed for check in self.checks)


class Database:
    """Read-only SQL on the primary, for the verdicts (a fresh connection each time: the primary restarts)."""

    def __init__(self, url: str) -> None:
        self.url = url

    def rows(self, sql: str, **params: Any) -> list[tuple[Any, ...]]:
        async def query() -> list[tuple[Any, ...]]:
            engine = create_engine(self.url)
            try:
                async with engine.connect() as connection:
                    return [tuple(row) for row in (await connection.execute(text(sql), params)).all()]
            finally:
                await engine.dispose()

        return run_coroutine_blocking(query)

    def value(self, sql: str, **params: Any) -> Any:
        rows = self.rows(sql, **params)
        return rows[0][0] if rows else None


def wait_for(predicate: Callable[[], Any], timeout: float, interval: float = 0.5) -> Any:
    """Call ``predicate`` until it returns something truthy; returns it, or the last falsy value after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = predicate()
        except Exception:  # a fault is in progress: try again
            result = None
        if result or time.monotonic() > deadline:
            return result
        time.sleep(interval)


class User:
    """A person using the cluster through nginx: a cookie session with the CSRF header on writes."""

    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=20.0)

    def csrf(self) -> str:
        if not self.http.cookies.get("spyglass_csrf"):
            self.http.get("/login")
        return self.http.cookies.get("spyglass_csrf") or ""

    def form(self, path: str, data: dict[str, str]) -> httpx.Response:
        return self.http.post(path, data={**data, "_csrf_token": self.csrf()}, follow_redirects=False)

    def api(self, method: str, path: str, body: Any = None) -> httpx.Response:
        return self.http.request(method, path, json=body, headers={"x-csrf-token": self.csrf()})


def unfinished_runs(db: Database) -> int:
    return int(db.value("SELECT count(*) FROM runs WHERE status IN ('queued', 'running')") or 0)


def leader_pid(db: Database) -> int | None:
    name = db.value(
        "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE l.locktype = 'advisory' AND l.granted AND l.objid = :key",
        key=SCHEDULER_LOCK_KEY,
    )
    return int(str(name).rsplit("-", 1)[1]) if name else None


def time_to_answer(user: User, started: float, limit: float = 60.0) -> float | None:
    """Seconds from ``started`` until a signed-in API read through nginx answers 200 (None: not within ``limit``)."""

    def answers() -> bool:
        return user.http.get("/api/v1/me", timeout=3.0).status_code == 200

    return time.monotonic() - started if wait_for(answers, limit, interval=0.1) else None


def fault(
    report: Report, user: User, name: str, deal: Callable[[], object], prepare: Callable[[], object] | None = None
) -> None:
    """Deal a fault, then check that the service answers again within the limit, counted from the fault
    (``prepare`` runs first and is not counted: putting work in flight can take a while)."""
    print(f"* chaos: {name}", flush=True)
    if prepare is not None:
        prepare()
    started = time.monotonic()
    deal()
    waited = time_to_answer(user, started)
    report.check(
        f"{name}: answering again within {RECOVERY_LIMIT_SECONDS:g} s",
        waited is not None and waited <= RECOVERY_LIMIT_SECONDS,
        "no answer within 60 s" if waited is None else f"{waited:.1f} s",
    )
