"""Browser tests: Playwright (sync API) driving Debian's chromium against a live Spyglass on SQLite."""

from tests.support.live_server import (  # noqa: F401 - fixtures
    browser,
    live_server,
    live_server_factory,
    page,
    page_context,
    playwright_session,
)
