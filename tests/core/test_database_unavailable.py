"""When the database cannot serve a request now (every pooled connection busy, the server restarting), the
answer is a 503 with Retry-After that says to try again, never a 500."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import text

from spyglass.app import create_app
from spyglass.core.services import Services
from tests.conftest import make_settings
from tests.support.client import app_client
from tests.support.factories import DEFAULT_PASSWORD, create_user
from tests.support.web import login


@pytest.mark.backends("postgresql")
async def test_an_exhausted_connection_pool_answers_503_with_retry_after(tmp_path: Path, database_url: str) -> None:
    settings = make_settings(tmp_path, database_url, database_pool_size=1, database_pool_timeout_seconds=0.5)
    services = Services.build(settings)
    release = asyncio.Event()
    holding = 0

    async def hold_a_connection() -> None:
        nonlocal holding
        async with services.db.session() as session:
            await session.execute(text("SELECT 1"))
            holding += 1
            await release.wait()

    try:
        user = await create_user(services)
        app = create_app(settings, services=services)
        async with app_client(app, lifespan=False, follow_redirects=False) as client:
            await login(client, user.username, DEFAULT_PASSWORD)
            holders = [asyncio.create_task(hold_a_connection()) for _ in range(2)]  # pool of 1 + overflow of 1
            while holding < 2:
                await asyncio.sleep(0.01)
            busy = await client.get("/api/v1/runs")
            page = await client.get("/account/tokens")
            release.set()
            await asyncio.gather(*holders)
            again = await client.get("/api/v1/runs")
    finally:
        release.set()
        await services.close()

    assert busy.status_code == 503 and busy.headers["retry-after"] == "5"
    assert "try again" in busy.json()["error"]
    assert page.status_code == 503 and "try again" in page.text and "Traceback" not in page.text
    assert again.status_code == 200
