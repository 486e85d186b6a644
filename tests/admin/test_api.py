"""The admin JSON API: PATCH users with the same rules and audit trail as the pages, validation."""

from __future__ import annotations

import pytest

from spyglass.accounts.models import Role, User
from spyglass.audit.service import AuditAction
from spyglass.core.services import Services
from tests.admin.conftest import Client, audit_rows, bearer, issue_token, reload_user, sign_in
from tests.support.factories import create_user
from tests.support.web import send_json


async def test_patch_changes_role_and_active_state(
    client: Client, services: Services, admin: User, admin_token: str, member: User
) -> None:
    member_token = await issue_token(services, member)
    assert (await client.get("/api/v1/tokens", headers=bearer(member_token))).status_code == 200

    response = await client.patch(
        f"/api/v1/admin/users/{member.id}", json={"role": "admin"}, headers=bearer(admin_token)
    )
    assert response.status_code == 200 and response.json()["role"] == "admin"
    response = await client.patch(
        f"/api/v1/admin/users/{member.id}", json={"is_active": False, "role": "user"}, headers=bearer(admin_token)
    )
    body = response.json()
    assert response.status_code == 200 and body["is_active"] is False and body["role"] == "user"
    assert body["deactivated_at"] is not None
    assert (await client.get("/api/v1/tokens", headers=bearer(member_token))).status_code == 401

    response = await client.patch(
        f"/api/v1/admin/users/{member.id}", json={"is_active": True}, headers=bearer(admin_token)
    )
    assert response.status_code == 200 and response.json()["is_active"] is True
    assert (await client.get("/api/v1/tokens", headers=bearer(member_token))).status_code == 200

    roles = await audit_rows(services, AuditAction.ADMIN_ROLE_CHANGED)
    assert [(e.details["old_role"], e.details["new_role"]) for e in roles] == [("user", "admin"), ("admin", "user")]
    for action in (AuditAction.ADMIN_USER_DEACTIVATED, AuditAction.ADMIN_USER_REACTIVATED):
        [event] = await audit_rows(services, action)
        assert (event.actor_id, event.user_id) == (admin.id, member.id)


async def test_patch_repeating_the_current_state_changes_and_audits_nothing(
    client: Client, services: Services, admin_token: str, member: User
) -> None:
    response = await client.patch(
        f"/api/v1/admin/users/{member.id}", json={"role": "user", "is_active": True}, headers=bearer(admin_token)
    )
    assert response.status_code == 200
    assert await audit_rows(services, AuditAction.ADMIN_ROLE_CHANGED) == []
    assert await audit_rows(services, AuditAction.ADMIN_USER_REACTIVATED) == []


async def test_patch_refuses_self_demotion_and_self_deactivation(
    client: Client, services: Services, admin: User, admin_token: str
) -> None:
    demote = await client.patch(f"/api/v1/admin/users/{admin.id}", json={"role": "user"}, headers=bearer(admin_token))
    assert demote.status_code == 403 and "your own admin role" in demote.json()["error"]
    deactivate = await client.patch(
        f"/api/v1/admin/users/{admin.id}", json={"is_active": False}, headers=bearer(admin_token)
    )
    assert deactivate.status_code == 403 and "your own account" in deactivate.json()["error"]
    me = await reload_user(services, admin.id)
    assert me.role == "admin" and me.is_active


async def test_patch_demotes_and_deactivates_another_admin_in_one_request(
    client: Client, services: Services, admin: User, admin_token: str
) -> None:
    deputy = await create_user(services, username="deputy", role=Role.ADMIN)
    deputy_token = await issue_token(services, deputy)
    assert (await client.get("/api/v1/admin/users", headers=bearer(deputy_token))).status_code == 200
    response = await client.patch(
        f"/api/v1/admin/users/{deputy.id}", json={"role": "user", "is_active": False}, headers=bearer(admin_token)
    )
    assert response.status_code == 200
    deputy_now = await reload_user(services, deputy.id)
    assert deputy_now.role == "user" and not deputy_now.is_active
    assert (await client.get("/api/v1/admin/users", headers=bearer(deputy_token))).status_code == 404
    assert len(await audit_rows(services, AuditAction.ADMIN_ROLE_CHANGED)) == 1
    assert len(await audit_rows(services, AuditAction.ADMIN_USER_DEACTIVATED)) == 1


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"role": "root"},
        {"is_active": "yes"},
        {"is_active": None, "role": None},
        {"role": "admin", "email": "x"},
        [],
    ],
)
async def test_patch_rejects_invalid_bodies(
    client: Client, services: Services, admin_token: str, member: User, payload: object
) -> None:
    response = await client.patch(f"/api/v1/admin/users/{member.id}", json=payload, headers=bearer(admin_token))
    assert response.status_code in (400, 422), response.text
    assert response.json()["error"]
    unchanged = await reload_user(services, member.id)
    assert unchanged.role == "user" and unchanged.is_active


async def test_patch_with_a_session_needs_the_csrf_header(
    client: Client, services: Services, admin: User, member: User
) -> None:
    await sign_in(client, admin)
    refused = await client.patch(f"/api/v1/admin/users/{member.id}", json={"role": "admin"})
    assert refused.status_code == 403
    accepted = await send_json(client, "PATCH", f"/api/v1/admin/users/{member.id}", {"role": "admin"})
    assert accepted.status_code == 200
    assert (await reload_user(services, member.id)).role == "admin"


async def test_patch_on_a_missing_user_is_404(client: Client, admin_token: str) -> None:
    response = await client.patch("/api/v1/admin/users/424242", json={"role": "admin"}, headers=bearer(admin_token))
    assert response.status_code == 404 and response.json()["error"]
