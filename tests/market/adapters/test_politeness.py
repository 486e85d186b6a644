"""Adapters fetch only through the platform fetcher: robots.txt, per-host delay, URL policy, bot checks."""

from __future__ import annotations

import functools
import time
from decimal import Decimal

import pytest

from spyglass.core.fetch import Fetcher, PermanentFetchError
from spyglass.core.retry import RetryPolicy
from spyglass.market.adapters.base import AdapterError, SearchQuery
from spyglass.market.adapters.jsonld import ADAPTER as JSONLD
from spyglass.market.adapters.offerup import ADAPTER as OFFERUP
from spyglass.market.adapters.registry import UnknownAdapter, all_adapters, get_adapter
from tests.market.adapters.conftest import fetch_settings, page, serve
from tests.support.http_server import LocalHttpServer


def test_every_adapter_is_registered_and_declares_its_behaviour() -> None:
    names = [adapter.name for adapter in all_adapters()]
    assert names == sorted(
        ["jsonld", "rss", "recipe", "craigslist", "ebay", "ksl", "facebook", "mercari", "poshmark", "offerup"]
    )
    for adapter in all_adapters():
        assert adapter.label
        assert adapter.remote_filters <= {"keywords", "price", "condition", "location"}
        assert adapter.politeness.min_interval_seconds >= 60
        assert adapter.needs_browser is False
    with pytest.raises(UnknownAdapter, match="unknown marketplace 'amazon'; known: craigslist, ebay"):
        get_adapter("amazon")


async def test_robots_txt_is_honoured(server: LocalHttpServer, fetcher: Fetcher) -> None:
    server.robots_txt = "User-agent: *\nDisallow: /private\n"
    serve(server, "/private/bikes", page("shop-itemlist.html"))
    serve(server, "/bikes", page("shop-itemlist.html"))
    polite = functools.partial(fetcher.fetch, respect_robots=True)
    with pytest.raises(PermanentFetchError, match=r"disallowed by the site's robots\.txt"):
        await JSONLD.search(SearchQuery(options={"url": server.url("/private/bikes")}), polite)
    assert server.hits("/private/bikes") == 0
    assert len(await JSONLD.search(SearchQuery(options={"url": server.url("/bikes")}), polite)) == 3


async def test_per_host_delay_spaces_an_adapters_requests(server: LocalHttpServer) -> None:
    serve(server, "/search", page("offerup-search.html"))
    delay = 0.3
    async with Fetcher(fetch_settings(http_per_host_delay_seconds=delay), retry=RetryPolicy(attempts=1)) as slow:
        started = time.monotonic()
        for price in (100, 200, 300):
            query = SearchQuery(terms="ps5", price_max=Decimal(price), endpoint=server.origin)
            await OFFERUP.search(query, slow.fetch)
        elapsed = time.monotonic() - started
    assert server.hits("/search") == 3
    # the fetcher starts requests to one host at least `delay` apart: the third cannot start before 2 x delay
    assert elapsed >= 2 * delay


async def test_private_addresses_are_refused_without_the_allowlist(server: LocalHttpServer) -> None:
    serve(server, "/bikes", page("shop-itemlist.html"))
    async with Fetcher(fetch_settings(allow_private_targets=""), retry=RetryPolicy(attempts=1)) as strict:
        with pytest.raises(PermanentFetchError):
            await JSONLD.search(SearchQuery(options={"url": server.url("/bikes")}), strict.fetch)
    assert server.hits("/bikes") == 0


async def test_bot_check_page_is_a_transient_adapter_error(server: LocalHttpServer, fetcher: Fetcher) -> None:
    serve(
        server,
        "/search",
        "<html><body><h1>Pardon Our Interruption</h1><p>Please complete the captcha</p></body></html>",
    )
    with pytest.raises(AdapterError, match="bot check") as error:
        await OFFERUP.search(SearchQuery(terms="ps5", endpoint=server.origin), fetcher.fetch)
    assert error.value.transient is True


@pytest.mark.parametrize(
    ("html", "blocked"),
    [
        ("<html><head><title>Just a moment...</title></head><body>Checking your browser</body></html>", True),
        ("<html><head><title>Attention Required! | Cloudflare</title></head><body>x</body></html>", True),
        ("<html><body>We detected unusual traffic from your network.</body></html>", True),
        (
            "<title>Records</title><body>Access Denied (LP), $20 <form>reCAPTCHA</form></body>",
            False,
        ),
    ],
)
async def test_bot_checks_are_told_from_pages_that_mention_the_words(
    html: str, blocked: bool, server: LocalHttpServer, fetcher: Fetcher
) -> None:
    serve(server, "/records", html)
    query = SearchQuery(options={"url": server.url("/records")})
    if blocked:
        with pytest.raises(AdapterError, match="bot check"):
            await JSONLD.search(query, fetcher.fetch)
    else:
        assert await JSONLD.search(query, fetcher.fetch) == []
