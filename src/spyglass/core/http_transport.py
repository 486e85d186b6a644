"""The httpx client the fetcher uses, with connections pinned to the addresses the URL policy approved.

``PinnedNetworkBackend`` is the httpcore network backend of the client's pool:
it opens a TCP connection only to an address of the ``ResolvedTarget`` set
with ``pinned_to(target)`` for the same host and port (TLS still uses the host
name for SNI and certificate checks, because httpcore passes the URL's host to
``start_tls``). It never resolves a name itself, so a DNS answer that changes
after the check (rebinding) is never used, and a request the policy did not
approve cannot open a connection at all. The one exception is the configured
proxy, which the operator chose.
"""

from __future__ import annotations

import ssl
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from http.cookiejar import Cookie, CookieJar
from typing import Any

import httpcore
import httpx

from spyglass.core.urlpolicy import ResolvedTarget

_pinned_target: ContextVar[ResolvedTarget | None] = ContextVar("spyglass_pinned_target", default=None)

DEFAULT_LIMITS = httpx.Limits(max_connections=500, max_keepalive_connections=100, keepalive_expiry=30.0)


@contextmanager
def pinned_to(target: ResolvedTarget) -> Iterator[None]:
    """Within this block, connections to ``target.host`` go to ``target.addresses`` only."""
    token = _pinned_target.set(target)
    try:
        yield
    finally:
        _pinned_target.reset(token)


class PinnedNetworkBackend(httpcore.AsyncNetworkBackend):
    """Connects only to policy-approved addresses (or the operator's proxy); remembers recent connections."""

    def __init__(
        self, *, proxy_origins: Iterable[tuple[str, int]] = (), inner: httpcore.AsyncNetworkBackend | None = None
    ):
        self._inner = inner or httpcore.AnyIOBackend()
        self._proxy_origins = {(host.lower(), port) for host, port in proxy_origins}
        self.connections: deque[tuple[str, int, str]] = deque(maxlen=1000)

    def allow_proxy(self, host: str, port: int) -> None:
        """Permit connections to a proxy the operator configured."""
        self._proxy_origins.add((host.lower(), port))

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        target = _pinned_target.get()
        if target is not None and target.host.lower() == host.lower() and target.port == port:
            addresses: tuple[str, ...] = target.addresses
        elif (host.lower(), port) in self._proxy_origins:
            addresses = (host,)
        else:
            raise httpcore.ConnectError(f"Refusing to connect to {host}:{port}: the URL policy did not approve it.")
        last_error: Exception | None = None
        for address in addresses:
            self.connections.append((host, port, address))
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except httpcore.ConnectError as exc:
                last_error = exc
        raise last_error or httpcore.ConnectError(f"{host} has no address to connect to.")

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("Unix sockets are never used for outbound requests.")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class PinnedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport with its connection pool built on ``PinnedNetworkBackend``."""

    def __init__(
        self,
        *,
        backend: PinnedNetworkBackend,
        proxy: str | None = None,
        verify: ssl.SSLContext | bool = True,
        http2: bool = True,
        limits: httpx.Limits = DEFAULT_LIMITS,
    ) -> None:
        super().__init__(verify=verify, http2=http2, limits=limits, trust_env=False)
        ssl_context = httpx.create_ssl_context(verify=verify, trust_env=False)
        pool_options: dict[str, Any] = {
            "ssl_context": ssl_context,
            "max_connections": limits.max_connections,
            "max_keepalive_connections": limits.max_keepalive_connections,
            "keepalive_expiry": limits.keepalive_expiry,
            "http1": True,
            "http2": http2,
            "network_backend": backend,
        }
        if proxy is None:
            self._pool: httpcore.AsyncConnectionPool = httpcore.AsyncConnectionPool(**pool_options)
            return
        proxy_url = httpx.URL(proxy)
        if proxy_url.scheme not in ("http", "https"):
            raise ValueError(f"Only http:// and https:// proxies are supported, not {proxy_url.scheme}://.")
        proxy_port = proxy_url.port or (443 if proxy_url.scheme == "https" else 80)
        backend.allow_proxy(proxy_url.raw_host.decode("ascii"), proxy_port)
        proxy_auth = (proxy_url.username.encode(), proxy_url.password.encode()) if proxy_url.username else None
        self._pool = httpcore.AsyncHTTPProxy(
            proxy_url=httpcore.URL(
                scheme=proxy_url.raw_scheme, host=proxy_url.raw_host, port=proxy_port, target=proxy_url.raw_path
            ),
            proxy_auth=proxy_auth,
            **pool_options,
        )


class _NoCookies(CookieJar):
    """A jar that keeps nothing: one client serves every user, so cookies must never carry over."""

    def set_cookie(self, cookie: Cookie) -> None:
        return None

    def extract_cookies(self, response: Any, request: Any) -> None:
        return None


def build_client(
    *,
    user_agent: str,
    timeout: float,
    backend: PinnedNetworkBackend,
    proxy: str | None = None,
    verify: ssl.SSLContext | bool = True,
) -> httpx.AsyncClient:
    """An AsyncClient for outbound requests: pinned connections, HTTP/2, no redirects, no cookies, no env proxies."""
    return httpx.AsyncClient(
        transport=PinnedTransport(backend=backend, proxy=proxy, verify=verify),
        timeout=httpx.Timeout(timeout),
        headers={"User-Agent": user_agent},
        follow_redirects=False,
        trust_env=False,
        cookies=_NoCookies(),
    )
