"""An admin deactivates a signed-in user through /admin/users/{id}: the user's very next page
load is a signed-out one, and signing in again is refused."""

from __future__ import annotations

import pytest
from playwright.sync_api import Dialog, expect

from spyglass.accounts.models import Role
from tests.browser.helpers import sign_in, url_of
from tests.support.factories import DEFAULT_PASSWORD, create_user
from tests.support.live_server import BrowserSession, LiveServer

pytestmark = pytest.mark.browser


def test_deactivated_user_is_signed_out_at_once_and_cannot_sign_in(
    page_context: BrowserSession, live_server: LiveServer
) -> None:
    base = live_server.url
    services = live_server.services
    live_server.call(lambda: create_user(services, username="root", role=Role.ADMIN))
    bob = live_server.call(lambda: create_user(services, username="bob"))

    bob_page = page_context.new_page()
    sign_in(bob_page, base, "bob")
    bob_page.goto(base + "/account")
    expect(bob_page.get_by_role("heading", level=1)).to_have_text("Your account")

    admin = page_context.new_page()
    sign_in(admin, base, "root")
    admin.get_by_role("navigation", name="Main").get_by_role("link", name="Admin").click()
    admin.get_by_role("navigation", name="Admin").get_by_role("link", name="Users").click()
    admin.get_by_role("link", name="bob", exact=True).click()
    expect(admin).to_have_url(url_of(base, f"/admin/users/{bob.id}"))

    # The confirmation guards the button: dismissing it changes nothing.
    questions: list[str] = []

    def answer(accept: bool) -> None:
        def handle(dialog: Dialog) -> None:
            questions.append(dialog.message)
            dialog.accept() if accept else dialog.dismiss()

        admin.once("dialog", handle)

    answer(False)
    admin.get_by_role("button", name="Deactivate").click()
    assert questions and "Deactivate bob?" in questions[0]
    expect(admin.get_by_role("button", name="Deactivate")).to_be_visible()
    bob_page.reload()
    expect(bob_page.get_by_role("heading", level=1)).to_have_text("Your account")

    answer(True)
    admin.get_by_role("button", name="Deactivate").click()
    expect(admin.get_by_role("button", name="Reactivate")).to_be_visible()
    expect(admin.locator(".badge-inactive")).to_have_text("deactivated")

    # Bob's next request is anonymous: the account page sends him to sign in.
    bob_page.reload()
    expect(bob_page).to_have_url(url_of(base, "/login"))
    expect(bob_page.get_by_role("link", name="Sign in")).to_be_visible()

    bob_page.get_by_label("Username or email").fill("bob")
    bob_page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    bob_page.get_by_role("button", name="Sign in").click()
    expect(bob_page.get_by_role("alert").first).to_be_visible()
    expect(bob_page).to_have_url(url_of(base, "/login"))
    expect(bob_page.get_by_role("button", name="Sign out")).to_have_count(0)
    bob_page.goto(base + "/account")
    expect(bob_page).to_have_url(url_of(base, "/login"))
