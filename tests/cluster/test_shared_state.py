"""Shared state across four real ``spyglass web`` processes on one PostgreSQL and one Redis: a session made on one
instance works on the others, rate limits are exact across instances, a cache entry changed on one is seen on the
others, live progress of a run executed by a worker process streams from any instance, and an admin's reset of a
user's rate limits frees the user everywhere."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import httpx
import pytest

from spyglass.accounts.models import Role, User
from spyglass.core.services import Services
from spyglass.core.sessions import SESSION_COOKIE
from spyglass.engine import service as engine_service
from spyglass.engine.models import Run
from spyglass.engine.probe import PROBE_KIND
from tests.cluster.conftest import API_LIMIT, Cluster
from tests.support.factories import DEFAULT_PASSWORD, create_user
from tests.support.web import login, post_form, send_json

pytestmark = pytest.mark.slow


@asynccontextmanager
async def clients(cluster: Cluster) -> AsyncIterator[list[httpx.AsyncClient]]:
    """One client per web instance (cookie jars are separate: a session moves only when a test copies it)."""
    async with AsyncExitStack() as stack:
        yield [
            await stack.enter_async_context(httpx.AsyncClient(base_url=url, timeout=30.0)) for url in cluster.web_urls
        ]


async def signed_in(instances: list[httpx.AsyncClient], user: User, on: int = 0) -> str:
    """Sign ``user`` in on instance ``on`` and give its session cookie to every other client; returns the cookie."""
    await login(instances[on], user.username, DEFAULT_PASSWORD)  # type: ignore[arg-type]
    cookie = instances[on].cookies.get(SESSION_COOKIE)
    assert cookie, "signing in set no session cookie"
    for number, client in enumerate(instances):
        if number != on:
            client.cookies.set(SESSION_COOKIE, cookie)
    return cookie


async def test_a_session_made_on_one_instance_works_on_all_and_signing_out_ends_it_everywhere(
    cluster: Cluster, services: Services
) -> None:
    user = await create_user(services)
    async with clients(cluster) as instances:
        await signed_in(instances, user, on=0)
        for client in instances[1:]:
            page = await client.get("/account", follow_redirects=False)
            assert page.status_code == 200, f"{client.base_url}: {page.status_code}"
            assert user.username in page.text
            me = await client.get("/api/v1/me")
            assert me.status_code == 200 and me.json()["username"] == user.username

        signed_out = await post_form(instances[2], "/logout", follow_redirects=False)  # type: ignore[arg-type]
        assert signed_out.status_code in (302, 303)
        for client in (instances[0], instances[1], instances[3]):
            page = await client.get("/account", follow_redirects=False)
            assert page.status_code in (302, 303, 401), f"{client.base_url} still accepts the ended session"


async def test_the_api_limit_is_exact_across_instances(cluster: Cluster, services: Services) -> None:
    user = await create_user(services)
    async with clients(cluster) as instances:
        await signed_in(instances, user)
        round_robin = itertools.cycle(instances)
        answers = [(await next(round_robin).get("/api/v1/me")).status_code for _ in range(API_LIMIT)]
        assert answers == [200] * API_LIMIT
        # The window is full, whichever instance the next request reaches.
        for client in instances:
            refused = await client.get("/api/v1/me")
            assert refused.status_code == 429, f"{client.base_url} let request {API_LIMIT + 1} through"
            assert refused.headers["ratelimit-remaining"] == "0"
            assert int(refused.headers["retry-after"]) >= 1


async def test_an_admin_reset_on_one_instance_frees_the_user_on_all(cluster: Cluster, services: Services) -> None:
    user = await create_user(services)
    admin = await create_user(services, role=Role.ADMIN)
    async with clients(cluster) as instances, clients(cluster) as admin_instances:
        await signed_in(instances, user)
        await signed_in(admin_instances, admin)
        for number in range(API_LIMIT):
            assert (await instances[number % 4].get("/api/v1/me")).status_code == 200
        assert all([(await client.get("/api/v1/me")).status_code == 429 for client in instances])

        reset = await send_json(admin_instances[1], "DELETE", f"/api/v1/admin/users/{user.id}/rate-limits")  # type: ignore[arg-type]
        assert reset.status_code == 200, reset.text
        api_window = next(window for window in reset.json() if window["category"] == "api")
        assert api_window["remaining"] == API_LIMIT

        for client in (instances[0], instances[2], instances[3]):
            assert (await client.get("/api/v1/me")).status_code == 200, f"{client.base_url} still refuses the user"


async def test_a_setting_changed_on_one_instance_is_seen_on_the_others(cluster: Cluster, services: Services) -> None:
    user = await create_user(services)
    async with clients(cluster) as instances:
        await signed_in(instances, user)
        for client in instances[1:]:  # every instance reads (and caches) the settings first
            assert (await client.get("/api/v1/me")).json()["settings"]["display_name"] in (None, "")

        changed = await send_json(instances[0], "PATCH", "/api/v1/me/settings", {"display_name": "Renamed on one"})  # type: ignore[arg-type]
        assert changed.status_code == 200, changed.text
        for client in instances[1:]:
            seen = (await client.get("/api/v1/me")).json()["settings"]["display_name"]
            assert seen == "Renamed on one", f"{client.base_url} serves a stale cached setting: {seen!r}"


async def test_a_user_deactivated_on_one_instance_is_refused_on_the_others(
    cluster: Cluster, services: Services
) -> None:
    user = await create_user(services)
    admin = await create_user(services, role=Role.ADMIN)
    async with clients(cluster) as instances, clients(cluster) as admin_instances:
        await signed_in(instances, user)
        await signed_in(admin_instances, admin)
        for client in instances:  # the user is now cached by every instance
            assert (await client.get("/api/v1/me")).status_code == 200

        patched = await send_json(admin_instances[0], "PATCH", f"/api/v1/admin/users/{user.id}", {"is_active": False})  # type: ignore[arg-type]
        assert patched.status_code == 200, patched.text
        for client in instances:
            assert (await client.get("/api/v1/me")).status_code == 401, f"{client.base_url} still lets the user in"


async def run_events(client: httpx.AsyncClient, run_id: int) -> list[tuple[str, dict[str, object]]]:
    """The server-sent events of a run, read until the server ends the stream."""
    events: list[tuple[str, dict[str, object]]] = []
    async with client.stream("GET", f"/runs/{run_id}/events", timeout=60.0) as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        kind = "message"
        async for line in stream.aiter_lines():
            if line.startswith("event:"):
                kind = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                events.append((kind, json.loads(line.split(":", 1)[1])))
    return events


async def enqueue_probe(services: Services, user: User, **payload: object) -> int:
    async with services.db.session(write=True) as session:
        run = await engine_service.enqueue_run(session, kind=PROBE_KIND, user_id=user.id, payload=payload)
        return run.id


async def test_live_progress_of_a_worker_run_streams_from_another_instance(
    cluster: Cluster, services: Services
) -> None:
    user = await create_user(services)
    async with clients(cluster) as instances:
        await signed_in(instances, user)
        events = await run_events(instances[2], await enqueue_probe(services, user, sleep=3))
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "run"
    progress = [data for kind, data in events if kind == "progress"]
    assert progress, f"no progress event reached the stream: {events}"
    percents = [int(str(data["progress"])) for data in progress if data.get("progress") is not None]
    assert percents == sorted(percents) and percents, f"progress went backwards or was missing: {progress}"
    assert events[-1][1]["status"] == "succeeded"


async def test_the_live_stream_outlasts_a_silence_longer_than_its_poll(cluster: Cluster, services: Services) -> None:
    """The run fails once and waits 5 s before its retry: no event for longer than the stream's 2 s poll."""
    user = await create_user(services)
    async with clients(cluster) as instances:
        await signed_in(instances, user)
        run_id = await enqueue_probe(services, user, fail="transient", fail_attempts=1, retry_after=5, sleep=1)
        events = await run_events(instances[1], run_id)
    # Each "run" event after the first snapshot is a re-read after a poll timed out with no event.
    assert sum(1 for kind, _ in events[1:] if kind == "run") >= 1, f"no silence longer than the poll: {events}"
    assert events[-1][1]["status"] == "succeeded", f"the stream ended before the run did: {events[-3:]}"
    async with services.db.session() as session:
        assert (await session.get(Run, run_id)).attempt == 2  # type: ignore[union-attr]
