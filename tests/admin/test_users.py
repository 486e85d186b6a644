"""The users list (page and API): search, filters, pagination and bad input."""

from __future__ import annotations

import pytest

from spyglass.accounts.models import Role, User
from spyglass.core.services import Services
from tests.admin.conftest import Client, bearer
from tests.support.factories import create_user


@pytest.fixture
async def people(services: Services, admin: User) -> list[User]:
    """Six more users, oldest first: two admins in all (root + carol), one deactivated (dave)."""
    specs = [
        ("Alice", "alice@example.test", Role.USER, True),
        ("bob", "BOB@Mail.test", Role.USER, True),
        ("carol", "carol@example.test", Role.ADMIN, True),
        ("dave", "dave@mail.test", Role.USER, False),
        ("erin_x", "erin@example.test", Role.USER, True),
        ("frank", "frank%@example.test", Role.USER, True),
    ]
    return [
        await create_user(services, username=name, email=email, role=role, active=active)
        for name, email, role, active in specs
    ]


async def api_usernames(client: Client, token: str, **params: object) -> list[str]:
    response = await client.get("/api/v1/admin/users", params=params, headers=bearer(token))
    assert response.status_code == 200, response.text
    return [item["username"] for item in response.json()["items"]]


async def test_api_lists_newest_first_and_searches_case_insensitively(
    client: Client, admin_token: str, people: list[User]
) -> None:
    assert await api_usernames(client, admin_token) == ["frank", "erin_x", "dave", "carol", "bob", "Alice", "root"]
    assert await api_usernames(client, admin_token, q="ALICE") == ["Alice"]
    assert await api_usernames(client, admin_token, q="mail.TEST") == ["dave", "bob"]  # email, any case
    assert await api_usernames(client, admin_token, q="_") == ["erin_x"]  # LIKE wildcards are literal
    assert await api_usernames(client, admin_token, q="%") == ["frank"]
    assert await api_usernames(client, admin_token, q="nobody") == []


async def test_api_filters_by_role_and_active(client: Client, admin_token: str, people: list[User]) -> None:
    assert await api_usernames(client, admin_token, role="admin") == ["carol", "root"]
    assert await api_usernames(client, admin_token, active="false") == ["dave"]
    assert await api_usernames(client, admin_token, role="user", active="true", q="example") == [
        "frank",
        "erin_x",
        "Alice",
    ]


async def test_api_paginates_with_exact_rows(client: Client, admin_token: str, people: list[User]) -> None:
    first = (await client.get("/api/v1/admin/users?size=3", headers=bearer(admin_token))).json()
    assert [u["username"] for u in first["items"]] == ["frank", "erin_x", "dave"]
    assert (first["page"], first["size"], first["total"], first["pages"]) == (1, 3, 7, 3)
    third = (await client.get("/api/v1/admin/users?size=3&page=3", headers=bearer(admin_token))).json()
    assert [u["username"] for u in third["items"]] == ["root"]
    beyond = (await client.get("/api/v1/admin/users?size=3&page=9", headers=bearer(admin_token))).json()
    assert beyond["items"] == [] and beyond["total"] == 7


async def test_api_clamps_page_and_size(
    client: Client, admin_token: str, people: list[User], services: Services
) -> None:
    response = await client.get("/api/v1/admin/users?page=-1&size=100000", headers=bearer(admin_token))
    assert response.status_code == 200
    body = response.json()
    assert body["page"] == 1 and body["size"] == services.settings.max_page_size and len(body["items"]) == 7


@pytest.mark.parametrize(
    ("query", "field"),
    [("role=root", "role"), ("active=maybe", "active"), ("q=" + "x" * 101, "q")],
)
async def test_api_rejects_bad_filters_with_a_message(client: Client, admin_token: str, query: str, field: str) -> None:
    response = await client.get(f"/api/v1/admin/users?{query}", headers=bearer(admin_token))
    assert 400 <= response.status_code < 500
    body = response.json()
    assert body["error"]
    assert field in str(body["detail"])


@pytest.mark.parametrize("query", ["page=abc", "page=1000000000000000000000000000", "size=x"])
async def test_api_rejects_unparseable_paging(client: Client, admin_token: str, query: str) -> None:
    response = await client.get(f"/api/v1/admin/users?{query}", headers=bearer(admin_token))
    assert 400 <= response.status_code < 500, response.text


async def test_api_user_detail_and_unknown_ids(client: Client, admin_token: str, people: list[User]) -> None:
    carol = people[2]
    body = (await client.get(f"/api/v1/admin/users/{carol.id}", headers=bearer(admin_token))).json()
    assert body["username"] == "carol" and body["role"] == "admin" and body["is_active"] is True
    assert "password_hash" not in body
    for missing in [999999, 0, 2**70]:
        response = await client.get(f"/api/v1/admin/users/{missing}", headers=bearer(admin_token))
        assert response.status_code == 404, missing


async def test_users_page_searches_filters_and_pages(admin_client: Client, people: list[User]) -> None:
    page = await admin_client.get("/admin/users", params={"q": "MAIL.test"})
    assert page.status_code == 200
    assert ">dave</a>" in page.text and ">bob</a>" in page.text and ">Alice</a>" not in page.text
    admins = await admin_client.get("/admin/users", params={"role": "admin"})
    assert ">carol</a>" in admins.text and ">root</a>" in admins.text and ">bob</a>" not in admins.text
    deactivated = await admin_client.get("/admin/users", params={"active": "false"})
    assert ">dave</a>" in deactivated.text and ">bob</a>" not in deactivated.text
    first = await admin_client.get("/admin/users", params={"size": 2, "role": "user"})
    assert ">frank</a>" in first.text and ">erin_x</a>" in first.text and ">dave</a>" not in first.text
    assert 'href="/admin/users?role=user&amp;size=2&amp;page=2"' in first.text  # filters kept in the pager
    second = await admin_client.get("/admin/users", params={"size": 2, "role": "user", "page": 2})
    assert ">dave</a>" in second.text and ">bob</a>" in second.text and ">frank</a>" not in second.text


async def test_users_page_shows_bad_filters_next_to_the_field(admin_client: Client) -> None:
    response = await admin_client.get("/admin/users", params={"role": "superuser", "page": "-3", "size": "100000"})
    assert response.status_code == 422
    assert "Choose user or admin." in response.text
    assert 'id="field-role"' in response.text and 'aria-invalid="true"' in response.text
    assert 'aria-describedby="field-role-error"' in response.text
    assert (await admin_client.get("/admin/users?page=abc")).status_code == 400
