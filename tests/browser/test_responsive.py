"""The main pages at desktop width and at 375 px: nothing wider than the screen, the navigation
folds behind a Menu button on phones. Screenshots go to SPYGLASS_SCREENSHOTS (or the test's tmp
folder) for a person to look at."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from spyglass.accounts.models import Role
from tests.browser.helpers import sign_in
from tests.support.factories import create_user
from tests.support.live_server import DESKTOP, PHONE, BrowserSession, LiveServer

pytestmark = pytest.mark.browser

VISITOR_PAGES = {"home": "/", "login": "/login", "register": "/register", "not-found": "/no/such/page"}


def shots_folder(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("SPYGLASS_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def overflow(page: Page) -> int:
    """How many pixels the page is wider than the window (scrolls sideways), 0 when it fits."""
    return max(0, int(page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")))


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_main_pages_fit_the_screen(
    page_context: BrowserSession, live_server: LiveServer, tmp_path: Path, viewport: dict[str, int]
) -> None:
    base = live_server.url
    folder = shots_folder(tmp_path)
    label = f"{viewport['width']}px"
    target = live_server.call(lambda: create_user(live_server.services, username="root", role=Role.ADMIN))

    too_wide: dict[str, int] = {}
    visitor = page_context.new_page(viewport=viewport)  # type: ignore[arg-type]
    for name, path in VISITOR_PAGES.items():
        visitor.goto(base + path)
        if excess := overflow(visitor):
            too_wide[name] = excess
        visitor.screenshot(path=folder / f"{name}-{label}.png", full_page=True)

    admin = page_context.new_page(viewport=viewport)  # type: ignore[arg-type]
    sign_in(admin, base, "root")
    pages = {
        "overview": "/",
        "account": "/account",
        "tokens": "/account/tokens",
        "admin": "/admin",
        "admin-users": "/admin/users",
        "admin-user": f"/admin/users/{target.id}",
        "admin-audit": "/admin/audit",
        "admin-cache": "/admin/cache",
        "admin-system": "/admin/system",
        "admin-engine": "/admin/engine",
    }
    for name, path in pages.items():
        admin.goto(base + path)
        if excess := overflow(admin):
            too_wide[name] = excess
        admin.screenshot(path=folder / f"{name}-{label}.png", full_page=True)
    assert not too_wide, f"pages wider than {label} (px): {too_wide}"
    page_context.console_errors.clear()  # the 404 page is logged as a failed load


def test_phone_navigation_folds_behind_the_menu_button(page_context: BrowserSession, live_server: LiveServer) -> None:
    page = page_context.new_page(viewport=PHONE)
    page.goto(live_server.url + "/")
    menu = page.get_by_role("button", name="Menu")
    sign_in_link = page.get_by_role("navigation", name="Main").get_by_role("link", name="Sign in")

    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(sign_in_link).to_be_hidden()
    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    expect(sign_in_link).to_be_visible()
    page.keyboard.press("Escape")
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(menu).to_be_focused()

    desktop = page_context.new_page(viewport=DESKTOP)
    desktop.goto(live_server.url + "/")
    expect(desktop.get_by_role("button", name="Menu")).to_be_hidden()
    expect(desktop.get_by_role("navigation", name="Main").get_by_role("link", name="Sign in")).to_be_visible()
