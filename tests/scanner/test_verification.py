"""Ownership proofs against real local servers: the token file and the meta tag over HTTP, the TXT
record over DNS (a dnslib server on 127.0.0.1), the operator's allow-list, and the verify routes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from spyglass.config import Settings
from spyglass.core.services import Services
from spyglass.scanner.models import ScanTarget
from tests.scanner.dns_server import TxtResolver, dns_server
from tests.scanner.helpers import bearer, make_target, scanner_settings
from tests.support.factories import create_user
from tests.support.http_server import LocalHttpServer, Reply, ServerRequest
from tests.support.web import post_form

Client = AsyncTestClient[Litestar]


@pytest.fixture
def dns() -> Iterator[tuple[TxtResolver, str]]:
    with dns_server() as running:
        yield running


@pytest.fixture
def site() -> Iterator[LocalHttpServer]:
    with LocalHttpServer() as server:
        yield server


@pytest.fixture
def settings(tmp_path: Path, database_url: str, dns: tuple[TxtResolver, str]) -> Settings:
    return scanner_settings(tmp_path, database_url, scanner_dns_nameservers=dns[1], scanner_dns_timeout_seconds=2)


async def _token(services: Services, target_id: int) -> str:
    async with services.db.session() as session:
        target = await session.get(ScanTarget, target_id)
        assert target is not None
        return target.verification_token


def serve(site: LocalHttpServer, path: str, body: str, status: int = 200) -> None:
    async def handler(_: ServerRequest) -> Reply:
        return Reply(status, body.encode(), {"content-type": "text/html; charset=utf-8"})

    site.route(path, handler)


async def test_token_file(client: Client, services: Services, site: LocalHttpServer) -> None:
    alice = await create_user(services)
    client.headers.update(await bearer(services, alice))
    target_id = await make_target(services, alice, site.url("/shop/"))
    token = await _token(services, target_id)

    serve(site, "/.well-known/spyglass-verification.txt", "another-token\n")
    wrong = await client.post(f"/api/v1/scanner/targets/{target_id}/verify", json={"method": "file"})
    assert wrong.status_code == 200
    assert wrong.json()["verified"] is False
    assert (
        wrong.json()["message"]
        == f"{site.url('/.well-known/spyglass-verification.txt')} does not contain this target's token."
    )

    serve(site, "/.well-known/spyglass-verification.txt", f"{token}\n")
    right = await client.post(f"/api/v1/scanner/targets/{target_id}/verify", json={"method": "file"})
    assert right.json()["verified"] is True and right.json()["method"] == "file"
    assert right.json()["target"]["verified"] is True
    assert site.hits("/.well-known/spyglass-verification.txt") == 2

    serve(site, "/.well-known/spyglass-verification.txt", "gone", status=404)
    again = await client.post(f"/api/v1/scanner/targets/{target_id}/verify", json={"method": "file"})
    assert again.json()["verified"] is False
    assert again.json()["message"].endswith("answered 404, not 200.")
    assert again.json()["target"]["verified"] is False  # a failed check withdraws the proof


async def test_meta_tag(client: Client, services: Services, site: LocalHttpServer) -> None:
    alice = await create_user(services)
    client.headers.update(await bearer(services, alice))
    target_id = await make_target(services, alice, site.url("/"))
    token = await _token(services, target_id)
    serve(site, "/", "<html><head><title>Home</title></head><body>hi</body></html>")
    missing = await client.post(f"/api/v1/scanner/targets/{target_id}/verify", json={"method": "meta"})
    assert missing.json()["message"] == f'{site.url("/")} has no <meta name="spyglass-verification"> tag.'
    serve(site, "/", f'<html><head><META name="Spyglass-Verification" content=" {token} "></head></html>')
    found = await client.post(f"/api/v1/scanner/targets/{target_id}/verify", json={"method": "meta"})
    assert found.json()["verified"] is True and found.json()["method"] == "meta"


async def test_dns_txt_record(client: Client, services: Services, dns: tuple[TxtResolver, str]) -> None:
    resolver, _address = dns
    alice = await create_user(services)
    client.headers.update(await bearer(services, alice))
    target_id = await make_target(services, alice, "http://localhost:9/", host="localhost")
    token = await _token(services, target_id)

    nothing = await client.post(f"/api/v1/scanner/targets/{target_id}/verify", json={"method": "dns"})
    assert nothing.json() | {"target": None} == {
        "verified": False,
        "method": None,
        "message": "localhost has no TXT record.",
        "target": None,
    }
    resolver.records["localhost"] = ["v=spf1 -all", "spyglass-verification=someone-else"]
    other = await client.post(f"/api/v1/scanner/targets/{target_id}/verify", json={"method": "dns"})
    assert other.json()["verified"] is False
    resolver.records["localhost"] = ["v=spf1 -all", f"spyglass-verification={token}"]
    proven = await client.post(f"/api/v1/scanner/targets/{target_id}/verify", json={"method": "dns"})
    assert proven.json()["verified"] is True and proven.json()["method"] == "dns"
    assert resolver.questions.count("localhost") == 3


async def test_any_method_and_the_page_form(client: Client, services: Services, site: LocalHttpServer) -> None:
    alice = await create_user(services, username="alice")
    target_id = await make_target(services, alice, site.url("/"))
    token = await _token(services, target_id)
    serve(site, "/", f'<meta name="spyglass-verification" content="{token}">')
    from tests.support.web import login

    await login(client, "alice", "correct horse battery staple")
    response = await post_form(client, f"/scanner/targets/{target_id}/verify", {"method": ""})
    assert response.status_code == 200
    assert "Ownership of 127.0.0.1 is proven. Meta tag found on" in response.text
    async with services.db.session() as session:
        target = await session.get(ScanTarget, target_id)
        assert target is not None and target.verification_method == "meta" and target.verified_at is not None


async def test_unknown_method_is_refused(client: Client, services: Services) -> None:
    alice = await create_user(services)
    client.headers.update(await bearer(services, alice))
    target_id = await make_target(services, alice, "http://127.0.0.1:9/")
    response = await client.post(f"/api/v1/scanner/targets/{target_id}/verify", json={"method": "carrier-pigeon"})
    assert response.status_code == 400


async def test_operator_allow_list_counts_as_proof(tmp_path: Path, database_url: str) -> None:
    from spyglass.app import create_app
    from tests.support.client import app_client

    settings = scanner_settings(tmp_path, database_url, verified_targets="127.0.0.1/32")
    services = Services.build(settings)
    try:
        alice = await create_user(services)
        target_id = await make_target(services, alice, "http://127.0.0.1:9/")
        async with app_client(create_app(settings, services=services)) as client:
            client.headers.update(await bearer(services, alice))
            shown = await client.get(f"/api/v1/scanner/targets/{target_id}")
            assert shown.json()["verified"] is True and shown.json()["verification_method"] == "allow_list"
            checked = await client.post(f"/api/v1/scanner/targets/{target_id}/verify", json={})
            assert checked.json()["method"] == "allow_list"
    finally:
        await services.close()


async def test_a_proof_on_another_host_does_not_count(
    client: Client, services: Services, site: LocalHttpServer
) -> None:
    alice = await create_user(services)
    client.headers.update(await bearer(services, alice))
    target_id = await make_target(services, alice, site.url("/"))
    token = await _token(services, target_id)
    with LocalHttpServer() as elsewhere:
        serve(elsewhere, "/token.txt", token)
        serve(elsewhere, "/page", f'<meta name="spyglass-verification" content="{token}">')
        other = f"http://localhost:{elsewhere.port}"

        async def redirect(request: ServerRequest) -> Reply:
            where = "/token.txt" if "well-known" in request.path else "/page"
            return Reply(302, b"", {"location": other + where})

        site.route("/.well-known/spyglass-verification.txt", redirect)
        site.route("/", redirect)
        for method in ("file", "meta"):
            answer = await client.post(f"/api/v1/scanner/targets/{target_id}/verify", json={"method": method})
            assert answer.json()["verified"] is False
            assert answer.json()["message"] == (
                "The proof must be served by 127.0.0.1 itself; the request was redirected to localhost."
            )
        assert elsewhere.hits("/token.txt") == 1 and elsewhere.hits("/page") == 1
