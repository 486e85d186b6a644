"""Recurring scans: setting a target's schedule (API and page, validated, active only when verified,
private to the owner), a due schedule runs a real scan through the engine, the scheduled run makes
its Scan row once (re-execution reuses it), and deleting the target removes the schedule."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select, update

from spyglass.config import Settings
from spyglass.core.db import utcnow
from spyglass.core.services import Services
from spyglass.engine.engine import Engine
from spyglass.engine.models import Run, Schedule
from spyglass.scanner import schedules
from spyglass.scanner.models import Scan
from tests.scanner.helpers import bearer, embedded_engine, make_target, scanner_settings, wait_for_scan
from tests.support.factories import DEFAULT_PASSWORD, create_user
from tests.support.http_server import LocalHttpServer, Reply, ServerRequest
from tests.support.tenancy import assert_isolated
from tests.support.web import login, post_form

Client = AsyncTestClient[Litestar]


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return scanner_settings(tmp_path, database_url)


async def test_set_a_schedule_through_the_api(client: Client, services: Services) -> None:
    alice = await create_user(services)
    client.headers.update(await bearer(services, alice))
    target_id = await make_target(services, alice, "http://127.0.0.1:1/")
    url = f"/api/v1/scanner/targets/{target_id}/schedule"

    assert (await client.get(url)).json() == {
        "enabled": False,
        "interval_hours": 168,
        "profile": "passive",
        "families": [],
        "next_run_at": None,
    }
    for body, field, message in (
        ({"interval_hours": 0}, "interval_hours", "Scan every 1 to 2160 hours (a whole number)."),
        ({"interval_hours": 2161}, "interval_hours", "Scan every 1 to 2160 hours (a whole number)."),
        ({"profile": "custom"}, "families", "A custom scan needs at least one check family."),
    ):
        bad = await client.put(url, json=body)
        assert bad.status_code == 422 and bad.json()["detail"][field] == message, bad.text
    unknown = await client.put(url, json={"profile": "custom", "families": ["nope"]})
    assert unknown.status_code == 422 and unknown.json()["detail"]["families"].startswith("Unknown check family")
    assert (await client.put(url, json={"interval_hours": "often"})).status_code == 400
    refused = await client.put(url, json={"profile": "active"})
    assert refused.status_code == 403 and "ownership is proven" in refused.json()["error"]

    before = utcnow()
    saved = await client.put(url, json={"interval_hours": 24, "profile": "custom", "families": ["headers"]})
    assert saved.status_code == 200, saved.text
    body = saved.json()
    assert (body["enabled"], body["interval_hours"], body["profile"], body["families"]) == (
        True,
        24,
        "custom",
        ["headers"],
    )
    async with services.db.session() as session:
        row = await session.scalar(select(Schedule).where(Schedule.kind == "scanner.scan"))
        assert row is not None
        assert (row.subject_id, row.user_id, row.interval_seconds, row.enabled) == (target_id, alice.id, 86400, True)
        assert row.payload == {"scheduled": True, "profile": "custom", "families": ["headers"]}
        assert row.next_run_at >= before + timedelta(hours=24) - timedelta(seconds=5)
    assert (await client.get(url)).json() == body

    stopped = (await client.put(url, json={"enabled": False, "interval_hours": 24})).json()
    assert stopped["enabled"] is False and stopped["next_run_at"] is None
    async with services.db.session() as session:
        assert await session.scalar(select(func.count()).where(Schedule.kind == "scanner.scan")) == 1

    verified = await make_target(services, alice, "http://127.0.0.1:2/", verified=True)
    active = await client.put(f"/api/v1/scanner/targets/{verified}/schedule", json={"profile": "active"})
    assert active.status_code == 200 and active.json()["profile"] == "active"

    bob = await create_user(services)
    client.headers.update(await bearer(services, bob))

    async def alice_schedule_unchanged() -> None:
        async with services.db.session() as session:
            row = await session.scalar(select(Schedule).where(Schedule.subject_id == target_id))
            assert row is not None and row.enabled is False and row.user_id == alice.id

    await assert_isolated(
        client,
        [
            ("GET", url, None),
            ("PUT", url, {"interval_hours": 1}),
            ("POST", f"/scanner/targets/{target_id}/schedule", {"enabled": "true", "interval_hours": "1"}),
        ],
        unchanged=alice_schedule_unchanged,
    )

    client.headers.update(await bearer(services, alice))
    assert (await client.delete(f"/api/v1/scanner/targets/{target_id}")).status_code == 204
    async with services.db.session() as session:
        left = (await session.scalars(select(Schedule.subject_id).where(Schedule.kind == "scanner.scan"))).all()
    assert left == [verified]


async def test_set_a_schedule_on_the_page(client: Client, services: Services) -> None:
    alice = await create_user(services, username="alice")
    await login(client, "alice", DEFAULT_PASSWORD)
    target_id = await make_target(services, alice, "http://127.0.0.1:1/")
    page = await client.get(f"/scanner/targets/{target_id}")
    assert "Off: this target is scanned only when you start a scan." in page.text
    assert f'action="/scanner/targets/{target_id}/schedule"' in page.text

    bad = await post_form(client, f"/scanner/targets/{target_id}/schedule", {"enabled": "true", "interval_hours": "0"})
    assert bad.status_code == 422 and "Scan every 1 to 2160 hours (a whole number)." in bad.text
    no_csrf = await client.post(f"/scanner/targets/{target_id}/schedule", data={"enabled": "true"})
    assert no_csrf.status_code == 403

    saved = await post_form(
        client,
        f"/scanner/targets/{target_id}/schedule",
        {"enabled": "true", "interval_hours": "12", "schedule_profile": "passive"},
    )
    assert saved.status_code == 200 and "Recurring passive scan every 12 hours." in saved.text
    assert "A passive scan every 12 hours, next on" in saved.text
    off = await post_form(client, f"/scanner/targets/{target_id}/schedule", {"interval_hours": "12"})
    assert "Recurring scans stopped." in off.text


@pytest.fixture
def site() -> Iterator[LocalHttpServer]:
    with LocalHttpServer() as server:

        async def page(_: ServerRequest) -> Reply:
            body = b"<!doctype html><html><head><title>Shop</title></head><body>Hi</body></html>"
            return Reply(200, body, {"content-type": "text/html; charset=utf-8", "server": "Apache/2.4.1"})

        server.route("/", page)
        yield server


@pytest.fixture
async def engine(services: Services) -> AsyncIterator[Engine]:
    async with embedded_engine(services) as started:
        yield started


async def test_a_due_schedule_scans_the_target_once_per_run(
    client: Client, services: Services, engine: Engine, site: LocalHttpServer
) -> None:
    alice = await create_user(services)
    client.headers.update(await bearer(services, alice))
    target_id = await make_target(services, alice, site.url("/"), max_pages=2)
    saved = await client.put(f"/api/v1/scanner/targets/{target_id}/schedule", json={"interval_hours": 24})
    assert saved.status_code == 200
    async with services.db.session(write=True) as session:  # a day passes
        await session.execute(
            update(Schedule).where(Schedule.kind == "scanner.scan").values(next_run_at=utcnow() - timedelta(seconds=1))
        )

    deadline = time.monotonic() + 30
    scan_id = None
    while scan_id is None and time.monotonic() < deadline:
        async with services.db.session() as session:
            scan_id = await session.scalar(select(Scan.id).where(Scan.target_id == target_id))
        await asyncio.sleep(0.1)
    assert scan_id is not None, "the schedule did not start a scan"
    scan = await wait_for_scan(services, scan_id)
    assert scan.status == "succeeded", scan.error
    assert scan.profile == "passive" and scan.pages_crawled >= 1 and site.hits("/") >= 1
    async with services.db.session() as session:
        run = await session.get(Run, scan.run_id)
        assert run is not None and run.schedule_id is not None and run.subject_id == target_id
        assert run.status == "succeeded"
        row = await session.scalar(select(Schedule).where(Schedule.kind == "scanner.scan"))
        assert row is not None, "no schedule"
        assert row.next_run_at > utcnow() + timedelta(hours=23)
    listed = (await client.get("/api/v1/scanner/scans", params={"target_id": target_id})).json()
    assert [item["id"] for item in listed["items"]] == [scan_id]

    # The run executed again (a crash after the scan row was made) reuses that row.
    assert run is not None
    again = await schedules.scan_for_run(
        services, run_id=run.id, target_id=target_id, user_id=alice.id, payload=run.payload
    )
    assert again == scan_id
    async with services.db.session() as session:
        assert await session.scalar(select(func.count()).select_from(Scan)) == 1
