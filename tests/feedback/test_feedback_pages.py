"""Sending feedback from the page: CSRF-protected form, validation, the author's list and detail pages,
the ``feedback`` rate limit, and tenant isolation."""

from __future__ import annotations

from spyglass.accounts.models import User
from spyglass.core.services import Services
from spyglass.feedback.service import FEEDBACK_SUBMITTED
from tests.feedback.conftest import Client, all_feedback, audit_rows
from tests.support.tenancy import assert_isolated, assert_not_listed
from tests.support.web import post_form

GOOD = {"kind": "bug", "message": "The search page shows <b>nothing</b>.", "page_url": "/market", "rating": "2"}


async def test_signed_in_users_see_the_form_and_anonymous_visitors_are_sent_to_sign_in(
    client: Client, alice_client: Client
) -> None:
    page = await alice_client.get("/feedback", params={"page_url": "/scanner/targets"})
    assert page.status_code == 200
    assert 'name="_csrf_token"' in page.text and 'value="/scanner/targets"' in page.text
    assert "You have not sent any feedback yet." in page.text
    anonymous = await client.get("/feedback")
    assert anonymous.status_code == 303 and anonymous.headers["location"] == "/login?next=/feedback"


async def test_feedback_is_stored_audited_and_shown_to_its_author(
    services: Services, alice: User, alice_client: Client
) -> None:
    response = await post_form(alice_client, "/feedback", GOOD)
    assert response.status_code == 303
    [stored] = await all_feedback(services)
    assert response.headers["location"] == f"/feedback/{stored.id}"
    assert (stored.user_id, stored.kind, stored.message, stored.page_url, stored.rating, stored.status) == (
        alice.id,
        "bug",
        GOOD["message"],
        "/market",
        2,
        "new",
    )
    [event] = await audit_rows(services, FEEDBACK_SUBMITTED)
    assert event.user_id == alice.id and event.details == {"feedback_id": stored.id, "kind": "bug"}

    detail = await alice_client.get(f"/feedback/{stored.id}")
    assert detail.status_code == 200
    assert "Thank you! Your feedback was sent" in detail.text
    assert "&lt;b&gt;nothing&lt;/b&gt;" in detail.text and "<b>nothing</b>" not in detail.text
    assert "No answer yet." in detail.text
    listing = await alice_client.get("/feedback")
    assert f'href="/feedback/{stored.id}"' in listing.text and "not yet" in listing.text


async def test_invalid_feedback_comes_back_with_a_message_per_field(services: Services, alice_client: Client) -> None:
    response = await post_form(
        alice_client, "/feedback", {"kind": "rant", "message": " ", "page_url": "javascript:alert(1)", "rating": "9"}
    )
    assert response.status_code == 422
    for message in (
        "Choose one of: bug, feature, question, other.",
        "Write a message.",
        "Give the page&#39;s address",
        "Rate from 1 to 5, or leave the rating out.",
    ):
        assert message in response.text
    assert 'value="javascript:alert(1)"' in response.text  # what was typed is kept (escaped) for correcting
    assert await all_feedback(services) == []


async def test_the_form_needs_its_csrf_token(services: Services, alice_client: Client) -> None:
    response = await alice_client.post("/feedback", data=GOOD)
    assert response.status_code == 403
    assert await all_feedback(services) == []


async def test_nobody_sees_or_finds_another_users_feedback(
    services: Services, alice_client: Client, bob_client: Client
) -> None:
    await post_form(alice_client, "/feedback", {**GOOD, "message": "alice's secret bug"})
    [stored] = await all_feedback(services)
    await assert_isolated(
        bob_client,
        [
            ("GET", f"/feedback/{stored.id}", None),
            ("GET", f"/api/v1/feedback/{stored.id}", None),
        ],
        owner=alice_client,
        secrets=["alice's secret bug"],
    )
    await assert_not_listed(bob_client, "/feedback", ["alice's secret bug"])
    await assert_not_listed(bob_client, "/api/v1/feedback", ["alice's secret bug"])
    assert (await bob_client.get("/feedback/99999999999999999999")).status_code == 404
