"""ScanClient against a real loopback server: scope, budget, time limit, pacing, concurrency, auth, cookies."""

from __future__ import annotations

import asyncio
import itertools
import json
import time

import pytest

from spyglass.core.fetch import Fetcher, FetchError
from spyglass.core.retry import RetryPolicy
from spyglass.scanner.checks.base import BudgetExhausted
from spyglass.scanner.contract import ScanAuth, ScanPlan
from spyglass.scanner.http import OutOfScope, RequestPacer, ScanClient, Scope
from tests.scanner.pipeline.conftest import scan_settings
from tests.scanner.pipeline.site import PASSWORD, SESSION, USERNAME, DemoSite
from tests.support.http_server import LocalHttpServer, Reply, ServerRequest


def plan_for(server: LocalHttpServer, **overrides: object) -> ScanPlan:
    values: dict[str, object] = {"base_url": server.url("/"), "requests_per_second": 0, "concurrency": 4}
    return ScanPlan(**{**values, **overrides})  # type: ignore[arg-type]


def test_scope_same_origin_with_include_and_exclude_patterns() -> None:
    scope = Scope.from_plan(
        ScanPlan("http://shop.test:8080/", include_paths=("/app/", "/api/*/items"), exclude_paths=("/app/logout",))
    )
    assert scope.allows("http://shop.test:8080/app/cart")
    assert scope.allows("http://SHOP.test:8080/api/v2/items")
    assert not scope.allows("http://shop.test:8080/app/logout")
    assert not scope.allows("http://shop.test:8080/blog")
    assert not scope.allows("https://shop.test:8080/app/cart")  # another scheme is another origin
    assert not scope.allows("http://shop.test/app/cart")  # another port
    assert not scope.allows("http://evil.test:8080/app/cart")
    assert Scope.from_plan(ScanPlan("https://shop.test/")).allows("https://shop.test:443/x")


async def test_send_returns_the_exchange_with_headers_and_decoded_body(
    server: LocalHttpServer, fetcher: Fetcher
) -> None:
    async def page(request: ServerRequest) -> Reply:
        return Reply(200, "café".encode("latin-1"), {"Content-Type": "text/html; charset=iso-8859-1", "X-A": "1"})

    server.route("/page", page)
    client = ScanClient(plan_for(server), fetcher)
    exchange = await client.send("GET", server.url("/page"), params={"q": "a b"})
    assert exchange.status == 200
    assert exchange.body == "café"
    assert exchange.headers["x-a"] == "1"
    assert exchange.url == server.url("/page?q=a+b")
    assert server.requests[-1].query == {"q": "a b"}
    assert client.requests_sent == 1


async def test_post_form_data_and_raw_content(server: LocalHttpServer, fetcher: Fetcher) -> None:
    client = ScanClient(plan_for(server), fetcher)
    form = await client.send("POST", server.url("/echo"), data={"name": "<x>", "n": "1"})
    echoed = json.loads(form.body)
    assert echoed["body"] == "name=%3Cx%3E&n=1"
    assert echoed["headers"]["content-type"] == "application/x-www-form-urlencoded"
    assert form.request_body == "name=%3Cx%3E&n=1"
    raw = await client.send("PUT", server.url("/echo"), content="<a/>", headers={"Content-Type": "application/xml"})
    assert json.loads(raw.body)["body"] == "<a/>"
    assert json.loads(raw.body)["method"] == "PUT"


async def test_out_of_scope_urls_are_refused_without_a_request(server: LocalHttpServer, fetcher: Fetcher) -> None:
    client = ScanClient(plan_for(server, exclude_paths=("/ok",)), fetcher)
    with pytest.raises(OutOfScope):
        await client.send("GET", server.url("/ok"))
    with pytest.raises(OutOfScope):
        await client.send("GET", "http://localhost:1/elsewhere")
    assert server.requests == []
    assert client.requests_sent == 0


async def test_the_url_policy_still_applies(server: LocalHttpServer) -> None:
    # The same loopback server, but the policy does not allow private targets: the fetcher refuses.
    async with Fetcher(scan_settings(allow_private_targets=""), retry=RetryPolicy(attempts=1)) as strict:
        client = ScanClient(plan_for(server), strict)
        with pytest.raises(FetchError) as refused:
            await client.send("GET", server.url("/ok"))
    assert refused.value.reason == "refused"
    assert server.requests == []


async def test_redirects_are_followed_in_scope_only(server: LocalHttpServer, fetcher: Fetcher) -> None:
    client = ScanClient(plan_for(server), fetcher)
    inside = await client.send("GET", server.url("/redirect?to=/ok"), follow_redirects=True)
    assert (inside.status, inside.body, inside.url) == (200, "hello", server.url("/ok"))
    outside = await client.send("GET", server.url("/redirect?to=http://www.example.com/"), follow_redirects=True)
    assert outside.status == 302
    assert outside.redirect_location == "http://www.example.com/"
    not_followed = await client.send("GET", server.url("/redirect?to=/ok"))
    assert not_followed.status == 302 and not_followed.redirect_location == server.url("/ok")
    assert client.requests_sent == 4


async def test_request_budget_raises_budget_exhausted(server: LocalHttpServer, fetcher: Fetcher) -> None:
    client = ScanClient(plan_for(server, max_requests=3), fetcher)
    for _ in range(3):
        await client.send("GET", server.url("/ok"))
    with pytest.raises(BudgetExhausted):
        await client.send("GET", server.url("/ok"))
    assert server.hits("/ok") == 3
    assert client.stopped_reason == "budget"


async def test_time_limit_stops_requests_and_cuts_a_slow_one(server: LocalHttpServer, fetcher: Fetcher) -> None:
    client = ScanClient(plan_for(server, time_limit_seconds=0.3), fetcher)
    with pytest.raises(BudgetExhausted):
        await client.send("GET", server.url("/slow?seconds=3"))
    assert client.stopped_reason == "time limit"
    with pytest.raises(BudgetExhausted):
        await client.send("GET", server.url("/ok"))
    assert server.hits("/ok") == 0


async def test_stop_refuses_further_requests(server: LocalHttpServer, fetcher: Fetcher) -> None:
    client = ScanClient(plan_for(server), fetcher)
    client.stop("cancelled")
    with pytest.raises(BudgetExhausted, match="cancelled"):
        await client.send("GET", server.url("/ok"))
    assert server.requests == []


async def test_concurrency_cap(server: LocalHttpServer, fetcher: Fetcher) -> None:
    client = ScanClient(plan_for(server, concurrency=2), fetcher)
    await asyncio.gather(*(client.send("GET", server.url("/slow?seconds=0.1")) for _ in range(6)))
    assert server.max_in_flight == 2
    assert client.requests_sent == 6


async def test_request_pacer_spaces_request_starts() -> None:
    pacer = RequestPacer(20)
    starts: list[float] = []

    async def start_one() -> None:
        await pacer.wait()
        starts.append(time.monotonic())

    await asyncio.gather(*(start_one() for _ in range(5)))
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    assert len(gaps) == 4
    assert min(gaps) >= 0.05 - 0.002  # a sleep never ends early (beyond the clock's resolution)


async def test_unpaced_client_does_not_wait(server: LocalHttpServer, fetcher: Fetcher) -> None:
    client = ScanClient(plan_for(server, requests_per_second=0), fetcher)
    assert client._pacer.interval == 0
    await asyncio.gather(*(client.send("GET", server.url("/ok")) for _ in range(5)))
    assert server.hits("/ok") == 5


async def test_response_body_is_capped_not_refused(server: LocalHttpServer) -> None:
    async with Fetcher(scan_settings(scanner_http_max_body_bytes=2048), retry=RetryPolicy(attempts=1)) as small:
        client = ScanClient(plan_for(server), small)
        exchange = await client.send("GET", server.url("/big?bytes=10000&declared=1"))
    assert exchange.status == 200
    assert len(exchange.body) == 2048


async def test_cookie_and_header_auth_are_sent(server: LocalHttpServer, fetcher: Fetcher) -> None:
    cookie = ScanClient(plan_for(server, auth=ScanAuth(kind="cookie", cookie="sid=xyz; theme=dark")), fetcher)
    assert (
        json.loads((await cookie.send("GET", server.url("/echo"))).body)["headers"]["cookie"] == "sid=xyz; theme=dark"
    )
    header = ScanClient(
        plan_for(server, auth=ScanAuth(kind="header", header_name="Authorization", header_value="Bearer t")), fetcher
    )
    assert json.loads((await header.send("GET", server.url("/echo"))).body)["headers"]["authorization"] == "Bearer t"


async def test_form_login_keeps_the_session_cookie(site: DemoSite, server: LocalHttpServer, fetcher: Fetcher) -> None:
    auth = ScanAuth(kind="form", login_url=server.url("/login"), fields={"username": USERNAME, "password": PASSWORD})
    client = ScanClient(plan_for(server, auth=auth), fetcher)
    landed = await client.login()
    assert landed is not None and landed.url == server.url("/account")
    assert "Welcome alice" in landed.body
    assert client.cookies.values["session"] == SESSION
    account = await client.send("GET", server.url("/account"))
    assert account.status == 200
    # A logout response expires the cookie; the jar forgets it.
    await client.send("GET", server.url("/logout"))
    assert "session" not in client.cookies.values


async def test_recorded_exchanges_never_show_the_scans_credentials(
    site: DemoSite, server: LocalHttpServer, fetcher: Fetcher
) -> None:
    # Checks build findings from recorded exchanges: the login's password and the session cookie it
    # earned are sent for real but recorded redacted, so no finding, page or report can show them.
    auth = ScanAuth(kind="form", login_url=server.url("/login"), fields={"username": USERNAME, "password": PASSWORD})
    client = ScanClient(plan_for(server, auth=auth), fetcher)
    await client.login()
    posted = await client.send("POST", server.url("/login"), data={"username": USERNAME, "password": PASSWORD})
    assert "correct" not in posted.request_body and "[redacted]" in posted.request_body
    account = await client.send("GET", server.url("/account"))
    assert account.status == 200  # the real cookie went out
    assert SESSION not in json.dumps(dict(account.request_headers))
    assert account.request_headers["Cookie"] == "[redacted]"


async def test_form_login_with_wrong_password_gets_no_session(
    site: DemoSite, server: LocalHttpServer, fetcher: Fetcher
) -> None:
    auth = ScanAuth(kind="form", login_url=server.url("/login"), fields={"username": USERNAME, "password": "nope"})
    client = ScanClient(plan_for(server, auth=auth), fetcher)
    landed = await client.login()
    assert landed is not None and landed.status == 403
    assert "session" not in client.cookies.values
