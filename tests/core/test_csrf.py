"""CSRF on safe methods: the token comes from the cookie, or a new one is made and set as the cookie once; the
page embeds the token the next unsafe request must send back; unsafe requests without it are refused."""

from __future__ import annotations

import re

from litestar.testing import AsyncTestClient

from spyglass.core.csrf import CSRF_COOKIE, CSRF_HEADER

Client = AsyncTestClient  # type: ignore[type-arg]


def embedded_token(html: str) -> str:
    match = re.search(r'"x-csrf-token": "([0-9a-f]+)"', html)
    assert match, "the page embeds no CSRF token"
    return match.group(1)


async def test_a_first_page_sets_the_cookie_it_embeds_and_later_pages_reuse_it(client: Client) -> None:
    first = await client.get("/login")
    assert first.status_code == 200
    assert CSRF_COOKIE in first.headers.get("set-cookie", "")
    token = client.cookies[CSRF_COOKIE]
    assert embedded_token(first.text) == token

    again = await client.get("/login")
    assert CSRF_COOKIE not in again.headers.get("set-cookie", ""), "a request with the cookie gets no new one"
    assert embedded_token(again.text) == token


async def test_a_head_request_with_the_cookie_keeps_it(client: Client) -> None:
    await client.get("/login")
    token = client.cookies[CSRF_COOKIE]
    head = await client.head("/login")
    assert CSRF_COOKIE not in head.headers.get("set-cookie", "")
    assert client.cookies[CSRF_COOKIE] == token


async def test_an_unsafe_request_needs_the_token_of_its_cookie(client: Client) -> None:
    await client.get("/login")
    token = client.cookies[CSRF_COOKIE]
    refused = await client.post("/login", data={"login": "nobody", "password": "x"})
    assert refused.status_code == 403
    forged = await client.post("/login", data={"login": "nobody", "password": "x", "_csrf_token": "0" * 128})
    assert forged.status_code == 403
    accepted = await client.post("/login", data={"login": "nobody", "password": "x"}, headers={CSRF_HEADER: token})
    assert accepted.status_code != 403, "the token of the cookie is accepted"


async def test_the_cookie_read_is_the_one_litestar_reads(client: Client) -> None:
    """Two cookies of one name (a parent-domain one sent first): the token is the last, as Litestar parses it,
    and the page embeds that one."""
    await client.get("/login")
    token = client.cookies[CSRF_COOKIE]
    page = await client.get("/login", headers={"cookie": f"{CSRF_COOKIE}=tossed; {CSRF_COOKIE}={token}"})
    assert embedded_token(page.text) == token
