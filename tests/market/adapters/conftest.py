"""Shared pieces for adapter tests: the captured pages, our own realistic pages, a real fetcher and server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from spyglass.config import Settings
from tests.support.http_server import LocalHttpServer, Reply, ServerRequest
from tests.support.shared_fixtures import HAVE_MARKETPLACES, MARKETPLACES, MISSING_REASON

PAGES = Path(__file__).resolve().parent / "pages"
FIXTURES = MARKETPLACES
#: For tests that read the captured pages by path rather than through ``captured``.
requires_captured_pages = pytest.mark.skipif(not HAVE_MARKETPLACES, reason=MISSING_REASON)


def page(name: str) -> str:
    """One of our own pages in tests/market/adapters/pages."""
    return (PAGES / name).read_text(encoding="utf-8")


def captured(relative: str) -> str:
    """A real captured marketplace page from ../shared/fixtures/marketplaces (the test skips without them)."""
    if not HAVE_MARKETPLACES:
        pytest.skip(MISSING_REASON)
    return (FIXTURES / relative).read_text(encoding="utf-8")


def fetch_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "allow_private_targets": "127.0.0.1/32,localhost",
        "http_per_host_delay_seconds": 0,
        "http_timeout_seconds": 5,
    }
    return Settings(_env_file=None, **{**values, **overrides})


def serve(
    server: LocalHttpServer, path: str, body: str | bytes, content_type: str = "text/html; charset=utf-8"
) -> None:
    """Answer ``path`` with ``body`` (the same every time)."""
    data = body.encode() if isinstance(body, str) else body

    async def handler(_request: ServerRequest) -> Reply:
        return Reply(200, data, {"Content-Type": content_type})

    server.route(path, handler)


@pytest.fixture
def server() -> Iterator[LocalHttpServer]:
    with LocalHttpServer() as running:
        yield running
