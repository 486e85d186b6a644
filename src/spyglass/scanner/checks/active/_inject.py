"""Putting a payload into an injection point, and recognising a payload's reflection."""

from __future__ import annotations

import html
import json
import re
import secrets
from urllib.parse import parse_qsl, quote, quote_plus, urlsplit

from spyglass.scanner.checks.base import CheckContext, Exchange, InjectionPoint
from spyglass.scanner.checks.passive._base import send

INJECTABLE = ("query", "form", "json")
# Endpoints whose purpose is to delete, log out or cancel: attacking them could destroy the target's data or end
# the scan's session, so active checks leave them alone (the crawler still reports them for passive checks).
DESTRUCTIVE = re.compile(
    r"(?:^|[/_.-])(?:delete|remove|destroy|drop|logout|log-out|signout|sign-out|unsubscribe|deactivate|purge|erase|"
    r"wipe|revoke|cancel|terminate)(?:$|[/_.-])",
    re.IGNORECASE,
)


def token() -> str:
    """A short random marker, letters and digits only (survives every encoding)."""
    return "spy" + secrets.token_hex(5)


def is_destructive(point: InjectionPoint) -> bool:
    """True when the point's endpoint or parameter looks like it deletes, logs out or cancels something."""
    return bool(DESTRUCTIVE.search(urlsplit(point.url).path) or DESTRUCTIVE.search(point.parameter))


def injection_points(ctx: CheckContext, locations: tuple[str, ...] = INJECTABLE) -> list[InjectionPoint]:
    """The crawl's injection points of those locations, each (method, url, parameter) once, without the
    destructive ones (see ``DESTRUCTIVE``)."""
    seen: set[tuple[str, str, str]] = set()
    points = []
    for point in ctx.injection_points:
        key = (point.method.upper(), point.url.split("?")[0], point.parameter)
        if point.location in locations and key not in seen and not is_destructive(point):
            seen.add(key)
            points.append(point)
    return points


def original_value(point: InjectionPoint) -> str:
    """The value the crawler saw for the point's parameter: in its params, else in the query of the page it was
    found on ("" when unknown, e.g. an empty form field)."""
    for name, value in point.params:
        if name == point.parameter:
            return value
    if point.location == "query" and point.page_url and urlsplit(point.page_url).path == urlsplit(point.url).path:
        for name, value in parse_qsl(urlsplit(point.page_url).query, keep_blank_values=True):
            if name == point.parameter:
                return value
    return ""


async def inject(ctx: CheckContext, point: InjectionPoint, value: str) -> Exchange | None:
    """Send the point's request with ``value`` as its parameter (the other parameters unchanged)."""
    params = {name: val for name, val in point.params if name != point.parameter}
    params[point.parameter] = value
    method = point.method.upper()
    if point.location == "query":
        return await send(ctx, method, point.url, params=params)
    if point.location == "form":
        return await send(ctx, method, point.url, data=params)
    if point.location == "json":
        body = json.dumps(params)
        return await send(ctx, method, point.url, content=body, headers={"Content-Type": "application/json"})
    if point.location == "header":
        return await send(ctx, method, point.url, headers={point.parameter: value})
    return None


def strip_reflections(body: str, *values: str) -> str:
    """``body`` without the values' raw, HTML-escaped and URL-encoded forms (so reflections do not count as changes)."""
    for value in values:
        if not value:
            continue
        forms = {value, html.escape(value), html.escape(value, quote=False), quote_plus(value), quote(value, safe="")}
        for form in sorted(forms, key=len, reverse=True):
            body = body.replace(form, "")
    return body
