"""An HTTP client for the app that runs it in the test's own event loop.

Litestar's AsyncTestClient runs the app in a separate thread and event loop, so
database connections pooled by test code (factories) would be reused across
loops, which asyncpg refuses. httpx's ASGITransport calls the app in this loop.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx
from asgi_lifespan import LifespanManager
from litestar import Litestar

BASE_URL = "http://testserver.local"


@contextlib.asynccontextmanager
async def app_client(
    app: Litestar, *, base_url: str = BASE_URL, lifespan: bool = True, follow_redirects: bool = True
) -> AsyncIterator[httpx.AsyncClient]:
    """A client for ``app``; with ``lifespan`` it also runs the app's start-up and shutdown (once per app)."""
    async with contextlib.AsyncExitStack() as stack:
        if lifespan:
            await stack.enter_async_context(LifespanManager(app, startup_timeout=30, shutdown_timeout=30))
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=base_url, follow_redirects=follow_redirects
        )
        yield await stack.enter_async_context(client)
