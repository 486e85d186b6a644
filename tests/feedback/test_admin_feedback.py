"""Admins list, filter, page through, answer and re-status feedback; the answer reaches the user through
the outbox (one notification per answer, in the same transaction); everything is audited; the admin side
is invisible to everybody else."""

from __future__ import annotations

from sqlalchemy import select

from spyglass.accounts.models import User
from spyglass.core.services import Services
from spyglass.feedback.models import Feedback
from spyglass.feedback.service import FEEDBACK_ANSWERED, FEEDBACK_STATUS_CHANGED
from spyglass.notifications.outbox import EVENT_FEEDBACK_ANSWERED
from tests.feedback.conftest import Client, all_feedback, audit_rows, notifications
from tests.support.web import post_form, send_json


async def seed(services: Services, user: User, *rows: tuple[str, str, str]) -> list[Feedback]:
    """Feedback of ``user``: (kind, status, message) each."""
    async with services.db.session(write=True) as session:
        made = [Feedback(user_id=user.id, kind=kind, status=status, message=message) for kind, status, message in rows]
        session.add_all(made)
    return made


async def test_admins_list_and_filter_everybodys_feedback(
    services: Services, admin_client: Client, alice: User, bob: User
) -> None:
    await seed(services, alice, ("bug", "new", "alice bug"), ("feature", "resolved", "alice wish"))
    await seed(services, bob, ("bug", "in_progress", "bob bug"))
    page = await admin_client.get("/admin/feedback")
    assert page.status_code == 200
    assert all(text in page.text for text in ("alice bug", "alice wish", "bob bug", "3 messages found."))
    assert 'href="/admin/users/' in page.text and ">alice<" in page.text
    bugs = await admin_client.get("/admin/feedback", params={"kind": "bug"})
    assert "alice bug" in bugs.text and "bob bug" in bugs.text and "alice wish" not in bugs.text
    new_bugs = await admin_client.get("/admin/feedback", params={"kind": "bug", "status": "new"})
    assert "alice bug" in new_bugs.text and "bob bug" not in new_bugs.text
    bad = await admin_client.get("/admin/feedback", params={"status": "done", "kind": "rant"})
    assert bad.status_code == 422
    assert "Choose one of: new, in_progress, resolved, closed." in bad.text

    api = await admin_client.get("/api/v1/admin/feedback", params={"status": "in_progress"})
    assert api.status_code == 200
    [item] = api.json()["items"]
    assert (item["message"], item["username"], item["user_id"]) == ("bob bug", "bob", bob.id)
    assert (await admin_client.get("/api/v1/admin/feedback", params={"kind": "rant"})).status_code == 422


async def test_the_list_is_paginated_with_a_capped_size(services: Services, admin_client: Client, alice: User) -> None:
    await seed(services, alice, *[("other", "new", f"note {n:02d}") for n in range(12)])
    first = (await admin_client.get("/api/v1/admin/feedback", params={"size": 5})).json()
    assert (first["total"], first["pages"], len(first["items"])) == (12, 3, 5)
    assert first["items"][0]["message"] == "note 11"  # newest first
    last = (await admin_client.get("/api/v1/admin/feedback", params={"size": 5, "page": 3})).json()
    assert [item["message"] for item in last["items"]] == ["note 01", "note 00"]
    huge = (await admin_client.get("/api/v1/admin/feedback", params={"size": 100000})).json()
    assert huge["size"] == services.settings.max_page_size
    page2 = await admin_client.get("/admin/feedback", params={"size": 5, "page": 2})
    assert "Page 2 of 3" in page2.text and "note 06" in page2.text and "note 11" not in page2.text


async def test_an_answer_is_stored_audited_and_sent_to_the_user_once(
    services: Services, admin: User, admin_client: Client, alice: User, alice_client: Client
) -> None:
    [feedback] = await seed(services, alice, ("question", "new", "How do I add a target?\nThanks"))
    answer = {"answer": "Open Targets, then <Add>.", "answer_status": "resolved"}
    response = await post_form(admin_client, f"/admin/feedback/{feedback.id}/answer", answer)
    assert response.status_code == 303 and response.headers["location"] == f"/admin/feedback/{feedback.id}"
    # A double click sends the same answer again: still one notification.
    assert (await post_form(admin_client, f"/admin/feedback/{feedback.id}/answer", answer)).status_code == 303

    [stored] = await all_feedback(services)
    assert (stored.answer, stored.status, stored.answered_by) == ("Open Targets, then <Add>.", "resolved", admin.id)
    assert stored.answered_at is not None
    [sent] = await notifications(services, event=EVENT_FEEDBACK_ANSWERED)
    assert sent.user_id == alice.id
    assert sent.payload["feedback_id"] == feedback.id
    assert sent.payload["answer"] == "Open Targets, then <Add>."
    assert sent.payload["subject"] == "Question: How do I add a target?"
    assert sent.payload["url"].endswith(f"/feedback/{feedback.id}")
    events = await audit_rows(services, FEEDBACK_ANSWERED)
    assert [(e.user_id, e.actor_id, e.details["feedback_id"]) for e in events] == [
        (alice.id, admin.id, feedback.id)
    ] * 2

    mine = await alice_client.get(f"/feedback/{feedback.id}")
    assert "Open Targets, then &lt;Add&gt;." in mine.text and "Resolved" in mine.text
    # A changed answer is news: a second notification.
    changed = await send_json(
        admin_client, "POST", f"/api/v1/admin/feedback/{feedback.id}/answer", {"answer": "Or use the API."}
    )
    assert changed.status_code == 200 and changed.json()["answer"] == "Or use the API."
    assert len(await notifications(services, event=EVENT_FEEDBACK_ANSWERED)) == 2


async def test_a_bad_answer_is_refused_and_nothing_is_sent(
    services: Services, admin_client: Client, alice: User
) -> None:
    [feedback] = await seed(services, alice, ("bug", "new", "broken"))
    page = await post_form(admin_client, f"/admin/feedback/{feedback.id}/answer", {"answer": " ", "answer_status": "x"})
    assert page.status_code == 422
    assert "Write an answer." in page.text and "Choose one of: new, in_progress, resolved, closed." in page.text
    api = await send_json(admin_client, "POST", f"/api/v1/admin/feedback/{feedback.id}/answer", {"answer": ""})
    assert api.status_code == 422 and api.json()["detail"] == {"answer": "Write an answer."}
    missing = await send_json(admin_client, "POST", "/api/v1/admin/feedback/999999/answer", {"answer": "hello"})
    assert missing.status_code == 404
    [stored] = await all_feedback(services)
    assert stored.answer is None and stored.status == "new"
    assert await notifications(services, event=EVENT_FEEDBACK_ANSWERED) == []


async def test_status_changes_are_audited_only_when_something_changes(
    services: Services, admin: User, admin_client: Client, alice: User
) -> None:
    [feedback] = await seed(services, alice, ("bug", "new", "broken"))
    moved = await post_form(admin_client, f"/admin/feedback/{feedback.id}/status", {"status": "in_progress"})
    assert moved.status_code == 303
    shown = await admin_client.get(moved.headers["location"])
    assert "The feedback is now in progress." in shown.text
    again = await send_json(admin_client, "PATCH", f"/api/v1/admin/feedback/{feedback.id}", {"status": "in_progress"})
    assert again.status_code == 200 and again.json()["status"] == "in_progress"
    closed = await send_json(admin_client, "PATCH", f"/api/v1/admin/feedback/{feedback.id}", {"status": "closed"})
    assert closed.json()["status"] == "closed"
    bad = await send_json(admin_client, "PATCH", f"/api/v1/admin/feedback/{feedback.id}", {"status": "done"})
    assert bad.status_code == 422
    events = await audit_rows(services, FEEDBACK_STATUS_CHANGED)
    assert [(e.details["from"], e.details["to"], e.actor_id) for e in events] == [
        ("new", "in_progress", admin.id),
        ("in_progress", "closed", admin.id),
    ]


async def test_members_and_visitors_cannot_reach_the_admin_side(
    services: Services, client: Client, alice: User, alice_client: Client
) -> None:
    [feedback] = await seed(services, alice, ("bug", "new", "mine"))
    for browser in (client, alice_client):
        assert (await browser.get("/admin/feedback")).status_code == 404
        assert (await browser.get(f"/admin/feedback/{feedback.id}")).status_code == 404
        assert (await browser.get("/api/v1/admin/feedback")).status_code == 404
        answered = await post_form(browser, f"/admin/feedback/{feedback.id}/answer", {"answer": "self-answer"})
        assert answered.status_code == 404
        patched = await send_json(browser, "PATCH", f"/api/v1/admin/feedback/{feedback.id}", {"status": "closed"})
        assert patched.status_code == 404
    async with services.db.session() as session:
        stored = await session.scalar(select(Feedback))
    assert stored is not None and stored.answer is None and stored.status == "new"
