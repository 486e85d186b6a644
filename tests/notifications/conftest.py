"""Notification tests: mail goes to a real aiosmtpd server, Apprise posts to a real HTTP server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from spyglass.config import Settings
from tests.conftest import make_settings
from tests.support.http_server import LocalHttpServer, Reply, ServerRequest
from tests.support.smtp import SmtpServer


@pytest.fixture
def settings(tmp_path: Path, database_url: str, smtp_server: SmtpServer) -> Settings:
    return make_settings(
        tmp_path,
        database_url,
        allow_private_targets="127.0.0.1/32,localhost",
        notifications_retry_base_seconds=0.05,
        notifications_retry_cap_seconds=0.1,
        notifications_poll_seconds=0.05,
        **smtp_server.settings_overrides(),
    )


@pytest.fixture
def webhook() -> Iterator[LocalHttpServer]:
    """A webhook receiver on 127.0.0.1: ``/hook`` answers 200, ``/down`` 503, ``/moved`` redirects to ``/hook``."""
    server = LocalHttpServer()

    async def accept(request: ServerRequest) -> Reply:
        return Reply(200, b"{}", {"Content-Type": "application/json"})

    async def down(request: ServerRequest) -> Reply:
        return Reply(503, b"busy")

    async def moved(request: ServerRequest) -> Reply:
        return Reply(307, b"", {"Location": f"http://127.0.0.1:{server.port}/hook"})

    server.route("/hook", accept)
    server.route("/down", down)
    server.route("/moved", moved)
    with server:
        yield server
