"""The fetcher against real HTTP servers on loopback: pinning, redirects under the policy, caps, politeness, retries."""

from __future__ import annotations

import asyncio
import itertools
import ssl
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from spyglass.config import Settings
from spyglass.core.fetch import Fetcher, PermanentFetchError, ResponseTooLarge, TransientFetchError
from spyglass.core.retry import RetryPolicy, retry_after_seconds
from spyglass.core.urlpolicy import UrlPolicy
from tests.support.http_server import LocalHttpServer, Reply, ServerRequest, watch_network
from tests.support.servers import free_port

FAST_RETRY = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05)


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "allow_private_targets": "127.0.0.1/32",
        "http_per_host_delay_seconds": 0,
        "http_max_response_bytes": 100_000,
        "http_timeout_seconds": 5,
    }
    return Settings(_env_file=None, **{**values, **overrides})  # type: ignore[call-arg]


@pytest.fixture
def server() -> Iterator[LocalHttpServer]:
    with LocalHttpServer() as running:
        yield running


@pytest.fixture
async def fetcher() -> AsyncIterator[Fetcher]:
    async with Fetcher(make_settings(), retry=FAST_RETRY) as instance:
        yield instance


# -- pinning -----------------------------------------------------------------
async def test_fetch_sends_our_user_agent_and_connects_to_the_checked_address(
    server: LocalHttpServer, fetcher: Fetcher
) -> None:
    result = await fetcher.fetch(server.url("/echo"))
    assert result.status_code == 200
    assert result.json()["headers"]["user-agent"] == fetcher.settings.user_agent
    assert fetcher.settings.user_agent.startswith("Spyglass/")
    assert result.address == "127.0.0.1"
    assert list(fetcher.backend.connections) == [("127.0.0.1", server.port, "127.0.0.1")]


async def test_a_host_name_is_resolved_once_and_the_connection_goes_to_that_address(server: LocalHttpServer) -> None:
    async with Fetcher(make_settings(allow_private_targets="localhost"), retry=None) as fetcher:
        with watch_network() as network:
            result = await fetcher.fetch(f"http://localhost:{server.port}/echo")
    assert result.target is not None and result.target.addresses == ("127.0.0.1",)
    assert result.address == "127.0.0.1"
    assert list(fetcher.backend.connections) == [("localhost", server.port, "127.0.0.1")]
    assert result.json()["headers"]["host"] == f"localhost:{server.port}"  # Host stays the name
    assert network.lookups.count("localhost") == 1  # the policy's lookup; the connection did not resolve again


async def test_a_changed_dns_answer_after_the_check_is_never_used(server: LocalHttpServer) -> None:
    """DNS rebinding: the name answers loopback (allowed) for the check, then a private address."""
    answers = [["127.0.0.1"], ["10.0.0.1"]]

    async def rebinding_dns(host: str, port: int) -> list[str]:
        return answers.pop(0)

    policy = UrlPolicy(allow="127.0.0.1/32", resolver=rebinding_dns, dns_cache_seconds=0)
    url = f"http://rebind.invalid:{server.port}/ok"
    async with Fetcher(make_settings(), policy=policy, retry=None) as fetcher:
        with watch_network(forbid_lookups=("rebind.invalid",)) as network:
            first = await fetcher.fetch(url)
            with pytest.raises(PermanentFetchError) as refused:
                await fetcher.fetch(url)
    assert (first.status_code, first.address) == (200, "127.0.0.1")
    assert "rebind.invalid" not in network.lookups  # the connection never asked DNS itself
    assert refused.value.reason == "refused" and "10.0.0.1, a private-network address" in refused.value.message
    assert network.blocked == [] and set(network.connects) == {"127.0.0.1"}
    assert server.hits("/ok") == 1


async def test_the_client_cannot_connect_anywhere_the_policy_did_not_approve(
    server: LocalHttpServer, fetcher: Fetcher
) -> None:
    with pytest.raises(httpx.ConnectError, match="the URL policy did not approve it"):
        await fetcher.client().get(server.url("/ok"))
    assert server.requests == []


# -- redirects ----------------------------------------------------------------
async def test_redirects_are_followed_and_recorded(server: LocalHttpServer, fetcher: Fetcher) -> None:
    start = server.url("/redirect?to=/redirect%3Fto%3D/ok%26status%3D301")
    result = await fetcher.fetch(start)
    assert (result.status_code, result.text, result.url) == (200, "hello", server.url("/ok"))
    assert result.redirects == (start, server.url("/redirect?to=/ok&status=301"))


@pytest.mark.parametrize(
    ("destination", "words"),
    [
        ("http://10.0.0.1/admin", "10.0.0.1, a private-network address"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254, a cloud metadata address"),
        ("http://2130706433:{port}/ok", None),  # 127.0.0.1 spelled otherwise: allowed, it is the allowed address
        ("file:///etc/passwd", "only http and https"),
    ],
)
async def test_a_redirect_hop_to_a_refused_address_is_refused_without_connecting(
    server: LocalHttpServer, fetcher: Fetcher, destination: str, words: str | None
) -> None:
    url = server.url("/redirect?to=" + destination.format(port=server.port))
    with watch_network() as network:
        if words is None:
            assert (await fetcher.fetch(url)).url == server.url("/ok")
            return
        with pytest.raises(PermanentFetchError) as refused:
            await fetcher.fetch(url)
    assert refused.value.reason == "refused"
    assert words in refused.value.message
    assert server.hits("/redirect") == 1  # permanent: not retried
    assert network.blocked == [] and set(network.connects) == {"127.0.0.1"}
    assert {address for _, _, address in fetcher.backend.connections} == {"127.0.0.1"}


async def test_a_redirect_to_a_loopback_address_outside_the_allow_list_is_refused(
    server: LocalHttpServer, fetcher: Fetcher
) -> None:
    with LocalHttpServer("::1") as v6_server:
        with pytest.raises(PermanentFetchError, match=r"::1, a loopback address"):
            await fetcher.fetch(server.url(f"/redirect?to=http://[::1]:{v6_server.port}/ok"))
        assert v6_server.requests == []  # it was listening, and nobody came


async def test_redirect_loops_stop_at_the_limit(server: LocalHttpServer) -> None:
    async def loop(request: ServerRequest) -> Reply:
        return Reply(307, headers={"Location": "/loop"})

    server.route("/loop", loop)
    async with Fetcher(make_settings(http_max_redirects=3), retry=FAST_RETRY) as fetcher:
        with pytest.raises(PermanentFetchError, match="redirected more than 3 times") as failed:
            await fetcher.fetch(server.url("/loop"))
    assert failed.value.reason == "redirects"
    assert server.hits("/loop") == 4


# -- size cap -------------------------------------------------------------------
@pytest.mark.parametrize("declared", ["0", "1"])
async def test_a_body_larger_than_the_cap_is_refused(server: LocalHttpServer, fetcher: Fetcher, declared: str) -> None:
    with pytest.raises(ResponseTooLarge, match="sent more than 100,000 bytes") as failed:
        await fetcher.fetch(server.url(f"/big?bytes=400000&declared={declared}"))
    assert failed.value.reason == "too_large"
    assert server.hits("/big") == 1
    small = await fetcher.fetch(server.url(f"/big?bytes=100000&declared={declared}"))
    assert len(small.content) == 100_000 and not small.truncated
    cut = await fetcher.fetch(server.url(f"/big?bytes=400000&declared={declared}"), truncate=True)
    assert len(cut.content) == 100_000 and cut.truncated


# -- politeness -----------------------------------------------------------------
async def test_per_host_concurrency_never_exceeds_the_limit(server: LocalHttpServer) -> None:
    settings = make_settings(http_per_host_concurrency=2, allow_private_targets="127.0.0.1/32,localhost")
    async with Fetcher(settings, retry=None) as fetcher:
        await asyncio.gather(*(fetcher.fetch(server.url("/slow?seconds=0.2")) for _ in range(6)))
        assert server.max_in_flight == 2
        server.max_in_flight = 0
        by_ip = [fetcher.fetch(server.url("/slow?seconds=0.2")) for _ in range(4)]
        by_name = [fetcher.fetch(f"http://localhost:{server.port}/slow?seconds=0.2") for _ in range(4)]
        await asyncio.gather(*by_ip, *by_name)
    assert server.max_in_flight == 4  # two hosts, two each


async def test_requests_to_one_host_start_at_least_the_delay_apart(server: LocalHttpServer) -> None:
    delay = 0.25
    settings = make_settings(http_per_host_delay_seconds=delay, http_per_host_concurrency=4)
    async with Fetcher(settings, retry=None) as fetcher:
        await asyncio.gather(*(fetcher.fetch(server.url("/ok")) for _ in range(4)))
    arrivals = sorted(server.arrivals("/ok"))
    gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
    assert len(gaps) == 3
    assert min(gaps) >= delay - 0.05, gaps  # tolerance: arrival is stamped by another thread


# -- retries --------------------------------------------------------------------
async def test_429_waits_for_retry_after_then_succeeds(server: LocalHttpServer, fetcher: Fetcher) -> None:
    result = await fetcher.fetch(server.url("/flaky?fail=1&status=429&retry_after=1&key=429"))
    assert result.text == "recovered"
    first, second = server.arrivals("/flaky")
    assert second - first >= 0.95  # the backoff alone would be ~10 ms


async def test_a_retry_after_longer_than_the_policy_allows_is_handed_back(server: LocalHttpServer) -> None:
    async with Fetcher(make_settings(), retry=RetryPolicy(attempts=5, max_retry_after=5)) as fetcher:
        with pytest.raises(TransientFetchError) as failed:
            await fetcher.fetch(server.url("/status/429?retry_after=3600"))
    assert (failed.value.status, failed.value.retry_after) == (429, 3600.0)
    assert server.hits("/status/429") == 1


async def test_503_then_200_is_retried_until_it_works(server: LocalHttpServer, fetcher: Fetcher) -> None:
    result = await fetcher.fetch(server.url("/flaky?fail=2&key=503"))
    assert (result.status_code, result.text) == (200, "recovered")
    assert server.hits("/flaky") == 3


async def test_transient_errors_give_up_after_the_attempts(server: LocalHttpServer) -> None:
    async with Fetcher(make_settings(), retry=RetryPolicy(attempts=2, base_delay=0.01)) as fetcher:
        with pytest.raises(TransientFetchError, match="503 Service Unavailable") as failed:
            await fetcher.fetch(server.url("/flaky?fail=5&key=gives-up"))
    assert failed.value.status == 503
    assert server.hits("/flaky") == 2


async def test_404_fails_at_once(server: LocalHttpServer, fetcher: Fetcher) -> None:
    with pytest.raises(PermanentFetchError, match="answered 404 Not Found") as failed:
        await fetcher.fetch(server.url("/status/404"))
    assert (failed.value.status, failed.value.reason) == (404, "status")
    assert server.hits("/status/404") == 1
    plain = await fetcher.fetch(server.url("/status/404"), raise_for_status=False)
    assert plain.status_code == 404


async def test_connection_failures_are_retried_then_reported(fetcher: Fetcher) -> None:
    port = free_port()  # nothing listens there
    with pytest.raises(TransientFetchError, match="could not be reached") as failed:
        await fetcher.fetch(f"http://127.0.0.1:{port}/")
    assert failed.value.reason == "network"
    assert len(fetcher.backend.connections) == 3


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    now = time.time()
    assert retry_after_seconds("120") == 120.0
    http_date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(now + 30))
    assert 28 <= (retry_after_seconds(http_date, now=now) or 0) <= 31
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None


# -- what one shared client must not do -------------------------------------------
async def test_cookies_never_carry_over_between_requests(server: LocalHttpServer, fetcher: Fetcher) -> None:
    async def set_cookie(request: ServerRequest) -> Reply:
        return Reply(200, b"ok", {"Set-Cookie": "session=alice; Path=/"})

    server.route("/login", set_cookie)
    await fetcher.fetch(server.url("/login"))
    echoed = await fetcher.fetch(server.url("/echo"))
    assert "cookie" not in echoed.json()["headers"]


async def test_a_proxy_receives_the_request_and_the_policy_still_applies(server: LocalHttpServer) -> None:
    async with Fetcher(make_settings(http_proxy=server.origin), retry=None) as fetcher:
        with watch_network() as network:
            result = await fetcher.fetch("http://93.184.215.14/ok")
            with pytest.raises(PermanentFetchError, match="private-network"):
                await fetcher.fetch("http://10.0.0.1/ok")
    assert result.text == "hello"
    assert [r.target for r in server.requests] == ["http://93.184.215.14/ok"]
    assert set(network.connects) == {"127.0.0.1"} and network.blocked == []


async def test_a_per_call_proxy_overrides_the_global_one(server: LocalHttpServer, fetcher: Fetcher) -> None:
    with LocalHttpServer() as other_proxy:
        await fetcher.fetch("http://93.184.215.14/ok", proxy=other_proxy.origin)
        assert [r.target for r in other_proxy.requests] == ["http://93.184.215.14/ok"]
    assert server.requests == []


# -- TLS -----------------------------------------------------------------------------
def _make_certificates(folder: Path) -> tuple[Path, Path, Path]:
    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=folder)

    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "1", "-subj", "/CN=Spyglass Test CA")
    openssl("req", *ec, "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=localhost")
    (folder / "san.ext").write_text("subjectAltName=DNS:localhost\n")
    openssl(
        "x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "leaf.pem", "-days", "1", "-extfile", "san.ext",
    )  # fmt: skip
    return folder / "ca.pem", folder / "leaf.pem", folder / "leaf.key"


async def test_tls_uses_the_host_name_for_sni_and_verification_while_connecting_to_the_pinned_ip(
    tmp_path: Path,
) -> None:
    ca, cert, key = _make_certificates(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    names: list[str | None] = []
    server_tls.sni_callback = lambda sock, name, ctx: names.append(name)  # type: ignore[assignment,misc,func-returns-value]
    settings = make_settings(allow_private_targets="localhost,127.0.0.1/32")
    with LocalHttpServer(tls=server_tls) as server:
        async with Fetcher(settings, retry=FAST_RETRY, verify=ssl.create_default_context(cafile=ca)) as fetcher:
            result = await fetcher.fetch(f"https://localhost:{server.port}/ok")
            with pytest.raises(PermanentFetchError, match="TLS certificate that cannot be trusted") as failed:
                await fetcher.fetch(f"https://127.0.0.1:{server.port}/ok")
    assert (result.text, result.address) == ("hello", "127.0.0.1")
    assert names[0] == "localhost"
    assert failed.value.reason == "tls"
    assert server.hits("/ok") == 1
