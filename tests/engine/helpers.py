"""Helpers for engine tests: enqueue probe runs, wait for states."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from spyglass.core.services import Services
from spyglass.engine import service
from spyglass.engine.models import Run, RunStatus
from spyglass.engine.probe import PROBE_KIND


async def enqueue_probes(services: Services, count: int, **payload: Any) -> list[int]:
    async with services.db.session(write=True) as session:
        runs = [
            await service.enqueue_run(session, kind=PROBE_KIND, user_id=None, payload=payload) for _ in range(count)
        ]
        return [run.id for run in runs]


async def statuses(services: Services) -> dict[str, int]:
    async with services.db.session() as session:
        rows = await session.execute(select(Run.status, func.count()).group_by(Run.status))
        return {status: count for status, count in rows.all()}


async def wait_until(predicate: Any, *, timeout: float = 30.0, interval: float = 0.1) -> None:
    """Poll an async predicate until it is true; fail with a clear message after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


async def run_of(services: Services, run_id: int) -> Run:
    async with services.db.session() as session:
        run = await session.get(Run, run_id)
        assert run is not None
        return run


async def all_finished(services: Services, total: int) -> bool:
    counts = await statuses(services)
    return sum(counts.get(s.value, 0) for s in (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED)) >= total


def executions(effects: Path) -> dict[int, int]:
    """How many times each run id started executing, from the probe's log."""
    counts: dict[int, int] = {}
    log = effects / "executions.log"
    if not log.exists():
        return counts
    for line in log.read_text().splitlines():
        run_id = int(line.split()[0])
        counts[run_id] = counts.get(run_id, 0) + 1
    return counts
