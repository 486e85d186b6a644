"""The main pages load in chromium with no console error and no CSP violation, have a title, one
h1 and a main landmark; our script and htmx run, and htmx requests pass the CSRF check."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from spyglass.accounts.models import Role
from tests.browser.helpers import sign_in, url_of
from tests.support.factories import create_user
from tests.support.live_server import BrowserSession, LiveServer

pytestmark = pytest.mark.browser

PUBLIC_PAGES = ["/", "/login", "/register", "/password/forgot"]
USER_PAGES = ["/", "/account", "/account/tokens"]
ADMIN_PAGES = ["/admin", "/admin/users", "/admin/audit", "/admin/cache", "/admin/system", "/admin/engine"]


UNNAMED = """
() => {
  const named = (el) => (el.getAttribute('aria-label') || el.getAttribute('aria-labelledby') || '').trim()
    || (el.labels && [...el.labels].some(l => l.textContent.trim()))
    || (el.textContent || '').trim() || [...el.querySelectorAll('img[alt]')].some(i => i.alt.trim());
  const controls = 'input:not([type=hidden]), select, textarea, button, a[href]';
  return [...document.querySelectorAll(controls)].filter(el => !named(el)).map(el => el.outerHTML.slice(0, 120));
}
"""


def check_page(page: Page, url: str) -> None:
    response = page.goto(url)
    assert response is not None and response.status == 200, f"{url}: {response and response.status}"
    assert page.title().endswith(" · Spyglass"), url
    expect(page.locator("h1")).to_have_count(1)
    expect(page.get_by_role("main")).to_have_count(1)
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    # spyglass.js ran (it marks <html class="js">) and htmx loaded
    assert page.evaluate("() => document.documentElement.classList.contains('js')"), url
    assert page.evaluate("() => typeof window.htmx") == "object", url
    # every field, button and link has a name a screen reader can announce
    assert page.evaluate(UNNAMED) == [], url


def test_main_pages_have_no_console_errors_or_csp_violations(
    page_context: BrowserSession, live_server: LiveServer
) -> None:
    base = live_server.url
    admin = live_server.call(lambda: create_user(live_server.services, username="root", role=Role.ADMIN))

    visitor = page_context.new_page()
    for path in PUBLIC_PAGES:
        check_page(visitor, base + path)

    signed_in = page_context.new_page()
    sign_in(signed_in, base, "root")
    for path in [*USER_PAGES, *ADMIN_PAGES, f"/admin/users/{admin.id}"]:
        check_page(signed_in, base + path)

    signed_in.goto(base + "/api/docs")  # Swagger UI, served from our own vendored copy
    expect(signed_in.locator(".swagger-ui .info .title")).to_contain_text("Spyglass API")

    assert page_context.console_errors == []
    assert page_context.csp_violations == []
    assert page_context.page_errors == []


def test_an_inline_script_would_be_reported(page_context: BrowserSession, live_server: LiveServer) -> None:
    """The CSP listener works: a script injected by hand is blocked and recorded (then cleared)."""
    page = page_context.new_page()
    page.goto(live_server.url + "/")
    page.evaluate(
        "() => { const s = document.createElement('script'); s.textContent = 'window.bad = 1'; "
        "document.body.appendChild(s); }"
    )
    page.wait_for_timeout(100)

    assert page.evaluate("() => window.bad") is None
    assert page_context.csp_violations, "chromium did not report the blocked inline script"
    page_context.csp_violations.clear()


def test_htmx_requests_carry_the_csrf_header(page_context: BrowserSession, live_server: LiveServer) -> None:
    base = live_server.url
    live_server.call(lambda: create_user(live_server.services, username="hana"))
    page = page_context.new_page()
    sign_in(page, base, "hana")

    # A plain fetch without the token is refused ...
    status = page.evaluate("async () => (await fetch('/logout', {method: 'POST'})).status")
    assert status == 403
    page.reload()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    page_context.console_errors.clear()  # chromium logs the refused fetch

    # ... while htmx sends the token from <body hx-headers> and the POST goes through.
    with page.expect_response(lambda r: r.url.endswith("/logout")) as answer:
        page.evaluate("() => htmx.ajax('POST', '/logout', {target: 'body', swap: 'none'})")
    assert answer.value.status in (200, 303)
    page.goto(base + "/account")
    expect(page).to_have_url(url_of(base, "/login"))
