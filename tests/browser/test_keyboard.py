"""Keyboard-only use: the skip link, visible focus, and the login form filled and sent with Tab/Enter."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.helpers import url_of
from tests.support.factories import DEFAULT_PASSWORD, create_user
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.browser

ACTIVE = "() => { const e = document.activeElement; return e.id || e.getAttribute('href') || e.tagName; }"


def focused(page: Page) -> str:
    return str(page.evaluate(ACTIVE))


def test_skip_link_is_first_and_jumps_to_the_content(page: Page, live_server: LiveServer) -> None:
    page.goto(live_server.url + "/")
    skip = page.get_by_role("link", name="Skip to content")
    box = skip.bounding_box()
    assert box is None or box["y"] + box["height"] <= 0  # off screen until focused

    page.keyboard.press("Tab")
    expect(skip).to_be_focused()
    box = skip.bounding_box()
    assert box is not None and box["y"] >= 0  # now on screen
    outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"  # a visible focus ring

    page.keyboard.press("Enter")
    assert focused(page) == "main"
    page.keyboard.press("Tab")  # the next stop is inside the content, past the navigation
    assert page.evaluate("() => document.getElementById('main').contains(document.activeElement)")
    assert focused(page) == "/register"


def test_login_form_with_the_keyboard_only(page: Page, live_server: LiveServer) -> None:
    live_server.call(lambda: create_user(live_server.services, username="kim"))
    page.goto(live_server.url + "/login")

    assert focused(page) == "field-login"  # autofocus puts the cursor in the first field
    page.keyboard.type("kim")
    page.keyboard.press("Tab")
    assert focused(page) == "field-password"
    page.keyboard.type(DEFAULT_PASSWORD)
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Sign in")).to_be_focused()
    ring = page.evaluate(
        "() => { const s = getComputedStyle(document.activeElement); return [s.outlineStyle, s.outlineWidth]; }"
    )
    assert ring == ["solid", "3px"]

    page.keyboard.press("Shift+Tab")  # back in the password field, Enter submits the form
    page.keyboard.press("Enter")
    expect(page).to_have_url(url_of(live_server.url, "/"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Welcome back, kim")


def test_wrong_password_error_is_reachable_by_keyboard(page: Page, live_server: LiveServer) -> None:
    page.goto(live_server.url + "/login")
    page.keyboard.press("Enter")  # empty form sent from the first field

    summary = page.locator(".errors-summary")
    expect(summary).to_be_visible()
    expect(page.get_by_label("Username or email")).to_have_attribute("aria-invalid", "true")
    summary.get_by_role("link").first.focus()
    page.keyboard.press("Enter")  # the summary's link moves to the field
    assert page.evaluate("() => location.hash") == "#field-login"
