"""Account tests send their mail to a real aiosmtpd server on loopback."""

from __future__ import annotations

from pathlib import Path

import pytest

from spyglass.config import Settings
from tests.conftest import make_settings
from tests.support.smtp import SmtpServer


@pytest.fixture
def settings(tmp_path: Path, database_url: str, smtp_server: SmtpServer) -> Settings:
    return make_settings(tmp_path, database_url, **smtp_server.settings_overrides())
