"""Steps the browser tests share."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.support.factories import DEFAULT_PASSWORD


def sign_in(page: Page, base_url: str, login: str, password: str = DEFAULT_PASSWORD) -> None:
    """Sign in through the login form and wait for the signed-in navigation (folded on phones)."""
    page.goto(f"{base_url}/login")
    page.get_by_label("Username or email").fill(login)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("form[action='/logout']")).to_have_count(1)


def url_of(base_url: str, path: str) -> re.Pattern[str]:
    """A pattern matching exactly ``base_url + path`` (with an optional query string)."""
    return re.compile(re.escape(base_url + path) + r"(\?.*)?$")
