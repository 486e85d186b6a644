"""Runs over HTTP: status API, cancel, live events over SSE, the admin engine page; tenancy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select, update

from spyglass.accounts.auth import hash_token
from spyglass.accounts.models import ApiToken, Role, User
from spyglass.app import create_app
from spyglass.audit.models import AuditEvent
from spyglass.config import Settings
from spyglass.core.db import utcnow
from spyglass.core.security import new_token
from spyglass.core.services import Services
from spyglass.engine import service
from spyglass.engine.models import Run, RunStatus
from spyglass.engine.probe import PROBE_KIND
from tests.engine.helpers import run_of
from tests.support.client import app_client
from tests.support.factories import create_user
from tests.support.tenancy import assert_isolated


async def bearer(services: Services, user: User) -> dict[str, str]:
    raw = new_token("sg_")
    async with services.db.session(write=True) as session:
        session.add(ApiToken(user_id=user.id, name="test", token_hash=hash_token(raw), prefix=raw[:8]))
    return {"Authorization": f"Bearer {raw}"}


async def user_run(services: Services, user: User, **payload: object) -> int:
    async with services.db.session(write=True) as session:
        run = await service.enqueue_run(session, kind=PROBE_KIND, user_id=user.id, payload=dict(payload))
        return run.id


async def test_owner_reads_run_and_others_get_404(client: AsyncTestClient[Litestar], services: Services) -> None:
    alice = await create_user(services, username="alice")
    bob = await create_user(services, username="bob")
    run_id = await user_run(services, alice)
    response = await client.get(f"/api/v1/runs/{run_id}", headers=await bearer(services, alice))
    assert response.status_code == 200
    assert response.json()["status"] == "queued" and response.json()["kind"] == PROBE_KIND
    listing = await client.get("/api/v1/runs", headers=await bearer(services, alice))
    assert [item["id"] for item in listing.json()["items"]] == [run_id]

    client.headers.update(await bearer(services, bob))
    await assert_isolated(
        client,
        [
            ("GET", f"/api/v1/runs/{run_id}", None),
            ("POST", f"/api/v1/runs/{run_id}/cancel", {}),
            ("GET", f"/runs/{run_id}", None),
            ("GET", f"/runs/{run_id}/events", None),
        ],
    )
    assert (await client.get("/api/v1/runs")).json()["items"] == []
    assert (await run_of(services, run_id)).status == RunStatus.QUEUED.value


async def test_cancel_through_the_api(client: AsyncTestClient[Litestar], services: Services) -> None:
    alice = await create_user(services)
    run_id = await user_run(services, alice)
    response = await client.post(f"/api/v1/runs/{run_id}/cancel", headers=await bearer(services, alice))
    assert response.status_code == 202
    assert response.json() == {"id": run_id, "status": "cancelled"}
    assert (await run_of(services, run_id)).status == RunStatus.CANCELLED.value


@pytest.fixture
def engine_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"engine_tick_seconds": 0.05})


async def test_live_events_stream_progress_until_the_run_finishes(
    engine_settings: Settings, services: Services, tmp_path: Path
) -> None:
    app = create_app(engine_settings, services=services, run_engine=True)
    alice = await create_user(services)
    run_id = await user_run(services, alice, sleep=1.0)
    async with app_client(app) as client:
        events: list[tuple[str, dict[str, object]]] = []
        async with client.stream("GET", f"/runs/{run_id}/events", headers=await bearer(services, alice)) as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
            name = ""
            async for line in stream.aiter_lines():
                if line.startswith("event:"):
                    name = line.split(":", 1)[1].strip()
                elif line.startswith("data:"):
                    events.append((name, json.loads(line.split(":", 1)[1])))
    assert events[0][0] == "run"
    progress = [data["progress"] for name, data in events if name == "progress" and data.get("progress")]
    assert progress and progress == sorted(progress)
    assert events[-1][1]["status"] == "succeeded"
    assert (await run_of(services, run_id)).status == RunStatus.SUCCEEDED.value


async def test_admin_engine_page_requeues_failed_run(client: AsyncTestClient[Litestar], services: Services) -> None:
    admin = await create_user(services, role=Role.ADMIN)
    alice = await create_user(services)
    run_id = await user_run(services, alice)
    async with services.db.session(write=True) as session:
        await session.execute(
            update(Run).where(Run.id == run_id).values(status="failed", error="boom", finished_at=utcnow(), attempt=3)
        )
    assert (await client.get("/admin/engine", headers=await bearer(services, alice))).status_code == 404
    assert (await client.get("/api/v1/admin/engine", headers=await bearer(services, alice))).status_code == 404

    headers = await bearer(services, admin)
    overview = (await client.get("/api/v1/admin/engine", headers=headers)).json()
    assert overview["by_status"] == {"failed": 1}
    assert [run["error"] for run in overview["failed"]] == ["boom"]
    page = await client.get("/admin/engine", headers=headers)
    assert page.status_code == 200 and "boom" in page.text and "Re-queue" in page.text

    response = await client.post(f"/admin/engine/runs/{run_id}/requeue", headers=headers, follow_redirects=False)
    assert response.status_code in (302, 303)
    run = await run_of(services, run_id)
    assert (run.status, run.attempt, run.finished_at) == ("queued", 0, None)
    again = await client.post(f"/admin/engine/runs/{run_id}/requeue", headers=headers)
    assert again.status_code == 409
    async with services.db.session() as session:
        actions = (await session.scalars(select(AuditEvent.action).where(AuditEvent.actor_id == admin.id))).all()
    assert actions == ["admin.run_requeued"]
