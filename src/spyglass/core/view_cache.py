"""Per-user cached answers for read-heavy routes: a GET handler with ``opt={"view_cache": AREA}``.

The key is the user, the user's current *version* of the area, the path and query, and what else the
page depends on (the CSRF cookie embedded in forms, ``HX-Request`` partials, the user's name and role
shown in the navigation). The version is a random token kept in the cache ("view_versions"); anything
that changes what the user would see forgets it (``forget_views``) and the next read renders afresh.
Areas are as fine as what their writes change: the market has ``market.searches`` (the searches
dashboard and API) and ``market.listings`` (listings, a listing, favorites, alerts, a search's
statistics), so editing a search's keywords keeps the listing pages cached. Who forgets:

- every unsafe request (POST, PUT, PATCH, DELETE) a signed-in user makes under an area's paths
  (``FORGOTTEN_BY_PATH``; for the market also ``/runs/``, whose cancel ends a queued search run the pages
  show) forgets every area of those paths, unless its route declares less with ``opt={"view_forgets":
  (AREA, ...)}``; it does so when its answer starts, and so after its transaction committed (Litestar
  closes the request's dependencies first) but before the client can send its next read;
- handlers and other writers call ``forget_views`` themselves: a search edit that renames the search
  (the listing pages show search names), the engine for a run's owner whenever the run's status changes
  (``JobKind.view_areas``), a market run for the users it alerted of a price drop, the listing page when
  opening it marks the user's matches seen. A ``forget_views`` inside an unsafe request (a rename, an
  admin changing a user's quota or run) is repeated when that request's answer starts: the first one
  ran before the commit, and a read in between kept the old answer under the new version.

A hit is one cache call (``Cache.get_versioned``: the version, made when missing, and the answer stored
under it; on Redis one script). The namespace's TTL (``SPYGLASS_CACHE_TTL_VIEWS``) bounds what nothing
announces: a shared listing that another user's search updated, the next run time moving on. Only
complete 200 answers without ``Set-Cookie`` are kept; a request whose session carries flash messages is
never answered from it (the page would have to show and consume them). Rate limits, authentication and
the outer middleware run for every request, hit or miss.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from litestar.types import ASGIApp, Message, Receive, Scope, Send
from redis.exceptions import RedisError

from spyglass.core.csrf import CSRF_COOKIE
from spyglass.core.request_context import SAFE_METHODS, cookies, header
from spyglass.web.templating import FLASH_KEY

if TYPE_CHECKING:
    from spyglass.accounts.auth import CurrentUser
    from spyglass.core.cache import Cache
    from spyglass.core.services import Services

VIEWS = "views"
VERSIONS = "view_versions"
#: The areas a signed-in user's unsafe request under these paths forgets, unless its route declares what it
#: forgets (``opt={"view_forgets": (AREA, ...)}``, ``()`` for nothing).
FORGOTTEN_BY_PATH: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (("/market/", "/api/v1/market/", "/runs/", "/api/v1/runs/"), ("market.searches", "market.listings")),
)
#: The (area, user id) pairs ``forget_views`` forgot during the current unsafe request, forgotten again at its answer.
_FORGOTTEN_IN_REQUEST: ContextVar[set[tuple[str, int]] | None] = ContextVar("forgotten_in_request", default=None)


logger = logging.getLogger("spyglass.view_cache")


def _version_key(area: str, user_id: int) -> str:
    return f"{area}:{user_id}"


async def _forget_version(cache: Cache, area: str, user_id: int) -> None:
    """Forget the user's version of ``area``. A forget Redis could not be told of is logged, not raised: the
    change it announces has committed (failing the request would invite a repeated write), and the views it
    leaves are at most the namespace's TTL old."""
    try:
        await cache.invalidate(VERSIONS, _version_key(area, user_id))
    except RedisError as exc:
        logger.warning("views not forgotten: Redis unreachable", extra={"area": area, "error": type(exc).__name__})


async def forget_views(services: Services, areas: str | Iterable[str], user_ids: Iterable[int]) -> None:
    """Make every cached view of ``areas`` (one or several) of these users stale (call after the change
    committed; inside an unsafe request it is repeated when the answer starts, after the request's
    transaction committed).

    With a read replica, the users' next reads for a few seconds go to the primary (as after their own
    writes): a lagging replica must not be what the fresh view is rendered from and then cached for the TTL.
    """
    deferred = _FORGOTTEN_IN_REQUEST.get()
    routing = services.db.routing
    names = (areas,) if isinstance(areas, str) else tuple(areas)
    for user_id in set(user_ids):
        for area in names:
            await _forget_version(services.cache, area, user_id)
            if deferred is not None:
                deferred.add((area, user_id))
        if routing is not None:
            await routing.note_writer(user_id)


def _forgotten_by(scope: Scope) -> tuple[str, ...]:
    """The areas an unsafe request forgets: what its route declares, else what its path's areas are."""
    handler = scope.get("route_handler")
    declared = handler.opt.get("view_forgets") if handler is not None else None
    if declared is not None:
        return tuple(declared)
    for prefixes, areas in FORGOTTEN_BY_PATH:
        if scope["path"].startswith(prefixes):
            return areas
    return ()


def _csrf_cookie(scope: Scope) -> bytes:
    """The CSRF cookie as Litestar reads it, and so as the page embeds it (of two cookies of the name, the
    last); a plain search of the header would find the first, or a cookie whose name ends in it. The cookies
    were parsed once for the request already (``request_context.cookies``)."""
    return cookies(scope).get(CSRF_COOKIE, "").encode("latin-1")


def _view_digest(scope: Scope, user: CurrentUser) -> str | None:
    """What identifies this request's answer besides the user and the version, or None when it must not be
    cached."""
    session = scope.get("session")
    if isinstance(session, dict) and session.get(FLASH_KEY):
        return None
    csrf = _csrf_cookie(scope)
    if not csrf and session:
        return None  # a page for a session without its CSRF cookie gets a fresh token: not shareable
    material = b"\0".join(
        [
            scope["path"].encode(),
            scope.get("query_string", b""),
            csrf,
            (header(scope, b"hx-request") or "").encode("latin-1"),
            f"{user.username}\0{user.role}\0{user.email_verified}".encode(),
        ]
    )
    return hashlib.blake2b(material, digest_size=16).hexdigest()


class ViewCacheMiddleware:
    """Answers opted-in GET routes from the per-user view cache, and forgets the user's views after writes."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("user") is None:
            await self.app(scope, receive, send)
            return
        user: CurrentUser = scope["user"]
        services: Services = scope["litestar_app"].state.services
        method: str = scope["method"]  # type: ignore[typeddict-item]  # an HTTP scope (checked above)
        if method not in SAFE_METHODS:
            await self._write(scope, receive, send, services.cache, user)
            return
        handler = scope.get("route_handler")
        area = handler.opt.get("view_cache") if handler is not None and method == "GET" else None
        if area is None or services.cache.ttl(VIEWS) <= 0:
            await self.app(scope, receive, send)
            return
        digest = _view_digest(scope, user)
        if digest is None:
            await self.app(scope, receive, send)
            return
        # The key is "user:version:digest"; the version and the answer kept under it come in one cache call.
        version, cached = await services.cache.get_versioned(
            VERSIONS, _version_key(area, user.id), VIEWS, f"{user.id}:", f":{digest}"
        )
        if cached is not None:
            status, headers, body = cached
            await send({"type": "http.response.start", "status": status, "headers": list(headers)})
            await send({"type": "http.response.body", "body": body, "more_body": False})
            return
        if not version:  # the cache could not answer: compute the page, keep nothing
            await self.app(scope, receive, send)
            return
        await self._answer_and_keep(scope, receive, send, services.cache, f"{user.id}:{version}:{digest}")

    async def _write(self, scope: Scope, receive: Receive, send: Send, cache: Cache, user: CurrentUser) -> None:
        """Run an unsafe request; forget the views it changed before its answer reaches the client."""
        forgotten = {(area, user.id) for area in _forgotten_by(scope)}
        started = False

        async def forget() -> None:
            for forgotten_area, user_id in list(forgotten):
                await _forget_version(cache, forgotten_area, user_id)

        async def forget_then_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                await forget()
            await send(message)

        token = _FORGOTTEN_IN_REQUEST.set(forgotten)
        try:
            await self.app(scope, receive, forget_then_send)
        finally:
            _FORGOTTEN_IN_REQUEST.reset(token)
            if not started:  # it raised: the error answer is sent outside, after this
                await forget()

    async def _answer_and_keep(self, scope: Scope, receive: Receive, send: Send, cache: Cache, key: str) -> None:
        start: dict[str, Any] = {}
        body: list[bytes] = []  # the one body message of a complete answer; a streamed one is never kept

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(status=message["status"], headers=list(message.get("headers") or []))
            elif message["type"] == "http.response.body" and not start.get("streamed"):
                start["streamed"] = bool(message.get("more_body", False)) or bool(body)
                body.append(bytes(message.get("body", b"")))
            await send(message)

        await self.app(scope, receive, capture)
        headers = start.get("headers", [])
        if (
            start.get("status") == 200
            and start.get("streamed") is False
            and all(name.lower() != b"set-cookie" for name, _ in headers)
        ):
            await cache.set(VIEWS, key, (200, tuple((bytes(n), bytes(v)) for n, v in headers), body[0]))
