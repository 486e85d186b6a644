"""API conventions and bad input: every error is a 4xx JSON ``{"error", "detail"}`` under /api and the
HTML error page elsewhere; never a 500, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from spyglass.app import create_app
from spyglass.core.services import Services
from tests.api.helpers import bearer, issue_token, sign_in
from tests.conftest import BASE_URL, make_settings
from tests.support.client import app_client
from tests.support.factories import create_user
from tests.support.web import csrf_token

Client = AsyncTestClient[Litestar]
JSON = "application/json"


def assert_json_error(response: object, status: int) -> dict[str, object]:
    """A JSON error in the API's shape with this status, and nothing of Python's insides."""
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    assert response.headers["content-type"].startswith(JSON)  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert set(body) == {"error", "detail"} and isinstance(body["error"], str) and body["error"]
    assert_no_internals(response.text)  # type: ignore[attr-defined]
    return body  # type: ignore[no-any-return]


def assert_no_internals(text: str) -> None:
    for leak in ("Traceback", 'File "/', "site-packages", "sqlalchemy", "msgspec."):
        assert leak not in text, leak


@pytest.fixture
async def api(client: Client, services: Services) -> Client:
    """The client, authenticated with a bearer token."""
    secret, _ = await create_token(services)
    client.headers.update(bearer(secret))
    return client


async def create_token(services: Services) -> tuple[str, int]:
    return await issue_token(services, await create_user(services))


async def test_malformed_json_is_a_400_with_a_message(api: Client) -> None:
    for raw in (b'{"name": ', b'{"name": "a",}', b"\xff\xfe", b"{'name': 'single quotes'}", b"NaN"):
        response = await api.post("/api/v1/tokens", content=raw, headers={"content-type": JSON})
        body = assert_json_error(response, 400)
        assert body["error"] == "The request body is not valid JSON."
        assert isinstance(body["detail"], dict) and body["detail"]["body"]


async def test_wrong_shapes_and_types_name_the_field(api: Client) -> None:
    cases = [
        (b"", "body"),
        (b"[1, 2]", "body"),
        (b"null", "body"),
        (b'"just a string"', "body"),
        (b"{}", "name"),
        (b'{"name": 5}', "name"),
        (b'{"name": ["a"]}', "name"),
        (b'{"name": "ok", "expires_in_days": "soon"}', "expires_in_days"),
        (b'{"name": "ok", "expires_in_days": 10000000000000000000000}', "expires_in_days"),
    ]
    for raw, field in cases:
        response = await api.post("/api/v1/tokens", content=raw, headers={"content-type": JSON})
        body = assert_json_error(response, 400)
        assert isinstance(body["detail"], dict) and field in body["detail"], (raw, body)
        assert all(isinstance(message, str) and message for message in body["detail"].values())
    missing = await api.post("/api/v1/tokens", json={})
    assert assert_json_error(missing, 400)["detail"] == {"name": "Required."}


async def test_bad_query_and_path_values_are_400s(api: Client) -> None:
    for url, field in [
        ("/api/v1/tokens?page=abc", "page"),
        ("/api/v1/tokens?page=-1", "page"),
        ("/api/v1/tokens?size=0", "size"),
        ("/api/v1/tokens?page=99999999999999999999999999", "page"),
    ]:
        body = assert_json_error(await api.get(url), 400)
        assert isinstance(body["detail"], dict) and field in body["detail"], (url, body)
    for token_id in ("18446744073709551616", "99999999999999999999999999", "0"):
        body = assert_json_error(await api.delete(f"/api/v1/tokens/{token_id}"), 400)
        assert "token_id" in body["detail"]  # type: ignore[operator]
    assert_json_error(await api.delete("/api/v1/tokens/not-a-number"), 404)  # no route matches


async def test_unknown_routes_are_404_json_under_api_and_a_page_elsewhere(client: Client) -> None:
    for url in ("/api/v1/nothing-here", "/api/v2/tokens", "/api/docs/nothing-here", "/api/"):
        assert assert_json_error(await client.get(url), 404)["error"] == "Not found."
    page = await client.get("/nothing-here")
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "Page not found" in page.text and "<html" in page.text
    assert_no_internals(page.text)


async def test_wrong_method_is_405(api: Client) -> None:
    for method, url in [("PUT", "/api/v1/tokens"), ("PATCH", "/api/v1/tokens"), ("GET", "/api/v1/tokens/1")]:
        response = await api.request(method, url, json={})
        assert assert_json_error(response, 405)["error"] == "That method is not allowed here."
    page = await api.request("DELETE", "/account/tokens")
    assert page.status_code == 405 and page.headers["content-type"].startswith("text/html")


async def test_unauthenticated_api_calls_are_401_json(client: Client) -> None:
    assert_json_error(await client.get("/api/v1/tokens"), 401)
    assert_json_error(await client.get("/api/v1/tokens", headers=bearer("sg_nope")), 401)
    assert_json_error(await client.post("/api/v1/tokens", json={"name": "x"}, headers=bearer("sg_nope")), 401)


async def test_oversized_bodies_are_413_json_for_the_api_and_a_page_for_forms(
    tmp_path: Path, database_url: str
) -> None:
    settings = make_settings(tmp_path, database_url, max_body_bytes=2048)
    services = Services.build(settings)
    app = create_app(settings, services=services)
    async with app_client(app, base_url=BASE_URL) as client:
        user = await create_user(services)
        secret, _ = await issue_token(services, user)
        big_name = "x" * 5000

        api = await client.post("/api/v1/tokens", json={"name": big_name}, headers=bearer(secret))
        body = assert_json_error(api, 413)
        assert body["error"] == "The request body is too large: the limit is 2,048 bytes."

        await sign_in(client, user)
        form = await client.post("/account/tokens", data={"_csrf_token": await csrf_token(client), "name": big_name})
        assert form.status_code == 413
        assert form.headers["content-type"].startswith("text/html")
        assert "The request body is too large: the limit is 2,048 bytes." in form.text
        assert_no_internals(form.text)
        fine = await client.post("/api/v1/tokens", json={"name": "small"}, headers=bearer(secret))
        assert fine.status_code == 201
