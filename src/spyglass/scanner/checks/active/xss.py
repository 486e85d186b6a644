"""Cross-site scripting, reflected and stored. Confirmed only when the payload lands unescaped in an executable
context: a new element with an event handler in the parsed page, or code breaking out of a script string."""

from __future__ import annotations

from selectolax.lexbor import LexborHTMLParser

from spyglass.scanner.checks.active._inject import inject, injection_points, original_value, token
from spyglass.scanner.checks.active._report import point_finding
from spyglass.scanner.checks.base import CheckContext, InjectionPoint
from spyglass.scanner.checks.passive._base import CheckBase, send
from spyglass.scanner.checks.passive._evidence import (
    html_pages,
    is_html,
    mark_first,
    request_excerpt,
    response_excerpt,
    without_query,
)
from spyglass.scanner.contract import FindingCandidate

ELEMENT_PAYLOADS = (  # HTML text, breaking out of a double- or single-quoted attribute, out of raw-text elements
    '<svg data-spy="{t}" onload="alert(1)">',
    '"><svg data-spy="{t}" onload="alert(1)">',
    "'><svg data-spy='{t}' onload='alert(1)'>",
    '</textarea></title></noscript></style><svg data-spy="{t}" onload="alert(1)">',
)
SCRIPT_PAYLOADS = ("';{t}();//", '";{t}();//', "</script><svg data-spy={t} onload=alert(1)>")


def injected_element(body: str, marker: str) -> str | None:
    """The HTML of an element carrying ``data-spy=marker`` and an event handler, if the page has one."""
    for node in LexborHTMLParser(body).css("[data-spy]"):
        attributes = node.attributes
        if attributes.get("data-spy") == marker and any(name.lower().startswith("on") for name in attributes):
            return node.html
    return None


def script_breakout(body: str, payload: str) -> bool:
    """True when ``payload`` sits verbatim, not backslash-escaped, in an inline script's code."""
    for node in LexborHTMLParser(body).css("script"):
        if node.attributes.get("src"):
            continue
        code = node.text(deep=True)
        start = code.find(payload)
        if start >= 0 and (start == 0 or code[start - 1] != "\\"):
            return True
    return False


class ReflectedXssCheck(CheckBase):
    """Probes each parameter with a harmless marker; where it is reflected, tries context-breaking payloads."""

    id = "xss-reflected"
    family = "xss"
    active = True

    async def scan(self, ctx: CheckContext) -> None:
        for point in injection_points(ctx):
            probe = token()
            exchange = await inject(ctx, point, probe)
            if exchange is None or probe not in exchange.body or not is_html(exchange):
                continue
            await self._attack(ctx, point)

    async def _attack(self, ctx: CheckContext, point: InjectionPoint) -> None:
        for template in ELEMENT_PAYLOADS + SCRIPT_PAYLOADS:
            marker = token()
            payload = template.format(t=marker)
            exchange = await inject(ctx, point, payload)
            if exchange is None:
                continue
            element = injected_element(exchange.body, marker)
            if element is not None:
                await ctx.report(
                    point_finding(
                        "xss-reflected", point, payload, exchange, evidence=element, needle=payload, context="html"
                    )
                )
                return
            if template in SCRIPT_PAYLOADS[:2] and script_breakout(exchange.body, payload):
                evidence = mark_first(exchange.body, payload) or payload
                await ctx.report(
                    point_finding(
                        "xss-reflected",
                        point,
                        payload,
                        exchange,
                        evidence=evidence,
                        needle=payload,
                        confidence="firm",
                        context="script string",
                    )
                )
                return


class StoredXssCheck(CheckBase):
    """Submits a marked payload through every POST form field, then re-fetches the site's pages to find it
    rendered unescaped (an element with an event handler) in a later response."""

    id = "xss-stored"
    family = "xss"
    active = True

    async def scan(self, ctx: CheckContext) -> None:
        submitted: dict[str, tuple[InjectionPoint, str]] = {}
        for point in injection_points(ctx, ("form", "json")):
            if point.method.upper() != "POST":
                continue
            marker = token()
            payload = ELEMENT_PAYLOADS[0].format(t=marker)
            if await inject(ctx, point, payload) is not None:
                submitted[marker] = (point, payload)
        if not submitted:
            return
        urls = list(
            dict.fromkeys(
                [*(p.page_url for p, _ in submitted.values() if p.page_url), *(page.url for page in html_pages(ctx))]
            )
        )
        for url in urls:
            exchange = await send(ctx, "GET", url)
            if exchange is None or not is_html(exchange):
                continue
            for marker, (point, payload) in list(submitted.items()):
                element = injected_element(exchange.body, marker)
                if element is None:
                    continue
                del submitted[marker]
                await ctx.report(
                    FindingCandidate(
                        type_id="xss-stored",
                        url=without_query(point.url),
                        method=point.method.upper(),
                        parameter=point.parameter,
                        payload=payload,
                        evidence=f"submitted to {point.url}, rendered on {url}: {element}",
                        request=request_excerpt(exchange),
                        response=response_excerpt(exchange, needle=payload),
                        confidence="confirmed",
                        details={"rendered_on": url, "original_value": original_value(point)},
                    )
                )
            if not submitted:
                return


CHECKS = [ReflectedXssCheck(), StoredXssCheck()]
