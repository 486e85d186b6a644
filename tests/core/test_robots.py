"""robots.txt: rules respected, fetched once per site and cached, and Google's rules for missing or failing files."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest

from spyglass.core.fetch import Fetcher, PermanentFetchError
from spyglass.core.robots import RobotsCache
from tests.core.test_fetch import FAST_RETRY, make_settings
from tests.support.http_server import LocalHttpServer
from tests.support.servers import free_port


@pytest.fixture
def server() -> Iterator[LocalHttpServer]:
    with LocalHttpServer() as running:
        yield running


@pytest.fixture
async def fetcher() -> AsyncIterator[Fetcher]:
    async with Fetcher(make_settings(), retry=FAST_RETRY) as instance:
        yield instance


async def test_disallowed_paths_are_refused_and_robots_txt_is_fetched_once(
    server: LocalHttpServer, fetcher: Fetcher
) -> None:
    server.robots_txt = "User-agent: *\nDisallow: /private\n"
    checks = await asyncio.gather(
        *(fetcher.allowed_by_robots(server.url(path)) for path in ["/ok", "/private/page", "/ok?x=1"] * 5)
    )
    assert checks == [True, False, True] * 5
    with pytest.raises(PermanentFetchError, match=r"disallowed by the site's robots\.txt") as refused:
        await fetcher.fetch(server.url("/private/page"), respect_robots=True)
    assert refused.value.reason == "robots"
    assert (await fetcher.fetch(server.url("/ok"), respect_robots=True)).text == "hello"
    assert server.hits("/robots.txt") == 1
    assert server.hits("/private/page") == 0


async def test_rules_for_our_user_agent_win_over_the_wildcard(server: LocalHttpServer, fetcher: Fetcher) -> None:
    server.robots_txt = "User-agent: Spyglass\nDisallow: /\n\nUser-agent: *\nAllow: /\n"
    assert not await fetcher.allowed_by_robots(server.url("/ok"))


@pytest.mark.parametrize(("status", "allowed"), [(404, True), (410, True), (403, True), (500, False), (503, False)])
async def test_missing_robots_allows_and_a_failing_one_disallows(
    server: LocalHttpServer, fetcher: Fetcher, status: int, allowed: bool
) -> None:
    server.robots_txt = "User-agent: *\nAllow: /\n"
    server.robots_status = status
    assert await fetcher.allowed_by_robots(server.url("/ok")) is allowed
    assert server.hits("/robots.txt") == 1  # not retried


async def test_unreachable_robots_allows(fetcher: Fetcher) -> None:
    assert await fetcher.allowed_by_robots(f"http://127.0.0.1:{free_port()}/page")


async def test_rules_expire_after_the_ttl_and_errors_sooner(server: LocalHttpServer, fetcher: Fetcher) -> None:
    server.robots_txt = "User-agent: *\nDisallow: /\n"
    robots = RobotsCache(fetcher, user_agent="Spyglass/1.0", ttl=1.0, error_ttl=0.3)
    assert not await robots.allowed(server.url("/ok"))
    server.robots_txt = "User-agent: *\nAllow: /\n"
    assert not await robots.allowed(server.url("/ok"))  # still cached
    await asyncio.sleep(1.05)
    assert await robots.allowed(server.url("/ok"))
    assert server.hits("/robots.txt") == 2
    server.robots_status = 503
    await asyncio.sleep(1.05)
    assert not await robots.allowed(server.url("/ok"))
    server.robots_status = 200
    await asyncio.sleep(0.35)
    assert await robots.allowed(server.url("/ok"))  # the 5xx verdict was kept only for error_ttl
    assert server.hits("/robots.txt") == 4


async def test_robots_of_a_refused_site_is_never_fetched(fetcher: Fetcher) -> None:
    with LocalHttpServer("::1") as v6_server:
        v6_server.robots_txt = "User-agent: *\nDisallow: /\n"
        url = f"http://[::1]:{v6_server.port}/page"
        assert await fetcher.allowed_by_robots(url)  # no answer from robots; the fetch itself is refused
        with pytest.raises(PermanentFetchError, match="loopback"):
            await fetcher.fetch(url, respect_robots=True)
        assert v6_server.requests == []
