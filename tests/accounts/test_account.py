"""The account page: settings form, change password (other sessions end), change email (confirmed by link)."""

from __future__ import annotations

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from spyglass.audit.service import AuditAction
from spyglass.core.services import Services
from tests.accounts.helpers import audit_actions, emailed_path, get_user, second_browser, token_of
from tests.support.factories import DEFAULT_PASSWORD, create_user
from tests.support.smtp import SmtpServer
from tests.support.web import login, post_form

Client = AsyncTestClient[Litestar]
pytestmark = pytest.mark.usefixtures("no_redirects")
NEW_PASSWORD = "purple harbour window"
SETTINGS_FORM = {
    "display_name": "Zoe Z.",
    "timezone": "Europe/Paris",
    "page_size": "50",
    "email_notifications": "true",
}


async def _signed_in(client: Client, services: Services, username: str = "zoe", **kwargs: object) -> int:
    user = await create_user(services, username=username, email=f"{username}@example.com", **kwargs)  # type: ignore[arg-type]
    await login(client, username, DEFAULT_PASSWORD)
    return user.id


async def test_account_page_needs_a_session(client: Client) -> None:
    response = await client.get("/account")
    assert response.status_code == 303 and response.headers["location"] == "/login?next=/account"


async def test_settings_form_saves_and_the_api_sees_it(client: Client, services: Services) -> None:
    user_id = await _signed_in(client, services)
    page = await client.get("/account")
    for label in ("field-display_name", "field-timezone", "field-page_size", "field-email_notifications"):
        assert f'<label for="{label}">' in page.text
    assert "Verified" in page.text
    await client.get("/api/v1/me")  # warm the settings cache
    response = await post_form(client, "/account", SETTINGS_FORM)  # the checkbox is ticked
    assert response.status_code == 303 and response.headers["location"] == "/account"
    settings = (await client.get("/api/v1/me")).json()["settings"]
    assert settings == {
        "display_name": "Zoe Z.",
        "timezone": "Europe/Paris",
        "page_size": 50,
        "email_notifications": True,
    }
    unticked = {k: v for k, v in SETTINGS_FORM.items() if k != "email_notifications"}
    await post_form(client, "/account", unticked)
    assert (await client.get("/api/v1/me")).json()["settings"]["email_notifications"] is False
    page = await client.get("/account")
    assert "Your settings are saved." in page.text
    assert 'value="Zoe Z."' in page.text and '<option value="Europe/Paris" selected>' in page.text
    assert (await audit_actions(services, user_id)).count(AuditAction.SETTINGS_CHANGED) == 2


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("display_name", "x" * 81, "Use at most 80 characters."),
        ("display_name", "bad\x07name", "Use letters, digits, spaces and punctuation only."),
        ("timezone", "Mars/Olympus_Mons", "Choose a time zone from the list"),
        ("timezone", "", "Choose a time zone from the list"),
        ("page_size", "5", "Enter a whole number between 10 and 100."),
        ("page_size", "101", "Enter a whole number between 10 and 100."),
        ("page_size", "ten", "Enter a whole number between 10 and 100."),
        ("page_size", "", "Enter a whole number between 10 and 100."),
    ],
)
async def test_settings_form_errors_per_field(
    client: Client, services: Services, field: str, value: str, message: str
) -> None:
    user_id = await _signed_in(client, services)
    response = await post_form(client, "/account", {**SETTINGS_FORM, field: value})
    assert response.status_code == 422
    assert message in response.text
    assert f'aria-describedby="field-{field}-error"' in response.text.replace(
        f'aria-describedby="field-{field}-help field-{field}-error"', f'aria-describedby="field-{field}-error"'
    )
    assert (await client.get("/api/v1/me")).json()["settings"]["page_size"] == 25  # nothing saved
    assert AuditAction.SETTINGS_CHANGED not in await audit_actions(services, user_id)


async def test_settings_form_needs_csrf(client: Client, services: Services) -> None:
    await _signed_in(client, services)
    response = await client.post("/account", data=SETTINGS_FORM)
    assert response.status_code == 403
    assert (await client.get("/api/v1/me")).json()["settings"]["display_name"] == ""


async def test_change_password_keeps_this_session_and_ends_the_others(client: Client, services: Services) -> None:
    user_id = await _signed_in(client, services)
    async with second_browser(client) as other:
        await login(other, "zoe", DEFAULT_PASSWORD)
        assert (await other.get("/api/v1/me")).status_code == 200
        response = await post_form(
            client,
            "/account/password",
            {"current_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD, "new_password_confirm": NEW_PASSWORD},
        )
        assert response.status_code == 303
        assert (await client.get("/api/v1/me")).status_code == 200
        assert (await other.get("/api/v1/me")).status_code == 401
    assert "Your password has been changed" in (await client.get("/account")).text
    await post_form(client, "/logout")
    assert (await post_form(client, "/login", {"login": "zoe", "password": DEFAULT_PASSWORD})).status_code == 401
    await login(client, "zoe", NEW_PASSWORD)
    assert AuditAction.PASSWORD_CHANGED in await audit_actions(services, user_id)


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"current_password": "wrong"}, "current_password", "That is not your current password."),
        ({"current_password": ""}, "current_password", "That is not your current password."),
        ({"new_password": "short", "new_password_confirm": "short"}, "new_password", "Use at least 8 characters."),
        ({"new_password": "sunshine", "new_password_confirm": "sunshine"}, "new_password", "most common"),
        ({"new_password_confirm": "other words"}, "new_password_confirm", "The two passwords do not match."),
        (
            {"new_password": DEFAULT_PASSWORD, "new_password_confirm": DEFAULT_PASSWORD},
            "new_password",
            "different from your current one",
        ),
    ],
)
async def test_change_password_errors(
    client: Client, services: Services, form: dict[str, str], field: str, message: str
) -> None:
    user_id = await _signed_in(client, services)
    values = {"current_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD, "new_password_confirm": NEW_PASSWORD}
    response = await post_form(client, "/account/password", {**values, **form})
    assert response.status_code == 422
    assert message in response.text
    assert f'id="field-{field}-error"' in response.text
    assert (await client.get("/api/v1/me")).status_code == 200
    assert AuditAction.PASSWORD_CHANGED not in await audit_actions(services, user_id)


async def test_change_email_is_applied_when_the_new_address_confirms(
    client: Client, services: Services, smtp_server: SmtpServer
) -> None:
    user_id = await _signed_in(client, services)
    response = await post_form(
        client, "/account/email", {"new_email": "Zoe.New@Example.org", "password_for_email": DEFAULT_PASSWORD}
    )
    assert response.status_code == 303
    assert (await get_user(services, "zoe")).email == "zoe@example.com"  # not yet
    path = emailed_path(smtp_server, "zoe.new@example.org")
    assert smtp_server.messages_to("zoe@example.com") == []
    page = await client.get(path)
    assert "zoe.new@example.org" in page.text and "Verify my email" in page.text
    confirmed = await post_form(client, "/verify-email", {"token": token_of(path)})
    assert confirmed.status_code == 303 and confirmed.headers["location"] == "/account"
    user = await get_user(services, "zoe")
    assert user.email == "zoe.new@example.org" and user.email_verified_at is not None
    assert (await client.get("/api/v1/me")).json()["email"] == "zoe.new@example.org"  # the user cache was dropped
    actions = await audit_actions(services, user_id)
    assert AuditAction.EMAIL_CHANGE_REQUESTED in actions and AuditAction.EMAIL_CHANGED in actions
    await post_form(client, "/logout")
    await login(client, "zoe.new@example.org", DEFAULT_PASSWORD)


async def test_change_email_to_an_address_taken_meanwhile(
    client: Client, services: Services, smtp_server: SmtpServer
) -> None:
    await _signed_in(client, services)
    await post_form(
        client, "/account/email", {"new_email": "shared@example.org", "password_for_email": DEFAULT_PASSWORD}
    )
    path = emailed_path(smtp_server, "shared@example.org")
    await create_user(services, username="quick", email="shared@example.org")
    response = await post_form(client, "/verify-email", {"token": token_of(path)})
    assert response.status_code == 409
    assert (await get_user(services, "zoe")).email == "zoe@example.com"


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"new_email": ""}, "new_email", "Enter your email address."),
        ({"new_email": "nope"}, "new_email", "This is not a valid email address"),
        ({"new_email": "ZOE@example.com"}, "new_email", "This is already your email address."),
        ({"new_email": "taken@example.com"}, "new_email", "Another account already uses this email address."),
        ({"password_for_email": "wrong"}, "password_for_email", "That is not your current password."),
    ],
)
async def test_change_email_errors(
    client: Client, services: Services, smtp_server: SmtpServer, form: dict[str, str], field: str, message: str
) -> None:
    await create_user(services, username="taken", email="taken@example.com")
    await _signed_in(client, services)
    values = {"new_email": "fresh@example.org", "password_for_email": DEFAULT_PASSWORD, **form}
    response = await post_form(client, "/account/email", values)
    assert response.status_code == 422
    assert message in response.text
    assert f'id="field-{field}-error"' in response.text
    assert smtp_server.messages == []


async def test_unverified_banner(client: Client, services: Services) -> None:
    await _signed_in(client, services, verified=False)
    page = await client.get("/account")
    assert "Not verified" in page.text and "Resend verification email" in page.text
