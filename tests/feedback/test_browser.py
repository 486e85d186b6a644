"""In chromium: a user sends feedback from the page (a mistake first, then right), an admin finds it under
/admin/feedback, filters, answers; the user reads the answer. No CSP violation, no script error."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from spyglass.accounts.models import Role
from tests.browser.helpers import sign_in, url_of
from tests.support.factories import create_user
from tests.support.live_server import BrowserSession, LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_feedback_round_trip_in_the_browser(page_context: BrowserSession, live_server: LiveServer) -> None:
    base = live_server.url
    services = live_server.services
    live_server.call(lambda: create_user(services, username="root", role=Role.ADMIN))
    live_server.call(lambda: create_user(services, username="carol"))

    user = page_context.new_page()
    sign_in(user, base, "carol")
    user.goto(f"{base}/feedback?page_url=/account")
    expect(user.get_by_label("Page (optional)")).to_have_value("/account")
    user.get_by_label("Kind").select_option("bug")
    user.get_by_role("button", name="Send feedback").click()
    expect(user.get_by_role("alert")).to_contain_text("Write a message.")
    user.get_by_label("Message").fill("The <save> button does nothing.\nTried twice.")
    user.get_by_label("Rating (optional)").select_option("2")
    user.get_by_role("button", name="Send feedback").click()
    expect(user.get_by_role("status")).to_contain_text("Thank you! Your feedback was sent")
    expect(user.get_by_role("heading", level=1)).to_have_text("Bug report #1")
    expect(user.locator("p.message")).to_contain_text("The <save> button does nothing.")

    admin = page_context.new_page()
    sign_in(admin, base, "root")
    admin.goto(f"{base}/admin/feedback")
    admin.get_by_label("Kind").select_option("feature")
    admin.get_by_role("button", name="Filter").click()
    expect(admin.get_by_text("No feedback matches these filters.")).to_be_visible()
    admin.get_by_label("Kind").select_option("bug")
    admin.get_by_role("button", name="Filter").click()
    admin.get_by_role("link", name="The <save> button does nothing.", exact=False).click()
    expect(admin).to_have_url(url_of(base, "/admin/feedback/1"))
    admin.get_by_role("textbox", name="Answer").fill("Fixed in the next release, thanks!")
    admin.get_by_role("button", name="Send answer").click()
    expect(admin.get_by_role("status")).to_contain_text("Your answer was saved")
    expect(admin.locator("p.answer")).to_have_text("Fixed in the next release, thanks!")

    user.goto(f"{base}/feedback")
    user.get_by_role("link", name="The <save> button does nothing.", exact=False).click()
    expect(user.locator("p.answer")).to_have_text("Fixed in the next release, thanks!")
    expect(user.locator("[data-status]").first).to_have_text("Resolved")
