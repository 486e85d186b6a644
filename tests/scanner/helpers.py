"""Helpers for the scanner feature's tests: settings that may reach loopback, tokens, targets, scans."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from spyglass.accounts.auth import hash_token
from spyglass.accounts.models import ApiToken, User
from spyglass.config import Settings
from spyglass.core.db import utcnow
from spyglass.core.security import new_token
from spyglass.core.services import Services
from spyglass.engine.engine import Engine
from spyglass.engine.models import Run
from spyglass.scanner.models import Scan, ScanStatus, ScanTarget
from spyglass.scanner.verification import new_token as new_verification_token
from tests.conftest import make_settings

LOOPBACK = "127.0.0.1/32,localhost"


def scanner_settings(tmp_path: Path, database_url: str, **overrides: Any) -> Settings:
    """Test settings whose fetcher may reach 127.0.0.1, without politeness delays."""
    values: dict[str, Any] = {
        "allow_private_targets": LOOPBACK,
        "http_per_host_delay_seconds": 0,
        "http_per_host_concurrency": 8,
        "http_timeout_seconds": 5,
        "engine_tick_seconds": 0.05,
        "engine_heartbeat_seconds": 0.2,
        "scanner_pipeline_progress_interval_seconds": 0.05,
    }
    values.update(overrides)
    return make_settings(tmp_path, database_url, **values)


async def bearer(services: Services, user: User) -> dict[str, str]:
    """An Authorization header with a fresh API token of ``user``."""
    raw = new_token("sg_")
    async with services.db.session(write=True) as session:
        session.add(ApiToken(user_id=user.id, name="test", token_hash=hash_token(raw), prefix=raw[:8]))
    return {"Authorization": f"Bearer {raw}"}


async def make_target(services: Services, user: User, base_url: str, *, verified: bool = False, **fields: Any) -> int:
    """A target written straight to the database."""
    async with services.db.session(write=True) as session:
        values: dict[str, Any] = {
            "name": "Site",
            "host": "127.0.0.1",
            "include_paths": [],
            "exclude_paths": [],
            "max_depth": 3,
            "max_pages": 20,
            "max_requests": 200,
            "time_limit_seconds": 60,
            "requests_per_second": 50,
            "concurrency": 4,
            **fields,
        }
        target = ScanTarget(
            user_id=user.id,
            base_url=base_url,
            verification_token=new_verification_token(),
            verified_at=utcnow() if verified else None,
            verification_method="file" if verified else None,
            **values,
        )
        session.add(target)
        await session.flush()
        return target.id


async def make_scan(services: Services, user: User, target_id: int, *, status: str = ScanStatus.RUNNING.value) -> int:
    """A scan row without a run (for feeding findings through the recorder directly)."""
    async with services.db.session(write=True) as session:
        scan = Scan(user_id=user.id, target_id=target_id, profile="passive", families=[], status=status)
        session.add(scan)
        await session.flush()
        return scan.id


async def wait_for_scan(services: Services, scan_id: int, timeout: float = 30.0) -> Scan:
    """The scan once it and its run have both finished (the runner records the run after the handler returns)."""
    finished = ("succeeded", "failed", "cancelled")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        async with services.db.session() as session:
            scan = await session.get(Scan, scan_id)
            assert scan is not None
            run = await session.get(Run, scan.run_id) if scan.run_id else None
            if scan.status in finished and (run is None or run.status in finished):
                return scan
        await asyncio.sleep(0.1)
    raise AssertionError(f"scan {scan_id} did not finish within {timeout} s")


@asynccontextmanager
async def embedded_engine(services: Services, *, concurrency: int = 4) -> AsyncIterator[Engine]:
    """A started in-process engine that runs scan jobs, stopped on exit (the body of the tests' ``engine`` fixture)."""
    started = Engine(services, mode="embedded", concurrency=concurrency)
    await started.start()
    try:
        yield started
    finally:
        await started.stop(grace_seconds=1)
