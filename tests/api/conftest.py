"""API tests that need the live server (uvicorn on 127.0.0.1) and Debian's chromium."""

from tests.support.live_server import (  # noqa: F401 - fixtures
    browser,
    live_server,
    live_server_factory,
    page,
    page_context,
    playwright_session,
)
