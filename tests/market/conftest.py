from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from spyglass.config import Settings
from tests.conftest import make_settings
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
    # The shop runs on 127.0.0.1, which the URL policy refuses unless allowed; no politeness delay in tests.
    return make_settings(
        tmp_path,
        database_url,
        allow_private_targets="127.0.0.1/32,localhost",
        http_per_host_delay_seconds=0,
        rate_limit_enabled=False,
    )


@pytest.fixture
def shop() -> Iterator[Shop]:
    with LocalHttpServer() as server:
        yield Shop(server)
