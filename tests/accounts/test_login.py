"""Signing in and out: credentials, sessions, rate limits, legacy hashes, redirects, audit."""

from __future__ import annotations

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import update
from werkzeug.security import generate_password_hash

from spyglass.accounts.auth import forget_user
from spyglass.accounts.models import User
from spyglass.audit.service import AuditAction
from spyglass.core.services import Services
from spyglass.core.sessions import SESSION_COOKIE
from tests.accounts.helpers import audit_actions, browser_at, get_user
from tests.support.factories import DEFAULT_PASSWORD, create_user
from tests.support.web import login, post_form

Client = AsyncTestClient[Litestar]
pytestmark = pytest.mark.usefixtures("no_redirects")
WRONG = "Wrong username or password."


def logins_counted(services: Services, result: str) -> float:
    return services.metrics.logins.labels(result)._value.get()


async def test_login_by_username_or_email(client: Client, services: Services) -> None:
    user = await create_user(services, username="ann", email="ann@example.test")
    page = await client.get("/login")
    assert '<label for="field-login">' in page.text and '<label for="field-password">' in page.text
    response = await login(client, "ANN", DEFAULT_PASSWORD)
    assert response.headers["location"] == "/"
    me = await client.get("/api/v1/me")
    assert me.status_code == 200 and me.json()["username"] == "ann"
    await post_form(client, "/logout")
    response = await login(client, " Ann@Example.TEST ", DEFAULT_PASSWORD)
    assert (await client.get("/api/v1/me")).json()["id"] == user.id
    stored = await get_user(services, "ann")
    assert stored.last_login_at is not None
    assert (await audit_actions(services, user.id)).count(AuditAction.LOGIN) == 2
    assert logins_counted(services, "success") == 2


@pytest.mark.parametrize("case", ["wrong_password", "unknown_login", "inactive"])
async def test_failures_all_look_the_same_and_are_audited(client: Client, services: Services, case: str) -> None:
    user = await create_user(services, username="bob", active=case != "inactive")
    login_name = "nobody" if case == "unknown_login" else "bob"
    password = "not the password" if case == "wrong_password" else DEFAULT_PASSWORD
    response = await post_form(client, "/login", {"login": login_name, "password": password})
    assert response.status_code == 401
    assert WRONG in response.text
    assert 'value="' + login_name + '"' in response.text  # the login is kept, the password is not
    assert DEFAULT_PASSWORD not in response.text
    assert (await client.get("/api/v1/me")).status_code == 401
    actions = await audit_actions(services)
    assert actions == [AuditAction.LOGIN_FAILED]  # committed although the answer is an error
    if case != "unknown_login":
        assert await audit_actions(services, user.id) == [AuditAction.LOGIN_FAILED]
    assert logins_counted(services, "failure") == 1


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"login": "", "password": "x"}, "login", "Enter your username or email address."),
        ({"login": "ann", "password": ""}, "password", "Enter your password."),
        ({"login": "a" * 300, "password": "x"}, "login", "Use at most 254 characters."),
        ({"login": "ann\x00", "password": "x"}, "login", "without control characters"),
    ],
)
async def test_empty_or_oversized_fields(client: Client, form: dict[str, str], field: str, message: str) -> None:
    response = await post_form(client, "/login", form)
    assert response.status_code == 422
    assert message in response.text
    assert f'id="field-{field}-error"' in response.text


async def test_login_without_csrf_token_is_refused(client: Client, services: Services) -> None:
    await create_user(services, username="carol")
    await client.get("/login")
    response = await client.post("/login", data={"login": "carol", "password": DEFAULT_PASSWORD})
    assert response.status_code == 403
    assert (await client.get("/api/v1/me")).status_code == 401


async def test_session_id_changes_at_login_and_the_old_one_is_dead(client: Client, services: Services) -> None:
    await create_user(services, username="dave")
    await post_form(client, "/logout")  # an anonymous session (holding a flash message)
    before = client.cookies.get(SESSION_COOKIE)
    assert before and before != "null"
    response = await login(client, "dave", DEFAULT_PASSWORD)
    after = client.cookies.get(SESSION_COOKIE)
    assert after and after not in (before, "null")
    cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith(SESSION_COOKIE))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    assert (await client.get("/api/v1/me")).status_code == 200
    client.cookies.set(SESSION_COOKIE, before)
    assert (await client.get("/api/v1/me")).status_code == 401


async def test_logout_ends_the_session(client: Client, services: Services) -> None:
    user = await create_user(services, username="erin")
    await login(client, "erin", DEFAULT_PASSWORD)
    signed_in = client.cookies.get(SESSION_COOKIE)
    response = await post_form(client, "/logout")
    assert response.status_code == 303 and response.headers["location"] == "/"
    assert "You have signed out." in (await client.get("/")).text
    assert (await client.get("/api/v1/me")).status_code == 401
    client.cookies.set(SESSION_COOKIE, signed_in or "")
    assert (await client.get("/api/v1/me")).status_code == 401
    assert await audit_actions(services, user.id) == [AuditAction.LOGIN, AuditAction.LOGOUT]


async def test_deactivated_user_is_signed_out_on_the_next_request(client: Client, services: Services) -> None:
    user = await create_user(services, username="frank")
    await login(client, "frank", DEFAULT_PASSWORD)
    assert (await client.get("/account")).status_code == 200
    async with services.db.session(write=True) as session:
        await session.execute(update(User).where(User.id == user.id).values(is_active=False))
    await forget_user(services, user.id)
    assert (await client.get("/api/v1/me")).status_code == 401
    page = await client.get("/account")
    assert page.status_code == 303 and page.headers["location"].startswith("/login")


@pytest.mark.parametrize(
    ("next_value", "expected"),
    [
        ("/account", "/account"),
        ("/account?tab=email", "/account?tab=email"),
        ("//evil.example/steal", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("/ok\r\nSet-Cookie: x=1", "/"),
    ],
)
async def test_next_only_redirects_within_the_site(
    client: Client, services: Services, next_value: str, expected: str
) -> None:
    await create_user(services, username="gina")
    response = await post_form(client, "/login", {"login": "gina", "password": DEFAULT_PASSWORD, "next": next_value})
    assert response.status_code == 303
    assert response.headers["location"] == expected


async def test_login_page_carries_next_and_guard_redirect_returns_there(client: Client, services: Services) -> None:
    await create_user(services, username="hank")
    guarded = await client.get("/account")
    assert guarded.status_code == 303 and guarded.headers["location"] == "/login?next=/account"
    page = await client.get("/login?next=/account")
    assert 'name="next" value="/account"' in page.text
    hostile = await client.get("/login?next=//evil.example")
    assert "evil.example" not in hostile.text


async def test_sixth_attempt_on_one_account_is_refused(app: Litestar, client: Client, services: Services) -> None:
    await create_user(services, username="ivan")
    for number in range(5):  # from five different addresses: only the per-account window fills up
        async with browser_at(app, f"198.51.100.{number + 1}") as browser:
            response = await post_form(browser, "/login", {"login": "ivan", "password": "wrong password"})
            assert response.status_code == 401
    async with browser_at(app, "198.51.100.99") as browser:
        refused = await post_form(browser, "/login", {"login": "IVAN@example.test", "password": DEFAULT_PASSWORD})
        assert refused.status_code == 429
        assert "Too many sign-in attempts" in refused.text
        assert 0 < int(refused.headers["retry-after"]) <= 300
        assert refused.headers["ratelimit-limit"] == "5"
        assert refused.headers["ratelimit-remaining"] == "0"
        assert 0 < int(refused.headers["ratelimit-reset"]) <= 300
        assert (await browser.get("/api/v1/me")).status_code == 401  # even the right password was not tried
    assert logins_counted(services, "rate_limited") == 1
    # The address itself is not blocked: another account still signs in from it.
    await create_user(services, username="ivy")
    async with browser_at(app, "198.51.100.99") as browser:
        await login(browser, "ivy", DEFAULT_PASSWORD)


async def test_sixth_attempt_from_one_address_is_refused(client: Client, services: Services) -> None:
    for number in range(5):
        await create_user(services, username=f"victim{number}")
        response = await post_form(client, "/login", {"login": f"victim{number}", "password": "wrong password"})
        assert response.status_code == 401
    await create_user(services, username="jane")
    refused = await post_form(client, "/login", {"login": "jane", "password": DEFAULT_PASSWORD})
    assert refused.status_code == 429
    assert "Retry-After" in refused.headers and "RateLimit-Remaining" in refused.headers
    assert (await client.get("/api/v1/me")).status_code == 401


async def test_werkzeug_pbkdf2_hash_signs_in_and_is_replaced_by_argon2id(client: Client, services: Services) -> None:
    legacy = generate_password_hash("imported from super bot", method="pbkdf2:sha256")
    assert legacy.startswith("pbkdf2:sha256:")
    await create_user(services, username="kate", password_hash=legacy)
    bad = await post_form(client, "/login", {"login": "kate", "password": "imported from super bot!"})
    assert bad.status_code == 401
    assert (await get_user(services, "kate")).password_hash == legacy
    await login(client, "kate", "imported from super bot")
    rehashed = (await get_user(services, "kate")).password_hash
    assert rehashed.startswith("$argon2id$")
    await post_form(client, "/logout")
    await login(client, "kate", "imported from super bot")
