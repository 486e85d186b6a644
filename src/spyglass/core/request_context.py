"""Who is calling: the client IP (through trusted proxies only) and the request id."""

from __future__ import annotations

import ipaddress
from contextvars import ContextVar
from typing import Any

from litestar._parsers import parse_cookie_string
from litestar.types import Empty
from litestar.utils.scope.state import ScopeState

request_id_var: ContextVar[str | None] = ContextVar("spyglass_request_id", default=None)

#: Methods that only read: a read session (``core/dependencies.py``), no forgetting of cached views.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def header(scope: Any, name: bytes) -> str | None:
    """The first value of request header ``name`` (lower-case bytes), or None."""
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def cookies(scope: Any) -> dict[str, str]:
    """The request's cookies, parsed once per request.

    Kept where Litestar's connections keep theirs (the connection state), so ``request.cookies`` reads the same
    dictionary; read from the raw ``cookie`` header (the first, as Litestar's ``Headers.get``) without building
    Litestar's ``Headers``, which decodes every header into a multidict.
    """
    state = ScopeState.from_scope(scope)
    parsed = state.cookies
    if parsed is Empty:
        raw = header(scope, b"cookie")
        parsed = state.cookies = parse_cookie_string(raw) if raw else {}
    return parsed


def client_ip(scope: Any, trusted_proxies: list[str]) -> str:
    """The caller's IP; ``X-Forwarded-For`` is believed only when the peer is a trusted proxy."""
    client = scope.get("client")
    peer = client[0] if client else "unknown"
    if trusted_proxies and _is_trusted(peer, trusted_proxies):
        forwarded = header(scope, b"x-forwarded-for")
        if forwarded:
            hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
            for hop in reversed(hops):
                if not _is_trusted(hop, trusted_proxies):
                    return hop
            if hops:
                return hops[0]
    return str(peer)


def _is_trusted(address: str, trusted: list[str]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    for network in trusted:
        try:
            if ip in ipaddress.ip_network(network, strict=False):
                return True
        except ValueError:
            continue
    return False


def user_agent(scope: Any) -> str | None:
    value = header(scope, b"user-agent")
    return value[:300] if value else None
