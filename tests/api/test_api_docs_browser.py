"""The /api/docs page really renders in Debian's chromium against a live uvicorn server, and its
"Try it out" works from a signed-in browser (the page adds the CSRF header to unsafe requests).
Also: a streamed (chunked) request body over the limit is refused by the real server."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator

import httpx
import pytest
from playwright.sync_api import Page, expect

from spyglass.accounts.models import User
from tests.api.helpers import bearer, issue_token
from tests.support.factories import DEFAULT_PASSWORD, create_user
from tests.support.live_server import BrowserSession, LiveServer


@pytest.mark.browser
def test_docs_page_renders_and_try_it_out_works_when_signed_in(
    live_server: LiveServer, page: Page, page_context: BrowserSession
) -> None:
    user: User = live_server.call(lambda: create_user(live_server.services, username="docsreader"))

    page.goto(f"{live_server.url}/api/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Spyglass API")
    expect(page.locator(".opblock-tag", has_text="API tokens")).to_be_visible()
    expect(page.locator("#operations-API_tokens-ApiV1TokensCreateTokenApi")).to_be_visible()
    expect(page.locator("button.authorize")).to_be_visible()  # the bearer security scheme

    page.goto(f"{live_server.url}/login")
    page.fill("input[name=login]", user.username)
    page.fill("input[name=password]", DEFAULT_PASSWORD)
    page.locator("form[action='/login'] [type=submit]").click()
    page.wait_for_url(re.compile(r"^(?!.*/login)"))

    page.goto(f"{live_server.url}/api/docs#/API%20tokens/ApiV1TokensCreateTokenApi")
    operation = page.locator("#operations-API_tokens-ApiV1TokensCreateTokenApi")
    expect(operation.locator(".opblock-body")).to_be_visible()
    operation.locator("button.try-out__btn").click()
    operation.locator("textarea.body-param__text").fill(json.dumps({"name": "from the docs page"}))
    operation.locator("button.execute").click()
    status = operation.locator(".live-responses-table tbody .response-col_status").first
    expect(status).to_have_text("201")
    expect(operation.locator(".live-responses-table .microlight").first).to_contain_text("from the docs page")

    listing = page.request.get(f"{live_server.url}/api/v1/tokens")
    assert [item["name"] for item in listing.json()["items"]] == ["from the docs page"]
    assert not page_context.console_errors, page_context.console_errors


async def test_streamed_oversized_body_is_refused_by_the_live_server(live_server: LiveServer) -> None:
    limit = live_server.settings.max_body_bytes
    user = live_server.call(lambda: create_user(live_server.services))
    secret, _ = live_server.call(lambda: issue_token(live_server.services, user))

    async def body() -> AsyncIterator[bytes]:  # chunked, with no content-length to check up front
        yield b'{"name": "'
        for _ in range(limit // 65536 + 2):
            yield b"x" * 65536
        yield b'"}'

    async with httpx.AsyncClient(base_url=live_server.url) as client:
        response = await client.post(
            "/api/v1/tokens",
            content=body(),
            headers={"content-type": "application/json", **bearer(secret)},
        )
    assert response.status_code == 413
    assert response.json()["error"] == f"The request body is too large: the limit is {limit:,} bytes."
