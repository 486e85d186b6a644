from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from spyglass.config import Settings
from spyglass.core.fetch import Fetcher
from spyglass.core.retry import RetryPolicy
from spyglass.market.simulator import Simulator, SimulatorServer
from tests.market.adapters.conftest import fetch_settings
from tests.market.helpers import market_settings, simulated_market
from tests.market.shop import Shop
from tests.support.http_server import LocalHttpServer
from tests.support.live_server import (  # noqa: F401 - fixtures of the browser test
    browser,
    live_server_factory,
    page,
    page_context,
    playwright_session,
)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return market_settings(tmp_path, database_url)


@pytest.fixture
def shop() -> Iterator[Shop]:
    with LocalHttpServer() as server:
        yield Shop(server)


@pytest.fixture
def simulator() -> Simulator:
    """The marketplace simulator at step 0; a module that wants another step or page size overrides this."""
    return simulated_market()


@pytest.fixture
def running(simulator: Simulator) -> Iterator[SimulatorServer]:
    """``simulator`` served over HTTP on 127.0.0.1."""
    with SimulatorServer(simulator) as server:
        yield server


@pytest.fixture
async def fetcher() -> AsyncIterator[Fetcher]:
    """A real fetcher that may reach 127.0.0.1 and tries each request once."""
    async with Fetcher(fetch_settings(), retry=RetryPolicy(attempts=1)) as instance:
        yield instance
