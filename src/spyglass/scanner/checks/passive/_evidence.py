"""Evidence helpers shared by the checks: request/response excerpts with the matching part marked ``[[...]]``."""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit, urlunsplit

from spyglass.scanner.checks.base import CheckContext, Exchange, Page

EXCERPT_CONTEXT = 120
SECRET_HEADERS = {"cookie", "authorization", "proxy-authorization", "x-api-key", "x-auth-token"}
BODY_EXCERPT = 400


def mark(text: str, start: int, end: int, context: int = EXCERPT_CONTEXT) -> str:
    """``text`` around ``[start, end)`` with that part marked, trimmed to ``context`` characters either side."""
    left = max(0, start - context)
    right = min(len(text), end + context)
    prefix = "…" if left > 0 else ""
    suffix = "…" if right < len(text) else ""
    return f"{prefix}{text[left:start]}[[{text[start:end]}]]{text[end:right]}{suffix}"


def mark_first(text: str, needle: str, context: int = EXCERPT_CONTEXT) -> str | None:
    """``text`` with the first occurrence of ``needle`` marked, or None when absent."""
    start = text.find(needle)
    if start < 0:
        return None
    return mark(text, start, start + len(needle), context)


def mark_match(text: str, match: re.Match[str], context: int = EXCERPT_CONTEXT) -> str:
    """``text`` with a regular-expression match marked."""
    return mark(text, match.start(), match.end(), context)


def _head(lines: Iterable[str]) -> str:
    return "\n".join(lines)


def request_excerpt(exchange: Exchange, marked: str | None = None) -> str:
    """The request line, headers and the start of the body; ``marked`` (a payload) is wrapped in ``[[...]]``."""
    parts = urlsplit(exchange.url)
    target = urlunsplit(("", "", parts.path or "/", parts.query, ""))
    lines = [f"{exchange.method} {target} HTTP/1.1", f"Host: {parts.netloc}"]
    for name, value in exchange.request_headers.items():
        if name.lower() != "host":  # credentials the scan logs in with never reach a finding
            lines.append(f"{name}: {'[redacted]' if name.lower() in SECRET_HEADERS else value}")
    text = _head(lines)
    if exchange.request_body:
        text += "\n\n" + exchange.request_body[:BODY_EXCERPT]
    if marked:
        for form in _encodings(marked):
            found = mark_first(text, form, context=10_000)
            if found is not None:
                return found
    return text


def response_excerpt(exchange: Exchange, *, needle: str | None = None, header: str | None = None) -> str:
    """Status line, headers and an excerpt of the body; marks ``header`` (a header name) or ``needle`` in the body."""
    lines = [f"HTTP/1.1 {exchange.status}"]
    for name, value in exchange.headers.items():
        line = f"{name}: {value}"
        lines.append(f"[[{line}]]" if header is not None and name.lower() == header.lower() else line)
    head = _head(lines)
    body = exchange.body
    if needle:
        found = mark_first(body, needle)
        if found is not None:
            return f"{head}\n\n{found}"
    excerpt = body[:BODY_EXCERPT] + ("…" if len(body) > BODY_EXCERPT else "")
    return f"{head}\n\n{excerpt}" if excerpt else head


def _encodings(value: str) -> list[str]:
    from urllib.parse import quote, quote_plus

    return [value, quote_plus(value), quote(value, safe="")]


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of ``url``."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def path_of(url: str) -> str:
    """The path of ``url`` without the query, ``/`` when empty."""
    return urlsplit(url).path or "/"


def without_query(url: str) -> str:
    """``url`` without its query string and fragment."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", "", ""))


def site_url(ctx: CheckContext) -> str:
    """Where a site-wide finding is reported: the scan's base URL."""
    return ctx.plan.base_url


def is_html(exchange: Exchange) -> bool:
    """True when the response says it is HTML (or sniffs like HTML without a content type)."""
    content_type = exchange.headers.get("content-type", "").lower()
    if content_type:
        return "html" in content_type
    return exchange.body.lstrip()[:15].lower().startswith(("<!doctype html", "<html"))


def html_pages(ctx: CheckContext) -> list[Page]:
    """The crawled pages that answered 2xx with HTML, one per URL without query (first seen wins)."""
    seen: set[str] = set()
    pages = []
    for page in ctx.pages:
        key = without_query(page.url)
        if key in seen or not (200 <= page.exchange.status < 300) or not is_html(page.exchange):
            continue
        seen.add(key)
        pages.append(page)
    return pages


def unique_by_path(pages: Iterable[Page]) -> list[Page]:
    """One page per URL without its query string (the first seen)."""
    seen: set[str] = set()
    result = []
    for page in pages:
        key = without_query(page.url)
        if key not in seen:
            seen.add(key)
            result.append(page)
    return result
