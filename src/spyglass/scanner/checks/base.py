"""The contract between the scan pipeline and its checks.

The pipeline crawls first, then runs every enabled check once with a :class:`CheckContext`
holding what the crawl saw (pages, forms, injection points) and an HTTP client bound to the
scan's scope, budget, rate limit and authentication. A check reports findings through
``ctx.report``; it never opens connections of its own.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

from spyglass.scanner.contract import FindingCandidate, ScanPlan


@dataclass
class Exchange:
    """One request sent and the response received (body decoded as text, possibly truncated)."""

    method: str
    url: str
    request_headers: Mapping[str, str]
    request_body: str
    status: int
    headers: Mapping[str, str]  # response headers, case-insensitive mapping
    body: str
    elapsed: float = 0.0
    set_cookies: list[str] = field(default_factory=list)  # raw Set-Cookie header values
    redirect_location: str | None = None


@dataclass
class FormField:
    name: str
    type: str = "text"
    value: str = ""


@dataclass
class Form:
    """A form seen on ``page_url``; ``action`` is absolute."""

    page_url: str
    action: str
    method: str = "GET"
    fields: list[FormField] = field(default_factory=list)
    enctype: str = "application/x-www-form-urlencoded"


@dataclass
class Page:
    """A crawled page: its exchange and what the crawler extracted from it."""

    url: str
    exchange: Exchange
    depth: int = 0
    links: list[str] = field(default_factory=list)
    forms: list[Form] = field(default_factory=list)
    scripts: list[str] = field(default_factory=list)  # absolute src URLs of <script src>
    content_type: str = ""


@dataclass(frozen=True)
class InjectionPoint:
    """A place a check can put a payload: a query parameter, a form field, or a JSON/XML body key.

    ``params`` are the other parameters with their seen or default values (sent unchanged).
    """

    method: str
    url: str
    parameter: str
    location: Literal["query", "form", "json", "xml", "header", "path"]
    params: tuple[tuple[str, str], ...] = ()
    page_url: str = ""


class ScanHttp(Protocol):
    """The scan's HTTP client: in scope only, counted against the budget, rate-limited, authenticated."""

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
        """Send one request. Raises ``BudgetExhausted`` when the scan's request budget or time is spent."""
        ...


class BudgetExhausted(Exception):
    """The scan's request budget or time limit is used up; checks stop quietly."""


@dataclass
class CheckContext:
    """What a check gets: the plan, the crawl's results, the client and the report callback."""

    plan: ScanPlan
    http: ScanHttp
    pages: list[Page]
    injection_points: list[InjectionPoint]
    report: Callable[[FindingCandidate], Awaitable[None]]
    cancelled: Callable[[], bool] = lambda: False


class Check(Protocol):
    """A check plugin. ``family`` groups checks for the custom profile ("headers", "xss", "sqli", ...)."""

    id: str
    family: str
    active: bool  # True: sends attack payloads, only on verified targets

    async def run(self, ctx: CheckContext) -> None: ...
