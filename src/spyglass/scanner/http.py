"""The scan's HTTP client (``ScanHttp``): every request a scan sends goes through :class:`ScanClient`.

It sits on the platform :class:`~spyglass.core.fetch.Fetcher`, so the URL policy (SSRF rules), the
per-host politeness and the connection pinning apply to every request and every redirect hop. On top it
keeps the scan in scope (same origin, include and exclude path patterns), counts requests against the
scan's budget and time limit, paces them to the target's requests-per-second cap and concurrency, logs
in (cookie, header or login form) and keeps the cookies the target sets.
"""

from __future__ import annotations

import asyncio
import fnmatch
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import quote, quote_plus, urlencode, urlsplit, urlunsplit

import httpx

from spyglass.core.fetch import REDIRECT_STATUSES, Fetcher, PermanentFetchError
from spyglass.scanner.checks.base import BudgetExhausted, Exchange
from spyglass.scanner.contract import ScanAuth, ScanPlan

DEFAULT_PORTS = {"http": 80, "https": 443}


class OutOfScope(PermanentFetchError):
    """The URL is outside the scan's scope (another origin, or a path the target excludes)."""


def origin_of(url: str) -> tuple[str, str, int]:
    """``(scheme, host, port)`` of ``url`` with the default port filled in and the host lower-cased."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower().rstrip("."), port or DEFAULT_PORTS.get(scheme, 0)


def _path_matches(path: str, pattern: str) -> bool:
    """A pattern with ``*`` or ``?`` is a glob over the whole path; any other pattern is a path prefix."""
    if any(ch in pattern for ch in "*?["):
        return fnmatch.fnmatchcase(path, pattern)
    return path.startswith(pattern)


@dataclass(frozen=True)
class Scope:
    """Which URLs a scan may request: the base URL's origin, its include patterns minus its exclude patterns.

    With no include pattern every path of the origin is in scope. Patterns are path prefixes
    (``/app/``) or globs over the path (``/api/*/admin``).
    """

    origin: tuple[str, str, int]
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    @classmethod
    def from_plan(cls, plan: ScanPlan) -> Scope:
        return cls(origin_of(plan.base_url), tuple(plan.include_paths), tuple(plan.exclude_paths))

    def allows(self, url: str) -> bool:
        """Whether ``url`` may be requested by this scan."""
        if origin_of(url) != self.origin:
            return False
        path = urlsplit(url).path or "/"
        if self.include and not any(_path_matches(path, pattern) for pattern in self.include):
            return False
        return not any(_path_matches(path, pattern) for pattern in self.exclude)


class RequestPacer:
    """Starts at most ``rate`` requests per second (evenly spaced); ``rate <= 0`` means no pause."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        if self.interval <= 0:
            return
        async with self._lock:
            pause = self._next - time.monotonic()
            if pause > 0:
                await asyncio.sleep(pause)
            self._next = time.monotonic() + self.interval


class CookieJar:
    """The cookies of one scan (one origin): name → value, updated from every ``Set-Cookie``."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def load_header(self, header: str) -> None:
        """Add the pairs of a ``Cookie:`` header value (``a=1; b=2``)."""
        for pair in header.split(";"):
            name, sep, value = pair.strip().partition("=")
            if sep and name:
                self.values[name.strip()] = value.strip()

    def update(self, set_cookies: list[str]) -> None:
        """Apply ``Set-Cookie`` values: store or replace, and forget cookies that expire now."""
        for raw in set_cookies:
            first, *attributes = raw.split(";")
            name, sep, value = first.strip().partition("=")
            if not sep or not name:
                continue
            attrs = {a.strip().split("=", 1)[0].lower(): a.strip().partition("=")[2] for a in attributes}
            if attrs.get("max-age", "").strip() in ("0", "-1") or "1970" in attrs.get("expires", ""):
                self.values.pop(name.strip(), None)
            else:
                self.values[name.strip()] = value.strip()

    def header(self) -> str:
        return "; ".join(f"{name}={value}" for name, value in self.values.items())


class ScanClient:
    """``ScanHttp`` for one scan: in scope, counted, paced, authenticated; every request under the URL policy.

    ``send`` raises :class:`BudgetExhausted` once ``plan.max_requests`` requests were sent, the time
    limit passed, or :meth:`stop` was called (cancellation); :class:`OutOfScope` for a URL outside
    the scope; the fetcher's ``FetchError`` when the target cannot be reached or the policy refuses it.
    """

    def __init__(self, plan: ScanPlan, fetcher: Fetcher, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.plan = plan
        self.fetcher = fetcher
        self.scope = Scope.from_plan(plan)
        self.cookies = CookieJar()
        self.requests_sent = 0
        self.max_body_bytes = fetcher.settings.scanner_http_max_body_bytes
        self.stopped_reason: str | None = None
        self._clock = clock
        self._deadline = clock() + plan.time_limit_seconds
        self._slots = asyncio.Semaphore(max(1, plan.concurrency))
        self._pacer = RequestPacer(plan.requests_per_second)
        self._extra_headers: dict[str, str] = {}
        if plan.auth is not None and plan.auth.kind == "cookie":
            self.cookies.load_header(plan.auth.cookie)
        if plan.auth is not None and plan.auth.kind == "header" and plan.auth.header_name:
            self._extra_headers[plan.auth.header_name] = plan.auth.header_value
        self._secret_headers, self._secret_values = _auth_secrets(plan.auth)

    # -- budget ------------------------------------------------------------
    @property
    def time_left(self) -> float:
        return self._deadline - self._clock()

    def stop(self, reason: str) -> None:
        """Refuse every further request (``reason``: "cancelled", "budget", "time limit")."""
        if self.stopped_reason is None:
            self.stopped_reason = reason

    def _take_request(self) -> None:
        if self.stopped_reason is None and self.time_left <= 0:
            self.stop("time limit")
        if self.stopped_reason is None and self.requests_sent >= self.plan.max_requests:
            self.stop("budget")
        if self.stopped_reason is not None:
            raise BudgetExhausted(f"the scan stopped: {self.stopped_reason}")
        self.requests_sent += 1

    # -- requests ----------------------------------------------------------
    def in_scope(self, url: str) -> bool:
        """Whether the scan may request ``url``."""
        return self.scope.allows(url)

    async def login(self) -> Exchange | None:
        """For form authentication: post the login form and keep its cookies. Returns the final exchange."""
        auth: ScanAuth | None = self.plan.auth
        if auth is None or auth.kind != "form":
            return None
        login_url = auth.login_url or self.plan.base_url
        # Fetch the form first: sites set a session cookie and a CSRF token there.
        page = await self.send("GET", login_url, follow_redirects=True)
        fields = {**_hidden_inputs(page.body), **auth.fields}
        return await self.send("POST", login_url, data=fields, follow_redirects=True)

    async def send(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        data: Mapping[str, str] | None = None,
        content: str | bytes | None = None,
        headers: Mapping[str, str] | None = None,
        follow_redirects: bool = False,
    ) -> Exchange:
        """Send one request (and, with ``follow_redirects``, its in-scope redirects, each counted)."""
        method = method.upper()
        url = _with_params(url, params)
        request_headers = {**self._extra_headers, **(headers or {})}
        body: bytes | None
        if data is not None:
            body = urlencode(list(data.items())).encode()
            request_headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        elif isinstance(content, str):
            body = content.encode()
        else:
            body = content
        exchange = await self._send_one(method, url, request_headers, body)
        hops = 0
        while follow_redirects and exchange.redirect_location and hops < self.fetcher.settings.http_max_redirects:
            if not self.in_scope(exchange.redirect_location):
                break
            hops += 1
            if exchange.status == 303 or (exchange.status in (301, 302) and method == "POST"):
                method, body = "GET", None
                request_headers.pop("Content-Type", None)
            exchange = await self._send_one(method, exchange.redirect_location, request_headers, body)
        return exchange

    async def _send_one(self, method: str, url: str, headers: dict[str, str], body: bytes | None) -> Exchange:
        if not self.in_scope(url):
            raise OutOfScope(f"{url} is outside the scan's scope.", url=url, reason="scope")
        self._take_request()
        async with self._slots:
            await self._pacer.wait()
            sent_headers = dict(headers)
            if self.cookies.values and not any(name.lower() == "cookie" for name in sent_headers):
                sent_headers["Cookie"] = self.cookies.header()
            started = self._clock()
            try:
                async with asyncio.timeout(max(self.time_left, 0.001)):
                    result = await self.fetcher.fetch(
                        url,
                        method=method,
                        headers=sent_headers,
                        content=body,
                        retry=None,
                        raise_for_status=False,
                        follow_redirects=False,
                        max_bytes=self.max_body_bytes,
                        truncate=True,
                    )
            except TimeoutError:
                self.stop("time limit")
                raise BudgetExhausted("the scan's time limit passed during a request") from None
        set_cookies = result.headers.get_list("set-cookie")
        self.cookies.update(set_cookies)
        location = result.headers.get("location")
        redirect = None
        if result.status_code in REDIRECT_STATUSES and location:
            try:
                redirect = str(httpx.URL(url).join(location).copy_with(fragment=None))
            except httpx.InvalidURL:
                redirect = None
        return Exchange(
            method=method,
            url=url,
            request_headers=self._recorded_headers(sent_headers),
            request_body=self._recorded_body(body),
            status=result.status_code,
            headers=result.headers,
            body=result.content.decode(_encoding(result.encoding), errors="replace"),
            elapsed=self._clock() - started,
            set_cookies=set_cookies,
            redirect_location=redirect,
        )

    def _recorded_headers(self, sent: Mapping[str, str]) -> dict[str, str]:
        """The request headers as checks see them (and findings show them): the scan's credentials redacted."""
        return {name: REDACTED if name.lower() in self._secret_headers else value for name, value in sent.items()}

    def _recorded_body(self, body: bytes | None) -> str:
        text = (body or b"").decode("utf-8", errors="replace")
        for secret in self._secret_values:
            for spelling in {secret, quote_plus(secret), quote(secret, safe="")}:
                text = text.replace(spelling, REDACTED)
        return text


#: What recorded exchanges show instead of the scan's own credentials.
REDACTED = "[redacted]"


def _auth_secrets(auth: ScanAuth | None) -> tuple[frozenset[str], tuple[str, ...]]:
    """Header names whose values are credentials, and credential values that may appear in request bodies.

    The scan's login never reaches a finding: the cookie and authorisation headers, the custom auth header
    and the login form's values (at least 4 characters, so short values don't blank out unrelated text).
    """
    names = {"cookie", "authorization", "proxy-authorization"}
    values: list[str] = []
    if auth is not None and auth.kind == "header" and auth.header_name:
        names.add(auth.header_name.lower())
    if auth is not None and auth.kind == "form":
        values = sorted((v for v in auth.fields.values() if len(v) >= 4), key=len, reverse=True)
    return frozenset(names), tuple(values)


def _encoding(name: str) -> str:
    try:
        "".encode(name)
    except LookupError:
        return "utf-8"
    return name


def _with_params(url: str, params: Mapping[str, str] | None) -> str:
    if not params:
        return url
    parts = urlsplit(url)
    query = urlencode(list(params.items()))
    return urlunsplit(parts._replace(query=f"{parts.query}&{query}" if parts.query else query))


def _hidden_inputs(html: str) -> dict[str, str]:
    from selectolax.lexbor import LexborHTMLParser

    values: dict[str, str] = {}
    for node in LexborHTMLParser(html).css("input[type=hidden]"):
        name = node.attributes.get("name")
        if name:
            values[name] = node.attributes.get("value") or ""
    return values
