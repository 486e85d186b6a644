from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from spyglass.config import Settings
from spyglass.core.services import Services
from spyglass.engine.engine import Engine
from tests.conftest import make_settings


@pytest.fixture
def settings(tmp_path, database_url: str) -> Settings:  # type: ignore[no-untyped-def]
    # Short leases and ticks so crash recovery is observable within a test's time.
    return make_settings(
        tmp_path,
        database_url,
        engine_tick_seconds=0.1,
        engine_lease_seconds=10,
        engine_heartbeat_seconds=0.2,
        engine_redeliver_after_seconds=5,
    )


@pytest.fixture
async def engine(services: Services) -> AsyncIterator[Engine]:
    started = Engine(services, mode="embedded", concurrency=20)
    await started.start()
    try:
        yield started
    finally:
        await started.stop(grace_seconds=1)
