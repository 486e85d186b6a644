"""The fetching core shared by market searches and security scans.

``Fetcher.fetch(url)`` checks every URL and every redirect hop with the URL
policy, connects only to the addresses it approved, waits its turn per host
(a concurrency limit and a minimum delay between requests), caps the response
size, retries transient failures (network errors, 5xx, 408, 429 with
``Retry-After``) with backoff, and fails at once with ``PermanentFetchError``
for the rest. ``allowed_by_robots(url)`` answers from a robots.txt cache.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from spyglass.core.errors import SpyglassError
from spyglass.core.http_transport import PinnedNetworkBackend, build_client, pinned_to
from spyglass.core.retry import RetryPolicy, call_with_retries, retry_after_seconds
from spyglass.core.robots import RobotsCache
from spyglass.core.urlpolicy import HostNotFound, ResolvedTarget, UrlPolicy, UrlRefused

if TYPE_CHECKING:
    from spyglass.config import Settings

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
TRANSIENT_STATUSES = frozenset({408, 429})
_UNSET: Any = object()


class FetchError(SpyglassError):
    """A fetch failed; ``reason`` is one word (network, status, refused, too_large, redirects, robots)."""

    status_code = 502
    default_message = "The page could not be fetched."

    def __init__(self, message: str, *, url: str, reason: str, status: int | None = None) -> None:
        self.url = url
        self.reason = reason
        self.status = status
        super().__init__(message)


class TransientFetchError(FetchError):
    """Worth trying again later; ``retry_after`` is the server's requested pause in seconds, if it gave one."""

    def __init__(
        self, message: str, *, url: str, reason: str, status: int | None = None, retry_after: float | None = None
    ) -> None:
        self.retry_after = retry_after
        super().__init__(message, url=url, reason=reason, status=status)


class PermanentFetchError(FetchError):
    """Trying again will not help; the message says why in words a person understands."""


class ResponseTooLarge(PermanentFetchError):
    """The response body is larger than the configured cap."""


def is_transient(exc: BaseException) -> bool:
    """Whether a fetch failure is worth retrying."""
    return isinstance(exc, TransientFetchError)


@dataclass(frozen=True)
class FetchResult:
    """A fetched response: the final URL after redirects, its status, headers and (capped) body."""

    url: str
    status_code: int
    headers: httpx.Headers
    content: bytes
    encoding: str = "utf-8"
    redirects: tuple[str, ...] = ()
    address: str | None = None
    http_version: str = "HTTP/1.1"
    elapsed: float = 0.0
    truncated: bool = False
    target: ResolvedTarget | None = field(default=None, repr=False)

    @property
    def text(self) -> str:
        return self.content.decode(self.encoding, errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)


@dataclass
class _HostState:
    semaphore: asyncio.Semaphore
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    next_start: float = 0.0
    users: int = 0


class HostThrottle:
    """At most ``concurrency`` requests at once per host, and request starts at least ``delay`` seconds apart."""

    def __init__(self, *, concurrency: int, delay: float) -> None:
        self.concurrency = concurrency
        self.delay = delay
        self._hosts: dict[str, _HostState] = {}

    @asynccontextmanager
    async def slot(self, host: str) -> AsyncIterator[None]:
        """Wait for this host's turn; the request runs inside the block."""
        key = host.lower().rstrip(".")
        state = self._hosts.get(key)
        if state is None:
            self._prune()
            state = self._hosts[key] = _HostState(asyncio.Semaphore(self.concurrency))
        state.users += 1
        try:
            async with state.semaphore:
                if self.delay > 0:
                    async with state.lock:
                        wait = state.next_start - time.monotonic()
                        if wait > 0:
                            await asyncio.sleep(wait)
                        state.next_start = time.monotonic() + self.delay
                yield
        finally:
            state.users -= 1

    def _prune(self) -> None:
        if len(self._hosts) < 5000:
            return
        now = time.monotonic()
        for key in [k for k, s in self._hosts.items() if s.users == 0 and s.next_start <= now]:
            del self._hosts[key]


class Fetcher:
    """Fetches URLs for bots under the URL policy, per-host politeness, a size cap and the retry policy."""

    def __init__(
        self,
        settings: Settings,
        *,
        policy: UrlPolicy | None = None,
        retry: RetryPolicy | None = None,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        self.settings = settings
        self.policy = policy or UrlPolicy.from_settings(settings)
        self.retry = retry or RetryPolicy()
        self.backend = PinnedNetworkBackend()
        self.throttle = HostThrottle(
            concurrency=settings.http_per_host_concurrency, delay=settings.http_per_host_delay_seconds
        )
        self.robots = RobotsCache(self, user_agent=settings.user_agent)
        self._verify = verify
        self._clients: dict[str | None, httpx.AsyncClient] = {}

    def client(self, proxy: str | None = _UNSET) -> httpx.AsyncClient:
        """The shared client for ``proxy`` (default: the global ``http_proxy``), created on first use."""
        chosen = self.settings.http_proxy if proxy is _UNSET else proxy
        if chosen not in self._clients:
            self._clients[chosen] = build_client(
                user_agent=self.settings.user_agent,
                timeout=self.settings.http_timeout_seconds,
                backend=self.backend,
                proxy=chosen,
                verify=self._verify,
            )
        return self._clients[chosen]

    async def aclose(self) -> None:
        """Close every connection."""
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def allowed_by_robots(self, url: str) -> bool:
        """Whether the site's robots.txt lets Spyglass fetch ``url`` (cached per site)."""
        return await self.robots.allowed(url)

    async def fetch(
        self,
        url: str,
        *,
        method: str = "GET",
        headers: dict[str, str] | None = None,
        content: bytes | None = None,
        proxy: str | None = _UNSET,
        retry: RetryPolicy | None = _UNSET,
        raise_for_status: bool = True,
        follow_redirects: bool = True,
        respect_robots: bool = False,
        max_bytes: int | None = None,
        truncate: bool = False,
    ) -> FetchResult:
        """Fetch ``url``; raises ``PermanentFetchError`` or, after the retries, ``TransientFetchError``.

        ``raise_for_status=False`` returns any status (only network errors are retried);
        ``truncate=True`` returns the first ``max_bytes`` instead of failing on a larger body.
        """
        policy = self.retry if retry is _UNSET else retry

        async def attempt() -> FetchResult:
            return await self._fetch_once(
                url,
                method=method.upper(),
                headers=headers or {},
                content=content,
                proxy=proxy,
                raise_for_status=raise_for_status,
                follow_redirects=follow_redirects,
                respect_robots=respect_robots,
                max_bytes=max_bytes or self.settings.http_max_response_bytes,
                truncate=truncate,
            )

        if policy is None:
            return await attempt()
        return await call_with_retries(attempt, policy=policy, is_transient=is_transient)

    async def _fetch_once(
        self,
        url: str,
        *,
        method: str,
        headers: dict[str, str],
        content: bytes | None,
        proxy: str | None,
        raise_for_status: bool,
        follow_redirects: bool,
        respect_robots: bool,
        max_bytes: int,
        truncate: bool,
    ) -> FetchResult:
        current, redirects = url, list[str]()
        for _hop in range(self.settings.http_max_redirects + 1):
            target = await self.check(current)
            if respect_robots and not await self.allowed_by_robots(target.url):
                raise PermanentFetchError(
                    f"{target.url} is disallowed by the site's robots.txt.", url=target.url, reason="robots"
                )
            result = await self._send(
                target,
                method=method,
                headers=headers,
                content=content,
                proxy=proxy,
                max_bytes=max_bytes,
                truncate=truncate,
                redirects=tuple(redirects),
            )
            location = result.headers.get("location")
            if not (follow_redirects and result.status_code in REDIRECT_STATUSES and location):
                if raise_for_status:
                    _raise_for_status(result)
                return result
            try:
                next_url = str(httpx.URL(target.url).join(location).copy_with(fragment=None))
            except httpx.InvalidURL as exc:
                raise PermanentFetchError(
                    f"{target.url} redirected to an invalid URL ({location!r}).", url=target.url, reason="redirects"
                ) from exc
            if result.status_code == 303 or (result.status_code in (301, 302) and method == "POST"):
                method, content = "GET", None
            if _origin(next_url) != _origin(target.url):
                headers = {k: v for k, v in headers.items() if k.lower() not in ("authorization", "cookie")}
            redirects.append(target.url)
            current = next_url
        raise PermanentFetchError(
            f"{url} redirected more than {self.settings.http_max_redirects} times.", url=url, reason="redirects"
        )

    async def check(self, url: str) -> ResolvedTarget:
        """The URL policy's verdict as a fetch error (refused → permanent; DNS "try again" → transient)."""
        try:
            return await self.policy.check(url)
        except HostNotFound as exc:
            error_type = TransientFetchError if exc.transient else PermanentFetchError
            raise error_type(exc.message, url=url, reason="dns") from exc
        except UrlRefused as exc:
            raise PermanentFetchError(exc.message, url=url, reason="refused") from exc

    async def _send(
        self,
        target: ResolvedTarget,
        *,
        method: str,
        headers: dict[str, str],
        content: bytes | None,
        proxy: str | None,
        max_bytes: int,
        truncate: bool,
        redirects: tuple[str, ...],
    ) -> FetchResult:
        client = self.client(proxy)
        async with self.throttle.slot(target.host):
            started = time.monotonic()
            try:
                with pinned_to(target):
                    request = client.build_request(method, target.url, headers=headers, content=content)
                    response = await client.send(request, stream=True)
                try:
                    stream = response.extensions.get("network_stream")
                    peer = stream.get_extra_info("server_addr") if stream is not None else None
                    body, cut = await _read_capped(response, target.url, max_bytes, truncate)
                finally:
                    await response.aclose()
            except httpx.TimeoutException as exc:
                raise TransientFetchError(
                    f"{target.url} timed out ({type(exc).__name__}).", url=target.url, reason="network"
                ) from exc
            except httpx.ConnectError as exc:
                if _caused_by(exc, ssl.SSLCertVerificationError):
                    raise PermanentFetchError(
                        f"{target.url} has a TLS certificate that cannot be trusted: {exc}",
                        url=target.url,
                        reason="tls",
                    ) from exc
                raise TransientFetchError(
                    f"{target.url} could not be reached: {exc}", url=target.url, reason="network"
                ) from exc
            except httpx.TransportError as exc:
                raise TransientFetchError(
                    f"{target.url} could not be reached: {exc}", url=target.url, reason="network"
                ) from exc
        return FetchResult(
            url=target.url,
            status_code=response.status_code,
            headers=response.headers,
            content=body,
            encoding=response.encoding or "utf-8",
            redirects=redirects,
            address=str(peer[0]) if peer else None,
            http_version=response.http_version,
            elapsed=time.monotonic() - started,
            truncated=cut,
            target=target,
        )


async def _read_capped(response: httpx.Response, url: str, max_bytes: int, truncate: bool) -> tuple[bytes, bool]:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes and not truncate:
        raise ResponseTooLarge(_too_large(url, max_bytes), url=url, reason="too_large", status=response.status_code)
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > max_bytes:
            if truncate:
                chunks.append(chunk[: len(chunk) - (size - max_bytes)])
                return b"".join(chunks), True
            raise ResponseTooLarge(_too_large(url, max_bytes), url=url, reason="too_large", status=response.status_code)
        chunks.append(chunk)
    return b"".join(chunks), False


def _too_large(url: str, max_bytes: int) -> str:
    return f"{url} sent more than {max_bytes:,} bytes, the most Spyglass reads from one response."


def _raise_for_status(result: FetchResult) -> None:
    status = result.status_code
    if status < 400:
        return
    phrase = httpx.codes.get_reason_phrase(status)
    message = f"{result.url} answered {status} {phrase}."
    if status >= 500 or status in TRANSIENT_STATUSES:
        retry_after = retry_after_seconds(result.headers.get("retry-after"))
        raise TransientFetchError(message, url=result.url, reason="status", status=status, retry_after=retry_after)
    raise PermanentFetchError(message, url=result.url, reason="status", status=status)


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, kind):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _origin(url: str) -> tuple[str, str, int | None]:
    parsed = httpx.URL(url)
    return parsed.scheme, parsed.host, parsed.port
