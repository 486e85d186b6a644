"""Admin actions on a user from the user page: each works, is audited (actor and target) and its
effect holds on the very next request; the rules that keep someone in charge are enforced."""

from __future__ import annotations

from spyglass.accounts.models import User
from spyglass.audit.service import AuditAction
from spyglass.core.services import Services
from tests.admin.conftest import Client, audit_rows, bearer, issue_token, reload_user, sign_in
from tests.support.factories import DEFAULT_PASSWORD
from tests.support.web import post_form


async def test_make_admin_is_audited_and_takes_effect_at_once(
    admin_client: Client, other_client: Client, services: Services, admin: User, member: User
) -> None:
    token = await issue_token(services, member)
    assert (await other_client.get("/api/v1/admin/users", headers=bearer(token))).status_code == 404  # cached: user
    response = await post_form(admin_client, f"/admin/users/{member.id}/role", {"role": "admin"})
    assert response.status_code == 303 and response.headers["location"] == f"/admin/users/{member.id}"
    page = await admin_client.get(response.headers["location"])
    assert "alice is now an admin." in page.text and "Remove admin role" in page.text
    assert (await reload_user(services, member.id)).role == "admin"
    [event] = await audit_rows(services, AuditAction.ADMIN_ROLE_CHANGED)
    assert (event.actor_id, event.user_id) == (admin.id, member.id)
    assert event.details["old_role"] == "user" and event.details["new_role"] == "admin"
    assert event.ip and event.user_agent is not None
    assert (await other_client.get("/api/v1/admin/users", headers=bearer(token))).status_code == 200

    back = await post_form(admin_client, f"/admin/users/{member.id}/role", {"role": "user"})
    assert back.status_code == 303
    assert (await reload_user(services, member.id)).role == "user"
    assert (await other_client.get("/api/v1/admin/users", headers=bearer(token))).status_code == 404
    assert len(await audit_rows(services, AuditAction.ADMIN_ROLE_CHANGED)) == 2


async def test_a_bad_role_is_refused_with_a_message(admin_client: Client, services: Services, member: User) -> None:
    response = await post_form(admin_client, f"/admin/users/{member.id}/role", {"role": "superuser"})
    assert response.status_code == 303
    page = await admin_client.get(response.headers["location"])
    assert "Choose user or admin." in page.text
    assert (await reload_user(services, member.id)).role == "user"
    assert await audit_rows(services, AuditAction.ADMIN_ROLE_CHANGED) == []


async def test_deactivation_ends_sessions_and_tokens_on_the_next_request(
    admin_client: Client, other_client: Client, services: Services, admin: User, member: User
) -> None:
    token = await issue_token(services, member)
    await sign_in(other_client, member)
    assert (await other_client.get("/account/tokens")).status_code == 200
    assert (await other_client.get("/api/v1/tokens", headers=bearer(token))).status_code == 200
    before = await reload_user(services, member.id)

    response = await post_form(admin_client, f"/admin/users/{member.id}/deactivate")
    assert response.status_code == 303
    page = await admin_client.get(response.headers["location"])
    assert "alice is deactivated" in page.text and ">Reactivate</button>" in page.text

    after = await reload_user(services, member.id)
    assert after.is_active is False and after.deactivated_at is not None
    assert after.session_epoch == before.session_epoch + 1
    locked_out = await other_client.get("/account/tokens")
    assert locked_out.status_code == 303 and locked_out.headers["location"].startswith("/login")
    assert (await other_client.get("/api/v1/tokens", headers=bearer(token))).status_code == 401
    [event] = await audit_rows(services, AuditAction.ADMIN_USER_DEACTIVATED)
    assert (event.actor_id, event.user_id) == (admin.id, member.id)


async def test_reactivated_user_can_sign_in_again(
    admin_client: Client, other_client: Client, services: Services, admin: User, member: User
) -> None:
    await sign_in(other_client, member)
    await post_form(admin_client, f"/admin/users/{member.id}/deactivate")
    refused = await post_form(other_client, "/login", {"login": member.username, "password": DEFAULT_PASSWORD})
    assert refused.status_code != 303

    response = await post_form(admin_client, f"/admin/users/{member.id}/reactivate")
    assert response.status_code == 303
    assert "alice is reactivated" in (await admin_client.get(response.headers["location"])).text
    restored = await reload_user(services, member.id)
    assert restored.is_active and restored.deactivated_at is None
    # The session from before the deactivation stays dead (its epoch is old); a new sign-in works.
    assert (await other_client.get("/account/tokens")).status_code == 303
    await sign_in(other_client, member)
    assert (await other_client.get("/account/tokens")).status_code == 200
    [event] = await audit_rows(services, AuditAction.ADMIN_USER_REACTIVATED)
    assert (event.actor_id, event.user_id) == (admin.id, member.id)


async def test_an_admin_cannot_demote_or_deactivate_themselves(
    admin_client: Client, services: Services, admin: User
) -> None:
    demote = await post_form(admin_client, f"/admin/users/{admin.id}/role", {"role": "user"})
    assert demote.status_code == 303
    page = await admin_client.get(demote.headers["location"])
    assert "You cannot remove your own admin role" in page.text
    deactivate = await post_form(admin_client, f"/admin/users/{admin.id}/deactivate")
    page = await admin_client.get(deactivate.headers["location"])
    assert "You cannot deactivate your own account" in page.text
    me = await reload_user(services, admin.id)
    assert me.role == "admin" and me.is_active
    assert await audit_rows(services, AuditAction.ADMIN_ROLE_CHANGED) == []
    assert await audit_rows(services, AuditAction.ADMIN_USER_DEACTIVATED) == []
    assert (await admin_client.get("/admin")).status_code == 200


async def test_admin_forms_need_the_csrf_token(admin_client: Client, services: Services, member: User) -> None:
    response = await admin_client.post(f"/admin/users/{member.id}/deactivate", data={})
    assert response.status_code == 403
    assert (await reload_user(services, member.id)).is_active


async def test_actions_on_a_missing_user_are_404(admin_client: Client) -> None:
    assert (await post_form(admin_client, "/admin/users/999999/deactivate")).status_code == 404
    assert (await admin_client.get("/admin/users/999999")).status_code == 404
