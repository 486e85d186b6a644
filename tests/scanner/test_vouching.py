"""Administrators vouching for scan targets: the admin API and pages, the audit trail, what the owner
sees, active scans allowed while vouched (the job's re-check included) and refused once withdrawn,
non-admins refused, tenancy, and CSRF on the forms."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from litestar import Litestar
from sqlalchemy import select

from spyglass.accounts.models import User
from spyglass.audit.models import AuditEvent
from spyglass.config import Settings
from spyglass.core.services import Services
from spyglass.engine.engine import Engine
from spyglass.scanner.models import Scan, ScanTarget
from tests.scanner.helpers import bearer, embedded_engine, make_target, scanner_settings, wait_for_scan
from tests.support.client import app_client
from tests.support.http_server import LocalHttpServer, Reply, ServerRequest
from tests.support.tenancy import assert_isolated
from tests.support.web import post_form, signed_in_client

Client = httpx.AsyncClient
REASON = "Ticket 4411: the shop's staging server, hosted by us for alice."


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return scanner_settings(tmp_path, database_url)


@pytest.fixture
def site() -> Iterator[LocalHttpServer]:
    """A site that publishes no ownership proof at all."""
    with LocalHttpServer() as server:

        async def home(_: ServerRequest) -> Reply:
            return Reply(200, b"<html><body><a href='/about'>About</a></body></html>", {"content-type": "text/html"})

        server.route("/", home)
        server.route("/about", home)
        yield server


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[Client]:
    """Runs the app's start-up; redirects are not followed, so tests see each 303."""
    async with app_client(app, follow_redirects=False) as http_client:
        yield http_client


@pytest.fixture
async def admin_api(services: Services, client: Client, admin: User) -> Client:
    client.headers.update(await bearer(services, admin))
    return client


@pytest.fixture
async def admin_browser(app: Litestar, client: Client, admin: User) -> AsyncIterator[Client]:
    async for signed_in in signed_in_client(app, admin):
        yield signed_in


@pytest.fixture
async def alice_browser(app: Litestar, client: Client, alice: User) -> AsyncIterator[Client]:
    async for signed_in in signed_in_client(app, alice):
        yield signed_in


@pytest.fixture
async def bob_browser(app: Litestar, client: Client, bob: User) -> AsyncIterator[Client]:
    async for signed_in in signed_in_client(app, bob):
        yield signed_in


async def load(services: Services, target_id: int) -> ScanTarget:
    async with services.db.session() as session:
        target = await session.get(ScanTarget, target_id)
        assert target is not None
        return target


async def vouch_events(services: Services) -> list[AuditEvent]:
    async with services.db.session() as session:
        rows = await session.scalars(
            select(AuditEvent).where(AuditEvent.action.like("admin.target_vouch%")).order_by(AuditEvent.id)
        )
        return list(rows.all())


async def test_vouch_and_withdraw_through_the_api(
    services: Services, admin_api: Client, alice_browser: Client, admin: User, alice: User
) -> None:
    target_id = await make_target(services, alice, "http://127.0.0.1:9/")
    url = f"/api/v1/admin/scanner/targets/{target_id}"
    launch = f"/api/v1/scanner/targets/{target_id}/scans"
    alice_api = {"headers": await bearer(services, alice)}

    assert (await alice_browser.post(launch, json={"profile": "active"}, **alice_api)).status_code == 403
    for bad in ({}, {"reason": ""}, {"reason": "  x "}, {"reason": "y" * 501}, {"reason": REASON, "extra": 1}):
        refused = await admin_api.post(f"{url}/vouch", json=bad)
        assert refused.status_code in (400, 422), bad
    assert (await load(services, target_id)).verified_at is None and await vouch_events(services) == []

    vouched = await admin_api.post(f"{url}/vouch", json={"reason": REASON})
    assert vouched.status_code == 200
    body = vouched.json()
    assert (body["verified"], body["verification_method"], body["vouched_by_admin"]) == (True, "admin", True)
    assert body["owner"] == "alice" and "auth" not in body and "verification_token" not in body
    assert (await admin_api.post(f"{url}/vouch", json={"reason": REASON})).status_code == 409

    [event] = await vouch_events(services)
    assert (event.action, event.actor_id, event.user_id) == ("admin.target_vouched", admin.id, alice.id)
    assert event.details["reason"] == REASON and event.details["target_id"] == target_id

    # The owner sees it, in the API and on the page, and may now run active scans.
    shown = (await alice_browser.get(f"/api/v1/scanner/targets/{target_id}", **alice_api)).json()
    assert (shown["verified"], shown["verification_method"], shown["vouched_by_admin"]) == (True, "admin", True)
    page = await alice_browser.get(f"/scanner/targets/{target_id}")
    assert "verified by an administrator" in page.text and 'id="vouched"' in page.text
    allowed = await alice_browser.post(launch, json={"profile": "active"}, **alice_api)
    assert allowed.status_code == 202
    scan_id = allowed.json()["id"]

    # Withdrawing: unverified again, the queued active scan is cancelled, new ones are refused.
    withdrawn = await admin_api.post(f"{url}/withdraw", json={"reason": "The ticket was closed."})
    assert withdrawn.status_code == 200
    assert withdrawn.json()["verified"] is False and withdrawn.json()["cancelled_scans"] == [scan_id]
    async with services.db.session() as session:
        scan = await session.get(Scan, scan_id)
        assert scan is not None and scan.status == "cancelled"
    assert (await alice_browser.post(launch, json={"profile": "active"}, **alice_api)).status_code == 403
    assert (await admin_api.post(f"{url}/withdraw", json={"reason": "again"})).status_code == 409
    events = await vouch_events(services)
    assert [e.action for e in events] == ["admin.target_vouched", "admin.target_vouch_withdrawn"]
    assert events[1].actor_id == admin.id and events[1].details["reason"] == "The ticket was closed."
    assert events[1].details["cancelled_scans"] == [scan_id]

    assert (
        await admin_api.post("/api/v1/admin/scanner/targets/999999/vouch", json={"reason": REASON})
    ).status_code == 404


async def test_the_owners_checks_and_moves(
    services: Services, admin_api: Client, alice_browser: Client, alice: User, site: LocalHttpServer
) -> None:
    """A failed check by the owner leaves the vouch in place; moving the target to another port drops it."""
    target_id = await make_target(services, alice, site.url("/"))
    assert (
        await admin_api.post(f"/api/v1/admin/scanner/targets/{target_id}/vouch", json={"reason": REASON})
    ).is_success
    owner = {"headers": await bearer(services, alice)}
    checked = await admin_api.post(f"/api/v1/scanner/targets/{target_id}/verify", json={}, **owner)
    assert checked.json()["verified"] is False  # no proof on the site...
    assert checked.json()["target"]["verified"] is True  # ...and the vouch stands
    assert checked.json()["target"]["verification_method"] == "admin"
    choose = await admin_api.post(f"/api/v1/scanner/targets/{target_id}/verify", json={"method": "admin"}, **owner)
    assert choose.status_code == 400  # owners cannot pick the admin "method"
    checked_by_form = await post_form(alice_browser, f"/scanner/targets/{target_id}/verify", {"method": ""})
    assert checked_by_form.status_code == 303
    told = await alice_browser.get(f"/scanner/targets/{target_id}")
    assert "The target stays verified by an administrator." in told.text

    moved = await admin_api.patch(
        f"/api/v1/scanner/targets/{target_id}", json={"base_url": "http://127.0.0.1:9/"}, **owner
    )
    assert moved.status_code == 200 and moved.json()["verified"] is False
    assert (await load(services, target_id)).verification_method is None


async def test_a_vouched_active_scan_runs_and_a_withdrawn_one_is_refused(
    services: Services, admin_api: Client, alice: User, site: LocalHttpServer
) -> None:
    """The job re-checks ownership before active checks: a vouch passes it (no proof fetched), and a
    scan queued before the withdrawal is stopped."""
    target_id = await make_target(services, alice, site.url("/"))
    owner = {"headers": await bearer(services, alice)}
    launch = f"/api/v1/scanner/targets/{target_id}/scans"
    await admin_api.post(f"/api/v1/admin/scanner/targets/{target_id}/vouch", json={"reason": REASON})
    first = await admin_api.post(launch, json={"profile": "custom", "families": ["headers", "methods"]}, **owner)
    assert first.status_code == 202
    async with embedded_engine(services) as engine:
        assert isinstance(engine, Engine)
        scan = await wait_for_scan(services, first.json()["id"])
    assert scan.status == "succeeded", scan.error
    assert site.hits("/.well-known/spyglass-verification.txt") == 0  # the vouch needs no proof
    assert site.hits("/") >= 1

    # Withdrawn behind the queued scan's back (straight in the database, so nothing cancels it):
    # the job's re-check refuses it before any attack.
    second = await admin_api.post(launch, json={"profile": "active"}, **owner)
    async with services.db.session(write=True) as session:
        target = await session.get(ScanTarget, target_id)
        assert target is not None
        target.verified_at, target.verification_method = None, None
    crawled, proofs = site.hits("/about"), site.hits("/.well-known/spyglass-verification.txt")
    async with embedded_engine(services):
        refused = await wait_for_scan(services, second.json()["id"])
    assert refused.status == "failed"
    assert refused.error is not None and refused.error.startswith("Active checks were not run")
    assert site.hits("/.well-known/spyglass-verification.txt") == proofs + 1  # the proof was looked for
    assert site.hits("/about") == crawled  # and nothing was crawled or attacked


async def test_only_admins_vouch(
    services: Services,
    alice_browser: Client,
    bob_browser: Client,
    admin_browser: Client,
    alice: User,
    bob: User,
) -> None:
    alice_target = await make_target(services, alice, "http://127.0.0.1:9/", name="Alice's shop")
    bob_target = await make_target(services, bob, "http://127.0.0.1:9/", name="Bob's shop")
    for member in (alice_browser, bob_browser):
        await assert_isolated(
            member,
            [
                ("GET", "/admin/scanner/targets", None),
                ("GET", f"/admin/scanner/targets/{alice_target}", None),
                ("POST", f"/admin/scanner/targets/{alice_target}/vouch", {"reason": REASON}),
                ("POST", f"/admin/scanner/targets/{bob_target}/vouch", {"reason": REASON}),
                ("GET", "/api/v1/admin/scanner/targets", None),
                ("GET", f"/api/v1/admin/scanner/targets/{alice_target}", None),
                ("POST", f"/api/v1/admin/scanner/targets/{alice_target}/vouch", {"reason": REASON}),
                ("POST", f"/api/v1/admin/scanner/targets/{bob_target}/withdraw", {"reason": REASON}),
            ],
            secrets=["Alice's shop", "Bob's shop"],
        )
    bob_token = {"headers": await bearer(services, bob)}
    by_token = await bob_browser.post(
        f"/api/v1/admin/scanner/targets/{bob_target}/vouch", json={"reason": REASON}, **bob_token
    )
    assert by_token.status_code == 404
    assert (await load(services, alice_target)).verified_at is None
    assert (await load(services, bob_target)).verified_at is None
    assert await vouch_events(services) == []

    # Tenancy: vouching for alice's target verifies that target only, not bob's on the same host,
    # and bob still cannot see alice's target through the scanner's own routes.
    vouched = await post_form(admin_browser, f"/admin/scanner/targets/{alice_target}/vouch", {"reason": REASON})
    assert vouched.status_code == 303
    assert (await load(services, alice_target)).verification_method == "admin"
    assert (await load(services, bob_target)).verified_at is None
    bob_view = await bob_browser.get(f"/scanner/targets/{bob_target}")
    assert "verified by an administrator" not in bob_view.text
    active = await bob_browser.post(
        f"/api/v1/scanner/targets/{bob_target}/scans", json={"profile": "active"}, **bob_token
    )
    assert active.status_code == 403
    await assert_isolated(
        bob_browser,
        [
            ("GET", f"/scanner/targets/{alice_target}", None),
            ("GET", f"/api/v1/scanner/targets/{alice_target}", None),
        ],
        owner=alice_browser,
        secrets=["Alice's shop"],
    )


async def test_the_admin_pages_and_their_csrf(
    services: Services, admin_browser: Client, alice: User, bob: User
) -> None:
    target_id = await make_target(services, alice, "http://127.0.0.1:9/", name="Alice's shop")
    await make_target(services, bob, "http://127.0.0.1:8/", name="Bob's shop")
    listed = await admin_browser.get("/admin/scanner/targets", params={"q": "ALICE"})
    assert listed.status_code == 200
    assert "Alice&#39;s shop" in listed.text and "Bob&#39;s shop" not in listed.text
    assert 'href="/admin/scanner/targets"' in listed.text  # the nav entry
    by_host = await admin_browser.get("/admin/scanner/targets", params={"q": "127.0.0.1:8"})
    assert "Bob&#39;s shop" not in by_host.text  # the host has no port
    assert (await admin_browser.get("/admin/scanner/targets", params={"q": "x" * 101})).status_code == 422
    assert (await admin_browser.get("/admin/scanner/targets/999999")).status_code == 404

    page = await admin_browser.get(f"/admin/scanner/targets/{target_id}")
    assert page.status_code == 200 and 'action="/admin/scanner/targets/' in page.text
    assert 'name="_csrf_token"' in page.text and "Vouch for this target" in page.text

    # No CSRF token: refused before anything changes.
    forged = await admin_browser.post(f"/admin/scanner/targets/{target_id}/vouch", data={"reason": REASON})
    assert forged.status_code == 403
    assert (await load(services, target_id)).verified_at is None and await vouch_events(services) == []

    empty = await post_form(admin_browser, f"/admin/scanner/targets/{target_id}/vouch", {"reason": " "})
    assert empty.status_code == 422 and "Say why" in empty.text
    done = await post_form(admin_browser, f"/admin/scanner/targets/{target_id}/vouch", {"reason": REASON})
    assert done.status_code == 303 and done.headers["location"] == f"/admin/scanner/targets/{target_id}"
    again = await admin_browser.get(f"/admin/scanner/targets/{target_id}")
    assert "vouched for by an administrator" in again.text and "Withdraw" in again.text
    assert "Ticket 4411" in again.text  # the history shows the reason
    vouched_only = await admin_browser.get("/admin/scanner/targets", params={"vouched": "true"})
    assert "Alice&#39;s shop" in vouched_only.text and "Bob&#39;s shop" not in vouched_only.text

    forged = await admin_browser.post(f"/admin/scanner/targets/{target_id}/withdraw", data={"reason": "no"})
    assert forged.status_code == 403 and (await load(services, target_id)).verification_method == "admin"
    gone = await post_form(admin_browser, f"/admin/scanner/targets/{target_id}/withdraw", {"reason": "Closed."})
    assert gone.status_code == 303 and (await load(services, target_id)).verified_at is None
    assert "admin.target_vouched" in (await admin_browser.get("/admin/audit")).text
