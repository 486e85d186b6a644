"""``/api/v1/feedback``: send feedback with a bearer token or the browser session, read your own, clear 4xx."""

from __future__ import annotations

import secrets

from spyglass.accounts.auth import TOKEN_PREFIX, hash_token
from spyglass.accounts.models import ApiToken, User
from spyglass.core.services import Services
from tests.feedback.conftest import Client, all_feedback
from tests.support.web import send_json


async def issue_token(services: Services, user: User) -> dict[str, str]:
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    async with services.db.session(write=True) as session:
        session.add(ApiToken(user_id=user.id, name="test", token_hash=hash_token(raw), prefix=raw[:10]))
    return {"Authorization": f"Bearer {raw}"}


async def test_send_list_and_read_feedback_with_a_token(services: Services, client: Client, alice: User) -> None:
    auth = await issue_token(services, alice)
    created = await client.post(
        "/api/v1/feedback",
        json={"kind": "feature", "message": "Dark mode, please.", "rating": 5, "page_url": "https://x.test/a"},
        headers=auth,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert {k: body[k] for k in ("kind", "message", "rating", "page_url", "status", "answer")} == {
        "kind": "feature",
        "message": "Dark mode, please.",
        "rating": 5,
        "page_url": "https://x.test/a",
        "status": "new",
        "answer": None,
    }
    assert "user_id" not in body or body["user_id"] is None
    [stored] = await all_feedback(services)
    assert stored.id == body["id"] and stored.user_id == alice.id

    listed = await client.get("/api/v1/feedback", headers=auth)
    assert listed.status_code == 200
    assert [item["id"] for item in listed.json()["items"]] == [stored.id]
    assert listed.json()["total"] == 1
    one = await client.get(f"/api/v1/feedback/{stored.id}", headers=auth)
    assert one.status_code == 200 and one.json()["message"] == "Dark mode, please."


async def test_the_session_works_with_the_csrf_header(services: Services, alice_client: Client) -> None:
    response = await send_json(alice_client, "POST", "/api/v1/feedback", {"kind": "question", "message": "How?"})
    assert response.status_code == 201
    refused = await alice_client.post("/api/v1/feedback", json={"kind": "question", "message": "no csrf"})
    assert refused.status_code == 403
    assert len(await all_feedback(services)) == 1


async def test_invalid_fields_answer_422_with_a_message_each(services: Services, client: Client, alice: User) -> None:
    auth = await issue_token(services, alice)
    response = await client.post(
        "/api/v1/feedback", json={"kind": "rant", "message": "", "rating": 0, "page_url": "ftp://x"}, headers=auth
    )
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert set(detail) == {"kind", "message", "rating", "page_url"}
    assert detail["rating"] == "Rate from 1 to 5, or leave the rating out."
    assert await all_feedback(services) == []


async def test_malformed_bodies_answer_400_not_500(services: Services, client: Client, alice: User) -> None:
    auth = await issue_token(services, alice)
    for body in (
        {"kind": "bug", "message": "x", "rating": "five"},
        {"kind": "bug"},
        {"kind": "bug", "message": "x", "y": 1},
    ):
        response = await client.post("/api/v1/feedback", json=body, headers=auth)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["error"] == "The request is not valid."
    broken = await client.post(
        "/api/v1/feedback", content=b"{not json", headers={**auth, "content-type": "application/json"}
    )
    assert broken.status_code == 400
    assert await all_feedback(services) == []


async def test_anonymous_callers_get_401(client: Client) -> None:
    assert (await client.get("/api/v1/feedback")).status_code == 401
    assert (await client.post("/api/v1/feedback", json={"kind": "bug", "message": "x"})).status_code in (401, 403)
    assert (await client.get("/api/v1/onboarding")).status_code == 401
