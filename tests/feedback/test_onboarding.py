"""The first-run checklist: each step turns done when the user's row appears in the owning feature's
table (and only the user's), progress counts, dismissing hides it for good, and a table that does not
exist counts as "not done" without breaking the transaction."""

from __future__ import annotations

from litestar import Litestar
from sqlalchemy import select

from spyglass.accounts.models import User
from spyglass.core.db import utcnow
from spyglass.core.services import Services
from spyglass.feedback import onboarding
from spyglass.feedback.models import UserOnboarding
from spyglass.market.models import SavedSearch
from spyglass.notifications.models import Channel
from spyglass.scanner.models import Scan, ScanTarget
from tests.feedback.conftest import Client
from tests.support.factories import create_user
from tests.support.web import post_form, send_json


async def status(services: Services, user: User) -> dict[str, bool]:
    async with services.db.session() as session:
        checklist = await onboarding.onboarding_status(session, user.id)
    return {item.key: item.done for item in checklist.items}


async def test_each_step_is_done_by_the_users_own_rows_only(services: Services) -> None:
    newcomer = await create_user(services, username="newcomer", verified=False)
    other = await create_user(services, username="other")
    assert await status(services, newcomer) == dict.fromkeys(
        ["verify_email", "add_channel", "create_search", "add_target", "run_scan"], False
    )
    async with services.db.session(write=True) as session:
        # Everything belongs to somebody else: the newcomer's checklist does not move.
        session.add(Channel(user_id=other.id, kind="email", label="Mail", target="o@example.test", target_hint="o@…"))
        session.add(SavedSearch(user_id=other.id, name="Bikes", keywords="bike", interval_seconds=600))
        target = ScanTarget(
            user_id=other.id, name="Site", base_url="https://o.test/", host="o.test", verification_token="t" * 32
        )
        session.add(target)
        await session.flush()
        session.add(Scan(user_id=other.id, target_id=target.id, profile="passive", status="succeeded"))
    assert not any((await status(services, newcomer)).values())
    assert all((await status(services, other)).values())

    async with services.db.session(write=True) as session:
        session.add(SavedSearch(user_id=newcomer.id, name="Lamps", keywords="lamp", interval_seconds=600))
        target = ScanTarget(
            user_id=newcomer.id, name="Mine", base_url="https://n.test/", host="n.test", verification_token="n" * 32
        )
        session.add(target)
        await session.flush()
        session.add(Scan(user_id=newcomer.id, target_id=target.id, profile="passive", status="running"))
    assert await status(services, newcomer) == {
        "verify_email": False,
        "add_channel": False,
        "create_search": True,
        "add_target": True,
        "run_scan": False,  # a scan still running is not a first scan run
    }
    async with services.db.session(write=True) as session:
        user = await session.get(User, newcomer.id)
        assert user is not None
        user.email_verified_at = utcnow()
        session.add(Channel(user_id=newcomer.id, kind="email", label="Me", target="n@example.test", target_hint="n@…"))
        scan = await session.scalar(select(Scan).where(Scan.user_id == newcomer.id))
        assert scan is not None
        scan.status = "succeeded"
    async with services.db.session() as session:
        checklist = await onboarding.onboarding_status(session, newcomer.id)
    assert (checklist.done_count, checklist.total, checklist.percent) == (5, 5, 100)
    assert checklist.complete and not checklist.visible


async def test_a_missing_table_counts_as_not_done_and_keeps_the_transaction_usable(
    services: Services, alice: User
) -> None:
    ghost = onboarding.Step("ghost", "Ghost", "", "/", table="no_such_table_yet")
    async with services.db.session(write=True) as session:
        assert await onboarding._has_rows(session, ghost, alice.id) is False
        await onboarding.dismiss(session, user_id=alice.id)  # the transaction still works afterwards
    async with services.db.session() as session:
        assert (await onboarding.onboarding_status(session, alice.id)).dismissed


async def test_progress_and_dismissal_over_http(services: Services, alice: User, alice_client: Client) -> None:
    shown = await alice_client.get("/api/v1/onboarding")
    assert shown.status_code == 200
    body = shown.json()
    assert (body["done"], body["total"], body["percent"], body["dismissed"]) == (1, 5, 20, False)
    assert [item["key"] for item in body["items"] if item["done"]] == ["verify_email"]

    first = await post_form(alice_client, "/onboarding/dismiss", {})
    assert first.status_code == 303 and first.headers["location"] == "/"
    assert (await send_json(alice_client, "POST", "/api/v1/onboarding/dismiss", {})).status_code == 200
    async with services.db.session() as session:
        rows = list(await session.scalars(select(UserOnboarding)))
    assert [(row.user_id, row.dismissed_at is not None) for row in rows] == [(alice.id, True)]
    assert (await alice_client.get("/api/v1/onboarding")).json()["dismissed"] is True
    assert (await alice_client.post("/onboarding/dismiss")).status_code == 403  # no CSRF token


async def test_dismissing_twice_keeps_the_first_time(services: Services, alice: User) -> None:
    async with services.db.session(write=True) as session:
        await onboarding.dismiss(session, user_id=alice.id)
    async with services.db.session() as session:
        first = await session.scalar(select(UserOnboarding.dismissed_at))
    async with services.db.session(write=True) as session:
        await onboarding.dismiss(session, user_id=alice.id)
    async with services.db.session() as session:
        assert await session.scalar(select(UserOnboarding.dismissed_at)) == first


async def test_the_checklist_partial_shows_progress_and_links_until_dismissed(
    app: Litestar, services: Services, alice: User
) -> None:
    template = app.template_engine.engine.get_template("onboarding/checklist.html")  # type: ignore[union-attr]
    async with services.db.session() as session:
        checklist = await onboarding.onboarding_status(session, alice.id)
    html = template.render(onboarding=checklist, csrf_input='<input type="hidden" name="_csrf_token" value="t">')
    assert "1 of 5 steps done" in html and 'value="1"' in html and 'max="5"' in html
    assert '<a href="/market/searches/new">Create your first market search</a>' in html
    assert 'data-step="verify_email" data-done="true"' in html
    assert 'action="/onboarding/dismiss"' in html and 'name="_csrf_token"' in html
    async with services.db.session(write=True) as session:
        await onboarding.dismiss(session, user_id=alice.id)
        checklist = await onboarding.onboarding_status(session, alice.id)
    assert template.render(onboarding=checklist, csrf_input="").strip() == ""


async def test_every_step_links_to_a_page_that_exists(alice_client: Client) -> None:
    for step in onboarding.STEPS:
        response = await alice_client.get(step.href)
        assert response.status_code == 200, f"{step.key}: {step.href} answers {response.status_code}"
