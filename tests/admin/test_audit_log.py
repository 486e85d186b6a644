"""The audit log page and API: filters by user, action and dates return exactly the expected
events, newest first, paginated; bad filter input gives a clear 4xx."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from spyglass.accounts.models import User
from spyglass.audit.models import AuditEvent
from spyglass.audit.service import AuditAction
from spyglass.core.services import Services
from tests.admin.conftest import Client, bearer
from tests.support.factories import create_user


def at(day: int, hour: int = 12) -> datetime:
    return datetime(2024, 3, day, hour, tzinfo=UTC)


@pytest.fixture
async def history(services: Services, admin: User, member: User) -> dict[str, int]:
    """Known events on known days (March 2024); returns ids by a short name."""
    bob = await create_user(services, username="bob")
    specs = {
        "alice_login_1": (at(1), AuditAction.LOGIN, member.id, member.id),
        "bob_login_2": (at(2), AuditAction.LOGIN, bob.id, bob.id),
        "root_demotes_bob_3": (at(3, 0), AuditAction.ADMIN_ROLE_CHANGED, bob.id, admin.id),
        "alice_failed_3": (at(3, 23), AuditAction.LOGIN_FAILED, member.id, member.id),
        "root_deactivates_alice_5": (at(5), AuditAction.ADMIN_USER_DEACTIVATED, member.id, admin.id),
        "system_7": (at(7), AuditAction.LOGIN_FAILED, None, None),
    }
    ids: dict[str, int] = {}
    async with services.db.session(write=True) as session:
        for name, (when, action, user_id, actor_id) in specs.items():
            event = AuditEvent(created_at=when, action=action, user_id=user_id, actor_id=actor_id, details={"n": name})
            session.add(event)
            await session.flush()
            ids[name] = event.id
    return ids


async def names(client: Client, token: str, **params: object) -> list[str]:
    response = await client.get("/api/v1/admin/audit", params={"to": "2024-12-31", **params}, headers=bearer(token))
    assert response.status_code == 200, response.text
    return [item["details"]["n"] for item in response.json()["items"]]


async def test_filters_return_exactly_the_expected_events(
    client: Client, admin_token: str, history: dict[str, int]
) -> None:
    everything = ["system_7", "root_deactivates_alice_5", "alice_failed_3", "root_demotes_bob_3", "bob_login_2",
                  "alice_login_1"]  # fmt: skip
    assert await names(client, admin_token) == everything
    assert await names(client, admin_token, username="ALICE") == ["root_deactivates_alice_5", "alice_failed_3",
                                                             "alice_login_1"]  # fmt: skip
    assert await names(client, admin_token, username="root") == ["root_deactivates_alice_5", "root_demotes_bob_3"]
    assert await names(client, admin_token, username="nobody") == []
    assert await names(client, admin_token, action=AuditAction.LOGIN_FAILED) == ["system_7", "alice_failed_3"]
    # Both ends of the date range are whole UTC days, included.
    assert await names(client, admin_token, **{"from": "2024-03-03", "to": "2024-03-03"}) == [
        "alice_failed_3",
        "root_demotes_bob_3",
    ]
    assert await names(client, admin_token, **{"from": "2024-03-02", "to": "2024-03-05", "username": "bob"}) == [
        "root_demotes_bob_3",
        "bob_login_2",
    ]
    assert await names(client, admin_token, **{"from": "2024-03-06"}) == ["system_7"]


async def test_api_paginates_newest_first(client: Client, admin_token: str, history: dict[str, int]) -> None:
    params = {"from": "2024-03-01", "to": "2024-03-31", "size": 4}
    first = (await client.get("/api/v1/admin/audit", params=params, headers=bearer(admin_token))).json()
    second = (await client.get("/api/v1/admin/audit", params={**params, "page": 2}, headers=bearer(admin_token))).json()
    assert (first["total"], first["pages"]) == (6, 2)
    assert [i["id"] for i in first["items"] + second["items"]] == sorted(history.values(), reverse=True)
    entry = next(i for i in first["items"] if i["details"]["n"] == "root_deactivates_alice_5")
    assert entry["username"] == "alice" and entry["actor_name"] == "root"
    assert entry["action"] == AuditAction.ADMIN_USER_DEACTIVATED


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "yesterday"}, "from"),
        ({"to": "2024-02-30"}, "to"),
        ({"from": "2024-03-05", "to": "2024-03-01"}, "to"),
        ({"action": "drop tables"}, "action"),
        ({"username": "u" * 101}, "username"),
    ],
)
async def test_bad_filters_are_refused_with_a_message(
    client: Client, admin_token: str, admin_client: Client, params: dict[str, str], field: str
) -> None:
    response = await client.get("/api/v1/admin/audit", params=params, headers=bearer(admin_token))
    assert response.status_code == 422
    assert field in response.json()["detail"]
    page = await admin_client.get("/admin/audit", params=params)
    assert page.status_code == 422
    assert f'aria-describedby="field-{field}-error"' in page.text or f'id="field-{field}-error"' in page.text
    assert response.json()["detail"][field] in page.text


async def test_page_filters_and_pages(admin_client: Client, history: dict[str, int]) -> None:
    page = await admin_client.get(
        "/admin/audit", params={"username": "alice", "from": "2024-03-01", "to": "2024-03-31", "size": 2}
    )
    assert page.status_code == 200
    assert "n: root_deactivates_alice_5" in page.text and "n: alice_failed_3" in page.text
    assert "n: alice_login_1" not in page.text
    assert "Page 1 of 2" in page.text
    assert 'href="/admin/audit?username=alice&amp;from=2024-03-01&amp;to=2024-03-31&amp;size=2&amp;page=2"' in page.text
    second = await admin_client.get(
        "/admin/audit", params={"username": "alice", "from": "2024-03-01", "to": "2024-03-31", "size": 2, "page": 2}
    )
    assert "n: alice_login_1" in second.text and "n: alice_failed_3" not in second.text
    by_action = await admin_client.get("/admin/audit", params={"action": AuditAction.ADMIN_ROLE_CHANGED})
    assert "n: root_demotes_bob_3" in by_action.text and "n: bob_login_2" not in by_action.text
    assert f'<option value="{AuditAction.ADMIN_ROLE_CHANGED}" selected>' in by_action.text


async def test_paging_input_is_clamped_or_refused(admin_client: Client, services: Services) -> None:
    assert (await admin_client.get("/admin/audit?page=-1&size=100000")).status_code == 200
    assert (await admin_client.get("/admin/audit?page=99999999999999999999999")).status_code == 400
    assert (await admin_client.get("/admin/audit?size=lots")).status_code == 400
