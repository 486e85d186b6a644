"""Account tests send their mail to a real aiosmtpd server on loopback."""

from __future__ import annotations

from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from spyglass.config import Settings
from tests.conftest import make_settings
from tests.support.smtp import SmtpServer


@pytest.fixture
def settings(tmp_path: Path, database_url: str, smtp_server: SmtpServer) -> Settings:
    return make_settings(tmp_path, database_url, **smtp_server.settings_overrides())


@pytest.fixture
def no_redirects(client: AsyncTestClient[Litestar]) -> AsyncTestClient[Litestar]:
    """The client, answering redirects instead of following them (account tests check where they point)."""
    client.follow_redirects = False
    return client
