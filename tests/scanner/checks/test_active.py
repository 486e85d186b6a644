"""Active checks against the vulnerable app: exact ground truth per check, and how each proves what it reports.

The clean app is scanned by every check in test_full_scan.py."""

from __future__ import annotations

import pytest

from spyglass.scanner.checks.active import CHECKS as ACTIVE_CHECKS
from spyglass.scanner.checks.active.sqli import SqlInjectionCheck
from spyglass.scanner.checks.active.ssrf import SsrfCheck
from spyglass.scanner.checks.active.xss import injected_element, script_breakout
from tests.scanner.apps.server import AppServer, page
from tests.scanner.apps.vulnerable import VulnerableApp, expected_findings
from tests.scanner.checks.expectations import SQL_DELAY, active_checks, keys
from tests.scanner.checks.support import Harness, crawled, finding_key, scan_plan
from tests.support.http_server import Reply, ServerRequest

ACTIVE_IDS = [check.id for check in ACTIVE_CHECKS]
ACTIVE_ONLY = expected_findings("http") - expected_findings("http", active=False)


@pytest.mark.parametrize("check_id", ACTIVE_IDS)
async def test_each_active_check_reports_exactly_its_ground_truth(vulnerable: Harness, check_id: str) -> None:
    check = next(c for c in active_checks() if c.id == check_id)
    assert await vulnerable.keys(check) == keys(ACTIVE_ONLY, check_id)


async def test_sql_injection_techniques_and_timing_evidence(vulnerable: Harness) -> None:
    findings = await vulnerable.run(SqlInjectionCheck(delay=SQL_DELAY, rounds=3))
    by_path = {finding_key(f)[1]: f for f in findings}
    assert sorted(by_path) == ["/api/orders", "/api/ping", "/items", "/product"]
    assert by_path["/api/orders"].details["technique"] == "error-based"  # a JSON endpoint only a script names
    assert by_path["/product"].details["technique"] == "error-based"
    assert "[[sqlite3.OperationalError" in by_path["/product"].evidence
    assert by_path["/items"].details["technique"] == "boolean-based"
    timed = by_path["/api/ping"]
    assert timed.details["technique"] == "time-based"
    delayed, controls = timed.details["delayed_seconds"], timed.details["control_seconds"]
    assert len(delayed) == 4 and len(controls) == 4  # the screening request and three rounds, against controls
    assert min(delayed) >= max(controls) + SQL_DELAY / 2


async def test_ssrf_is_proved_by_the_callback_listener(vulnerable_app: VulnerableApp, vulnerable: Harness) -> None:
    [finding] = await vulnerable.run(SsrfCheck(wait_seconds=1.5))
    assert finding_key(finding) == ("ssrf", "/fetch", "url", "confirmed")
    assert finding.payload is not None and finding.payload in vulnerable_app.ssrf_requests
    assert finding.details["callback_peer"] == "127.0.0.1"
    assert "[[GET /spy" in finding.evidence


async def test_ssrf_is_skipped_without_a_listener(vulnerable_app: VulnerableApp) -> None:
    async with crawled(vulnerable_app.url("/"), plan=scan_plan(vulnerable_app.url("/"))) as harness:
        sent = harness.http.requests_sent
        assert await harness.run(SsrfCheck(wait_seconds=0.1)) == []
        assert harness.http.requests_sent == sent


async def test_stored_xss_names_where_the_payload_was_rendered(vulnerable: Harness) -> None:
    [finding] = await vulnerable.run(next(c for c in active_checks() if c.id == "xss-stored"))
    assert finding.method == "POST" and finding.details["rendered_on"].endswith("/guestbook")
    assert finding.payload is not None and f"[[{finding.payload}]]" in finding.response


def test_xss_confirmation_needs_an_executable_context() -> None:
    marker = "spy123"
    assert injected_element(f'<p><svg data-spy="{marker}" onload="alert(1)"></p>', marker) is not None
    assert injected_element(f"<p>&lt;svg data-spy=&quot;{marker}&quot; onload=alert(1)&gt;</p>", marker) is None
    assert injected_element(f'<p data-spy="{marker}">no handler</p>', marker) is None
    assert injected_element(f'<textarea><svg data-spy="{marker}" onload="x"></textarea>', marker) is None
    assert injected_element(f'<textarea></textarea><svg data-spy="{marker}" onload="x"></textarea>', marker)
    payload = f"';{marker}();//"
    assert script_breakout(f"<script>var a = '{payload}';</script>", payload)
    assert not script_breakout(f"<script>var a = '\\{payload}';</script>", payload)  # escaped quote
    assert not script_breakout(f"<p>{payload}</p>", payload)


async def test_active_checks_leave_delete_and_logout_endpoints_alone() -> None:
    app = AppServer()

    async def home(request: ServerRequest) -> Reply:
        forms = (
            '<form method="post" action="/account/delete"><input name="reason" value="bye"><button>Bye</button></form>'
            '<form method="post" action="/comments"><input name="comment_remove" value="1"><button>Go</button></form>'
            '<a href="/logout?next=/">log out</a><a href="/search?q=x">search</a>'
        )
        return page("Home", forms)

    async def anything(request: ServerRequest) -> Reply:
        return page("Done", "<p>ok</p>")

    app.route("/", home)
    for path in ("/account/delete", "/comments", "/logout", "/search"):
        app.route(path, anything)
    with app:
        async with crawled(app.url("/")) as harness:
            await harness.run(*active_checks())
    attacked = {request.path for request in app.requests if "spy" in request.target or b"spy" in request.body}
    assert attacked == {"/search"}
    assert not any(r.method == "POST" and r.path in {"/account/delete", "/comments"} for r in app.requests)
