"""Unknown routes: an HTML page for browsers, JSON under /api, never a traceback."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.support.web import send_json


async def test_unknown_page_is_an_html_404(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/no/such/page", headers={"accept": "text/html,application/xhtml+xml"})

    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "<title>Page not found · Spyglass</title>" in response.text
    assert '<main id="main"' in response.text
    assert 'href="/"' in response.text  # a way back
    assert "Traceback" not in response.text


async def test_unknown_api_route_is_json_404(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/api/v1/no/such/thing", headers={"accept": "text/html"})

    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error", "detail"}
    assert body["error"]


async def test_json_callers_get_json_errors_outside_the_api(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/no/such/page", headers={"accept": "application/json"})

    assert response.status_code == 404
    assert response.json()["error"]


async def test_wrong_method_is_a_405_page(client: AsyncTestClient[Litestar]) -> None:
    response = await send_json(client, "DELETE", "/", headers={"accept": "text/html"})

    assert response.status_code == 405
    assert response.headers["content-type"].startswith("text/html")
    assert "Not allowed here" in response.text
    assert "Traceback" not in response.text
