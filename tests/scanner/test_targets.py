"""Targets over the JSON API: validation, the URL policy, masked scan logins, updates, deletion, tenancy."""

from __future__ import annotations

from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from spyglass.config import Settings
from spyglass.core.services import Services
from spyglass.scanner.models import ScanTarget
from tests.scanner.helpers import bearer, make_target, scanner_settings
from tests.support.factories import create_user
from tests.support.tenancy import assert_isolated, assert_not_listed

Client = AsyncTestClient[Litestar]


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return scanner_settings(tmp_path, database_url, scanner_max_targets_per_user=3)


async def test_create_read_update_delete(client: Client, services: Services) -> None:
    alice = await create_user(services)
    client.headers.update(await bearer(services, alice))
    created = await client.post(
        "/api/v1/scanner/targets",
        json={
            "name": "  Shop ",
            "base_url": "HTTP://127.0.0.1:8080/app?x=1#top",
            "include_paths": ["/app/"],
            "exclude_paths": ["/app/logout"],
            "max_pages": 50,
            "requests_per_second": 2.5,
            "auth": {"kind": "header", "header_name": "X-Api-Key", "header_value": "very-secret-key"},
        },
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["name"] == "Shop"
    assert body["base_url"] == "http://127.0.0.1:8080/app"
    assert body["include_paths"] == ["/app/"] and body["max_pages"] == 50 and body["requests_per_second"] == 2.5
    assert body["max_depth"] == 5  # default
    assert body["verified"] is False
    assert body["auth"] == {"kind": "header", "header_name": "X-Api-Key", "header_value": "••••••"}
    assert "very-secret-key" not in created.text
    token = body["verification"]["token"]
    assert body["verification"]["file_url"] == "http://127.0.0.1:8080/.well-known/spyglass-verification.txt"
    assert body["verification"]["meta_tag"] == f'<meta name="spyglass-verification" content="{token}">'
    assert body["verification"]["dns_txt"] == f"spyglass-verification={token}"

    target_id = body["id"]
    # An update without the secret keeps it; the name changes.
    changed = await client.patch(
        f"/api/v1/scanner/targets/{target_id}",
        json={"name": "Shop 2", "auth": {"kind": "header", "header_name": "X-Api-Key"}},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["name"] == "Shop 2"
    async with services.db.session() as session:
        stored = await session.get(ScanTarget, target_id)
        assert stored is not None and stored.auth == {
            "kind": "header",
            "header_name": "X-Api-Key",
            "header_value": "very-secret-key",
        }
    listing = await client.get("/api/v1/scanner/targets")
    assert [t["id"] for t in listing.json()["items"]] == [target_id]

    assert (await client.delete(f"/api/v1/scanner/targets/{target_id}")).status_code == 204
    assert (await client.get(f"/api/v1/scanner/targets/{target_id}")).status_code == 404


async def test_every_field_is_validated(client: Client, services: Services) -> None:
    alice = await create_user(services)
    client.headers.update(await bearer(services, alice))
    response = await client.post(
        "/api/v1/scanner/targets",
        json={
            "name": "",
            "base_url": "ftp://example.com/",
            "include_paths": ["no-slash"],
            "max_depth": 99,
            "max_requests": 10**9,
            "requests_per_second": 0,
            "concurrency": 0,
            "auth": {"kind": "cookie", "cookie": "no equals sign"},
        },
    )
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert set(detail) == {
        "name",
        "base_url",
        "include_paths",
        "max_depth",
        "max_requests",
        "requests_per_second",
        "concurrency",
        "auth.cookie",
    }
    assert detail["base_url"] == "The address must start with http:// or https://."
    assert detail["max_depth"] == "Must be a whole number from 0 to 20."
    for bad_url, message in [
        ("http://user:pw@127.0.0.1/", "Leave user names and passwords out of the address; use scan login."),
        ("http://127.0.0.1:99999/", "That is not a valid web address."),
        ("http://\x00evil/", "That address is too long or contains control characters."),
    ]:
        answer = await client.post("/api/v1/scanner/targets", json={"name": "x", "base_url": bad_url})
        assert answer.status_code == 422 and answer.json()["detail"]["base_url"] == message
    wrong_type = await client.post("/api/v1/scanner/targets", json={"name": "x", "base_url": 5})
    assert wrong_type.status_code == 400
    unknown = await client.post("/api/v1/scanner/targets", json={"name": "x", "base_url": "http://a.test", "x": 1})
    assert unknown.status_code == 400


async def test_private_addresses_are_refused_unless_allow_listed(client: Client, services: Services) -> None:
    alice = await create_user(services)
    client.headers.update(await bearer(services, alice))
    refused = await client.post("/api/v1/scanner/targets", json={"name": "LAN", "base_url": "http://10.1.2.3/"})
    assert refused.status_code == 422
    assert refused.json()["detail"]["base_url"] == "10.1.2.3 is 10.1.2.3, a private-network address."
    metadata = await client.post("/api/v1/scanner/targets", json={"name": "x", "base_url": "http://169.254.169.254/"})
    assert metadata.status_code == 422 and "metadata" in metadata.json()["detail"]["base_url"]
    allowed = await client.post("/api/v1/scanner/targets", json={"name": "Local", "base_url": "http://127.0.0.1:1/"})
    assert allowed.status_code == 201


async def test_duplicates_and_quota(client: Client, services: Services) -> None:
    alice = await create_user(services)
    client.headers.update(await bearer(services, alice))
    first = await client.post("/api/v1/scanner/targets", json={"name": "a", "base_url": "http://127.0.0.1:1/"})
    assert first.status_code == 201
    again = await client.post("/api/v1/scanner/targets", json={"name": "b", "base_url": "http://127.0.0.1:1"})
    assert again.status_code == 422
    assert again.json()["detail"]["base_url"] == "You already have a target with this address."
    for port in (2, 3):
        ok = await client.post("/api/v1/scanner/targets", json={"name": "c", "base_url": f"http://127.0.0.1:{port}/"})
        assert ok.status_code == 201
    over = await client.post("/api/v1/scanner/targets", json={"name": "d", "base_url": "http://127.0.0.1:4/"})
    assert over.status_code == 409
    assert over.json()["error"] == "You already have 3 targets, the most your account allows."


async def test_changing_the_host_withdraws_the_proof(client: Client, services: Services) -> None:
    alice = await create_user(services)
    client.headers.update(await bearer(services, alice))
    target_id = await make_target(services, alice, "http://127.0.0.1:5/", verified=True)
    same_host = await client.patch(f"/api/v1/scanner/targets/{target_id}", json={"base_url": "http://127.0.0.1:5/x"})
    assert same_host.json()["verified"] is True
    other_port = await client.patch(f"/api/v1/scanner/targets/{target_id}", json={"base_url": "http://127.0.0.1:6/"})
    assert other_port.json()["verified"] is False  # another service on the host: its file proof does not carry
    dns_target = await make_target(services, alice, "http://localhost:5/", host="localhost", verified=True)
    async with services.db.session(write=True) as session:
        stored = await session.get(ScanTarget, dns_target)
        assert stored is not None
        stored.verification_method = "dns"
    dns_port = await client.patch(f"/api/v1/scanner/targets/{dns_target}", json={"base_url": "https://localhost:7/"})
    assert dns_port.json()["verified"] is True  # a DNS record proves the whole host name
    moved = await client.patch(f"/api/v1/scanner/targets/{dns_target}", json={"base_url": "http://127.0.0.1:5/"})
    assert moved.status_code == 200 and moved.json()["verified"] is False and moved.json()["host"] == "127.0.0.1"


async def test_another_user_cannot_see_or_change_a_target(client: Client, services: Services) -> None:
    alice = await create_user(services)
    bob = await create_user(services)
    target_id = await make_target(
        services, alice, "http://127.0.0.1:7/", name="Alice's secret shop", auth={"kind": "cookie", "cookie": "s=1"}
    )
    client.headers.update(await bearer(services, bob))
    await assert_isolated(
        client,
        [
            ("GET", f"/api/v1/scanner/targets/{target_id}", None),
            ("PATCH", f"/api/v1/scanner/targets/{target_id}", {"name": "mine"}),
            ("DELETE", f"/api/v1/scanner/targets/{target_id}", None),
            ("POST", f"/api/v1/scanner/targets/{target_id}/verify", {}),
            ("GET", f"/api/v1/scanner/targets/{target_id}/trend", None),
            ("POST", f"/api/v1/scanner/targets/{target_id}/scans", {"profile": "passive"}),
            ("GET", f"/scanner/targets/{target_id}", None),
            ("POST", f"/scanner/targets/{target_id}/edit", {"name": "mine"}),
            ("POST", f"/scanner/targets/{target_id}/delete", {}),
            ("POST", f"/scanner/targets/{target_id}/verify", {}),
            ("POST", f"/scanner/targets/{target_id}/scans", {"profile": "passive"}),
        ],
        secrets=["Alice's secret shop"],
    )
    await assert_not_listed(client, "/api/v1/scanner/targets", ["Alice's secret shop"])
    await assert_not_listed(client, "/api/v1/scanner/scans", ["Alice's secret shop"])
    async with services.db.session() as session:
        target = await session.scalar(select(ScanTarget).where(ScanTarget.id == target_id))
        assert target is not None and target.name == "Alice's secret shop"


ODD_ADDRESSES = [
    "http://a..b/",
    "http://%00/",
    "http://ex ample.com/",
    "http://" + "a" * 300 + ".com/",
    "http://[::1/",
    "http://[fe80::1%25eth0]/",
    "http://xn--/",
    "http://-/",
    "http://0x7f.1/",
    "http://2130706433/",
    "https://münchen.example/",
    "http://127.0.0.1:0/",
    "//127.0.0.1/",
    "http:///path",
]


async def test_odd_addresses_get_a_clear_answer(client: Client, services: Services) -> None:
    alice = await create_user(services)
    client.headers.update(await bearer(services, alice))
    for address in ODD_ADDRESSES:
        response = await client.post("/api/v1/scanner/targets", json={"name": "odd", "base_url": address})
        assert response.status_code in (201, 422), f"{address!r} -> {response.status_code} {response.text[:200]}"
        if response.status_code == 422:
            assert response.json()["detail"]["base_url"], address
        else:
            await client.delete(f"/api/v1/scanner/targets/{response.json()['id']}")
    elsewhere = await client.post(
        "/api/v1/scanner/targets",
        json={
            "name": "odd",
            "base_url": "http://127.0.0.1:3/",
            "auth": {"kind": "form", "login_url": "http://localhost:3/login", "fields": {"u": "a"}},
        },
    )
    assert elsewhere.status_code == 422
    assert elsewhere.json()["detail"] == {"auth.login_url": "The login form must be on the target's host, 127.0.0.1."}
    for login_url in ("http://xn--/login", "ftp://127.0.0.1/", "http://[::1/login", 5):
        auth = {"kind": "form", "login_url": login_url, "fields": {"user": "a", "pass": "b"}}
        response = await client.post(
            "/api/v1/scanner/targets", json={"name": "odd", "base_url": "http://127.0.0.1:3/", "auth": auth}
        )
        assert response.status_code in (400, 422), f"{login_url!r} -> {response.status_code}"
