"""The admin area does not exist for anyone but admins: every ``/admin`` page and every
``/api/v1/admin`` endpoint answers 404 to anonymous callers and to signed-in non-admins, by
session and by API token, for every method the route accepts."""

from __future__ import annotations

import re

import httpx
from litestar import Litestar

from spyglass.accounts.models import Role, User
from spyglass.core.csrf import CSRF_HEADER
from spyglass.core.services import Services
from tests.admin.conftest import Client, bearer, issue_token, sign_in
from tests.support.factories import create_user
from tests.support.web import csrf_token

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def admin_endpoints(app: Litestar, user_id: int) -> list[tuple[str, str]]:
    """(method, concrete path) of every admin route the app serves."""
    endpoints: list[tuple[str, str]] = []
    for route in app.routes:
        if not (route.path == "/admin" or route.path.startswith(("/admin/", "/api/v1/admin"))):
            continue
        path = re.sub(r"\{\w+:int\}", str(user_id), route.path)
        assert "{" not in path, f"test does not know how to fill in {route.path}"
        for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
            endpoints.append((method, path))
    return endpoints


async def call(client: Client, method: str, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
    headers = dict(headers or {})
    if method in UNSAFE and "Authorization" not in headers:
        headers[CSRF_HEADER] = await csrf_token(client)  # a valid CSRF token: only the admin check may refuse
    kwargs: dict[str, object] = {}
    if method == "PATCH":
        kwargs["json"] = {"role": "admin"}
    elif method == "POST":
        kwargs["data"] = {"role": "admin", "namespace": "users"}
    return await client.request(method, path, headers=headers, **kwargs)  # type: ignore[arg-type]


async def test_the_admin_area_has_every_expected_route(app: Litestar, member: User) -> None:
    endpoints = set(admin_endpoints(app, member.id))
    uid = member.id
    assert {
        ("GET", "/admin"),
        ("GET", "/admin/users"),
        ("GET", f"/admin/users/{uid}"),
        ("POST", f"/admin/users/{uid}/role"),
        ("POST", f"/admin/users/{uid}/deactivate"),
        ("POST", f"/admin/users/{uid}/reactivate"),
        ("POST", f"/admin/users/{uid}/rate-limits/reset"),
        ("GET", "/admin/audit"),
        ("GET", "/admin/cache"),
        ("POST", "/admin/cache/clear"),
        ("GET", "/admin/system"),
        ("GET", "/api/v1/admin/users"),
        ("GET", f"/api/v1/admin/users/{uid}"),
        ("PATCH", f"/api/v1/admin/users/{uid}"),
        ("GET", f"/api/v1/admin/users/{uid}/rate-limits"),
        ("DELETE", f"/api/v1/admin/users/{uid}/rate-limits"),
        ("GET", "/api/v1/admin/audit"),
    } <= endpoints


async def test_anonymous_callers_get_404_everywhere(app: Litestar, client: Client, member: User) -> None:
    for method, path in admin_endpoints(app, member.id):
        response = await call(client, method, path)
        assert response.status_code == 404, (method, path, response.status_code)
        assert "admin" not in response.text.lower(), (method, path)


async def test_non_admins_get_404_by_token(app: Litestar, client: Client, services: Services, member: User) -> None:
    token = await issue_token(services, member)
    for method, path in admin_endpoints(app, member.id):
        response = await call(client, method, path, bearer(token))
        assert response.status_code == 404, (method, path, response.status_code)
    async with services.db.session() as session:
        unchanged = await session.get(User, member.id)
        assert unchanged is not None and unchanged.role == "user" and unchanged.is_active


async def test_non_admins_get_404_by_session(app: Litestar, client: Client, services: Services, member: User) -> None:
    await sign_in(client, member)
    assert (await client.get("/account")).status_code == 200  # signed in for real
    for method, path in admin_endpoints(app, member.id):
        response = await call(client, method, path)
        assert response.status_code == 404, (method, path, response.status_code)
    async with services.db.session() as session:
        unchanged = await session.get(User, member.id)
        assert unchanged is not None and unchanged.role == "user"


async def test_admins_reach_every_page(admin_client: Client, member: User) -> None:
    for path in [
        "/admin",
        "/admin/users",
        f"/admin/users/{member.id}",
        "/admin/audit",
        "/admin/cache",
        "/admin/system",
    ]:
        response = await admin_client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        assert 'aria-label="Admin"' in response.text


async def test_the_admin_api_answers_an_admin_token(client: Client, admin_token: str, member: User) -> None:
    for path in ["/api/v1/admin/users", f"/api/v1/admin/users/{member.id}", "/api/v1/admin/audit"]:
        response = await client.get(path, headers=bearer(admin_token))
        assert response.status_code == 200, (path, response.status_code)


async def test_a_revoked_admin_loses_access_on_the_next_request(
    client: Client, services: Services, admin: User, admin_token: str
) -> None:
    second_admin_token = await issue_token(services, await _second_admin(services))
    assert (await client.get("/api/v1/admin/users", headers=bearer(admin_token))).status_code == 200
    demoted = await client.patch(
        f"/api/v1/admin/users/{admin.id}", json={"role": "user"}, headers=bearer(second_admin_token)
    )
    assert demoted.status_code == 200, demoted.text
    assert (await client.get("/api/v1/admin/users", headers=bearer(admin_token))).status_code == 404


async def _second_admin(services: Services) -> User:
    return await create_user(services, username="deputy", role=Role.ADMIN)
