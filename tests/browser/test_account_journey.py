"""A visitor registers, verifies the address from the email aiosmtpd received, signs in, changes a
setting that stays saved, and signs out — all through the pages, in chromium."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.helpers import url_of
from tests.support.live_server import LiveServer
from tests.support.smtp import SmtpServer, first_link

pytestmark = pytest.mark.browser

PASSWORD = "plum-kettle-harbour-42"


def test_register_verify_sign_in_change_settings_sign_out(
    page: Page, live_server: LiveServer, smtp_server: SmtpServer
) -> None:
    base = live_server.url
    page.goto(base + "/")
    page.get_by_role("link", name="Create account").click()
    expect(page).to_have_title("Create an account · Spyglass")

    # A mistake first: the form comes back with the message tied to the field.
    page.get_by_label("Username").fill("ann")
    page.get_by_label("Email").fill("ann@example.com")
    page.get_by_label("Password", exact=True).fill("short")
    page.get_by_label("Repeat the password").fill("short")
    page.get_by_role("button", name="Create account").click()
    password = page.get_by_label("Password", exact=True)
    expect(password).to_have_attribute("aria-invalid", "true")
    error_id = (password.get_attribute("aria-describedby") or "").split()[-1]
    expect(page.locator(f"#{error_id}")).to_contain_text("characters")
    expect(page.get_by_role("alert")).to_be_visible()
    expect(page.get_by_label("Username")).to_have_value("ann")  # kept
    expect(password).to_have_value("")  # never echoed back

    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Repeat the password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()

    # The verification link arrives by SMTP and points at this server.
    link = first_link(smtp_server.wait_for_message(to="ann@example.com"))
    assert link.startswith(base + "/verify-email?token=")
    page.goto(link)
    page.get_by_role("button", name="Verify my email").click()
    expect(page).to_have_url(url_of(base, "/login"))
    expect(page.locator(".flash-success")).to_contain_text("verified")

    page.get_by_label("Username or email").fill("ann")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(url_of(base, "/"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Welcome back, ann")

    nav = page.get_by_role("navigation", name="Main")
    nav.get_by_role("link", name="Account").click()
    expect(page).to_have_url(url_of(base, "/account"))
    expect(nav.get_by_role("link", name="Account")).to_have_attribute("aria-current", "page")
    expect(page.get_by_text("Verified", exact=True)).to_be_visible()

    page.get_by_label("Display name").fill("Ann Example")
    page.get_by_label("Rows per page").fill("50")
    page.get_by_label("Email me notifications").uncheck()
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator(".flash-success")).to_have_text("Your settings are saved.")

    page.reload()  # a fresh read, not the page the form re-rendered
    expect(page.get_by_label("Display name")).to_have_value("Ann Example")
    expect(page.get_by_label("Rows per page")).to_have_value("50")
    expect(page.get_by_label("Email me notifications")).not_to_be_checked()
    expect(page.locator(".flash")).to_have_count(0)  # a flash is shown once

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(url_of(base, "/"))
    expect(page.locator(".flash-success")).to_have_text("You have signed out.")
    expect(nav.get_by_role("link", name="Sign in")).to_be_visible()

    page.goto(base + "/account")
    expect(page).to_have_url(url_of(base, "/login"))
    assert "next=/account" in page.url
