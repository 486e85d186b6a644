"""Fixtures for the scan pipeline tests: a fetcher allowed to reach loopback, and the demo site."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from spyglass.config import Settings
from spyglass.core.fetch import Fetcher
from spyglass.core.retry import RetryPolicy
from tests.scanner.pipeline.site import DemoSite
from tests.support.http_server import LocalHttpServer


def scan_settings(**overrides: Any) -> Settings:
    """Settings for scans of 127.0.0.1 without the production politeness delay."""
    values: dict[str, Any] = {
        "allow_private_targets": "127.0.0.1/32,localhost",
        "http_per_host_delay_seconds": 0,
        "http_per_host_concurrency": 8,
        "http_timeout_seconds": 5,
        "scanner_pipeline_progress_interval_seconds": 0.05,
    }
    return Settings(_env_file=None, **{**values, **overrides})


@pytest.fixture
def server() -> Iterator[LocalHttpServer]:
    with LocalHttpServer() as running:
        yield running


@pytest.fixture
def site(server: LocalHttpServer) -> DemoSite:
    return DemoSite(server)


@pytest.fixture
async def fetcher() -> AsyncIterator[Fetcher]:
    async with Fetcher(scan_settings(), retry=RetryPolicy(attempts=1)) as instance:
        yield instance
