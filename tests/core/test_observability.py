"""/health, /ready, /metrics and the JSON logs."""

from __future__ import annotations

import io
import json
import logging
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar import Litestar

from spyglass.app import create_app
from spyglass.core.logging import JsonFormatter, configure_logging
from spyglass.core.services import Services
from tests.conftest import make_settings
from tests.core.conftest import issue_token
from tests.support.client import app_client
from tests.support.factories import DEFAULT_PASSWORD, create_user
from tests.support.servers import free_port
from tests.support.web import login, post_form


async def _ready(app: Litestar) -> tuple[int, dict[str, object], float]:
    async with app_client(app, lifespan=False) as client:
        started = time.perf_counter()
        health = await client.get("/health")
        response = await client.get("/ready")
        elapsed = time.perf_counter() - started
    assert health.status_code == 200, "liveness never depends on the database or Redis"
    assert health.json() == {"status": "ok"}
    return response.status_code, response.json(), elapsed


async def test_ready_is_503_with_the_reason_when_redis_is_down(tmp_path: Path, database_url: str) -> None:
    settings = make_settings(tmp_path, database_url, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    services = Services.build(settings)
    try:
        status, body, elapsed = await _ready(create_app(settings, services=services))
    finally:
        await services.close()

    assert status == 503
    assert body["status"] == "unavailable"
    checks = body["checks"]
    assert isinstance(checks, dict)
    assert checks["database"] == "ok"
    assert str(checks["redis"]).startswith("unavailable")
    assert elapsed < 10


@pytest.mark.parametrize(
    "unreachable",
    ["postgresql+asyncpg://spyglass@127.0.0.1:{port}/spyglass", "sqlite+aiosqlite:///{tmp}/no/such/folder/x.db"],
    ids=["postgresql", "sqlite"],
)
async def test_ready_is_503_and_health_still_ok_when_the_database_is_down(tmp_path: Path, unreachable: str) -> None:
    url = unreachable.format(port=free_port(), tmp=tmp_path)
    settings = make_settings(tmp_path, url)
    services = Services.build(settings)
    try:
        status, body, _ = await _ready(create_app(settings, services=services))
    finally:
        await services.close()

    assert status == 503
    checks = body["checks"]
    assert isinstance(checks, dict)
    assert str(checks["database"]).startswith("unavailable: ")
    assert "redis" not in checks


def _sample(text: str, name: str, **labels: str) -> float:
    """The value of one Prometheus sample (0 when absent)."""
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line[len(name) : line.rindex("}") + 1]))
        if all(found.get(key) == value for key, value in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_metrics_count_by_route_template_status_and_more(tmp_path: Path, database_url: str) -> None:
    settings = make_settings(tmp_path, database_url, rate_limit_login="2 per 5 minutes")
    services = Services.build(settings)
    try:
        user = await create_user(services, username="ann")
        token = await issue_token(services, user.id)
        app = create_app(settings, services=services)
        async with app_client(app, lifespan=False, follow_redirects=False) as client:
            for user_id in (5, 6, 7):
                assert (await client.get(f"/admin/users/{user_id}")).status_code == 404  # not an admin
            for _ in range(2):
                assert (await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})).status_code == 200
            await login(client, "ann", DEFAULT_PASSWORD)
            bad = {"login": "ann", "password": "not the password"}
            assert (await post_form(client, "/login", bad)).status_code in (401, 429)
            assert (await post_form(client, "/login", bad)).status_code == 429
            text = (await client.get("/metrics")).text
    finally:
        await services.close()

    templates = set(re.findall(r'route="([^"]*)"', text))
    assert any(t.startswith("/admin/users/{user_id") for t in templates), templates
    assert not any(re.search(r"/admin/users/\d", t) for t in templates), "raw paths would explode the label set"
    admin_route = next(t for t in templates if t.startswith("/admin/users/{user_id") and t.count("/") == 3)
    assert _sample(text, "spyglass_http_requests_total", route=admin_route, status="404", method="GET") == 3
    assert _sample(text, "spyglass_http_requests_total", route="/api/v1/me", status="200", method="GET") == 2
    assert _sample(text, "spyglass_http_request_duration_seconds_count", route="/api/v1/me", method="GET") == 2
    assert "spyglass_http_request_duration_seconds_bucket{" in text
    assert _sample(text, "spyglass_cache_hits_total", namespace="tokens") >= 1
    assert _sample(text, "spyglass_cache_misses_total", namespace="tokens") == 1
    assert _sample(text, "spyglass_logins_total", result="success") == 1
    assert (
        _sample(text, "spyglass_logins_total", result="failure")
        + _sample(text, "spyglass_logins_total", result="rate_limited")
        == 2
    )
    assert _sample(text, "spyglass_rate_limit_rejections_total", category="login") >= 1


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """The app's logging set up as in production (JSON), written to a buffer; restored afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    configure_logging("INFO", "json")
    buffer = io.StringIO()
    ours = [h for h in root.handlers if getattr(h, "_spyglass", False)]
    assert len(ours) == 1 and isinstance(ours[0], logging.StreamHandler)
    ours[0].setStream(buffer)
    try:
        yield buffer
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


async def test_json_logs_carry_the_request_id_and_no_secrets(
    tmp_path: Path, database_url: str, json_logs: io.StringIO
) -> None:
    wrong_password = "Wrong-Password-4-Logs"
    services = Services.build(make_settings(tmp_path, database_url))
    try:
        user = await create_user(services, username="bea")
        token = await issue_token(services, user.id)
        app = create_app(services.settings, services=services)
        json_logs.truncate(0)
        json_logs.seek(0)
        async with app_client(app, lifespan=False, follow_redirects=False) as client:
            failed = await post_form(client, "/login", {"login": "bea", "password": wrong_password})
            signed_in = await post_form(client, "/login", {"login": "bea", "password": DEFAULT_PASSWORD})
            with_token = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    finally:
        await services.close()
    output = json_logs.getvalue()

    assert failed.status_code == 401
    assert signed_in.status_code == 303
    assert with_token.status_code == 200
    lines = [line for line in output.splitlines() if line.strip()]
    assert all(line.startswith("{") for line in lines), output[:2000]
    records = [json.loads(line) for line in lines]
    assert records, "the requests were logged"
    access = [r for r in records if r["logger"] == "spyglass.access"]
    ids = {r["request_id"] for r in access}
    for response in (failed, signed_in, with_token):
        assert response.headers["x-request-id"] in ids
    assert all(r.get("request_id") for r in access)
    for secret in (wrong_password, DEFAULT_PASSWORD, token, token[3:]):
        assert secret not in output


def test_json_formatter_masks_secret_named_fields() -> None:
    record = logging.LogRecord("spyglass.test", logging.INFO, __file__, 1, "connecting %s", ("smtp",), None)
    record.password = "hunter2"
    record.token = "sg_abc"
    record.user_id = 42

    payload = json.loads(JsonFormatter().format(record))

    assert payload["message"] == "connecting smtp"
    assert payload["password"] == "***"
    assert payload["token"] == "***"
    assert payload["user_id"] == 42


async def test_requests_that_need_redis_answer_503_not_500_while_it_is_down(tmp_path: Path, database_url: str) -> None:
    """Sessions and rate limits live in Redis: while it restarts, a signed-in page or an API call says to
    try again (found by the cluster test's Redis restart, which saw 500s)."""
    settings = make_settings(tmp_path, database_url, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    services = Services.build(settings)
    try:
        async with app_client(create_app(settings, services=services), lifespan=False) as client:
            client.cookies.set("spyglass_session", "a" * 64)
            page = await client.get("/market/listings", headers={"accept": "text/html"})
            api = await client.get("/api/v1/me")
    finally:
        await services.close()

    assert page.status_code == 503 and "try again" in page.text and "Traceback" not in page.text
    assert api.status_code == 503 and api.headers["retry-after"] == "5"
    assert "try again" in api.json()["error"]


def test_a_remembered_metric_child_counts_in_the_exposition() -> None:
    from spyglass.core.metrics import Metrics

    metrics = Metrics()
    first = metrics.child(metrics.http_requests, "GET", "/api/v1/me", "200")
    assert metrics.child(metrics.http_requests, "GET", "/api/v1/me", "200") is first
    first.inc()
    metrics.child(metrics.http_requests, "GET", "/api/v1/me", "200").inc()
    metrics.child(metrics.http_requests, "GET", "/api/v1/me", "404").inc()
    text = metrics.render().decode()
    assert 'spyglass_http_requests_total{method="GET",route="/api/v1/me",status="200"} 2.0' in text
    assert 'spyglass_http_requests_total{method="GET",route="/api/v1/me",status="404"} 1.0' in text
