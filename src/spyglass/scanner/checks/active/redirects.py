"""Open redirects and CRLF / header injection: payloads point to a reserved ``.invalid`` host or add a marked
header; the response's own headers prove it."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

from spyglass.scanner.checks.active._inject import inject, injection_points, original_value, token
from spyglass.scanner.checks.active._report import point_finding
from spyglass.scanner.checks.base import CheckContext
from spyglass.scanner.checks.passive._base import CheckBase

REDIRECT_HOST = "spyglass-redirect.invalid"
REDIRECT_NAMES = re.compile(
    r"^(url|uri|next|redirect|redirect_?ur[il]|return|return_?to|returnurl|goto|dest|destination|continue|target|"
    r"to|r|u|link|forward|callback_?url|success_?url)$",
    re.IGNORECASE,
)
REDIRECT_PAYLOADS = ("https://{host}/{t}", "//{host}/{t}", "/\\{host}/{t}")
META_REFRESH = re.compile(r"<meta[^>]+http-equiv=[\"']?refresh[^>]+url=([^\"'>]+)", re.IGNORECASE)
CRLF_HEADER = "X-Spyglass-Crlf"


class OpenRedirectCheck(CheckBase):
    """Tries redirect-like parameters (by name or by a URL/path value) with an external destination."""

    id = "open-redirect"
    family = "redirect"
    active = True

    async def scan(self, ctx: CheckContext) -> None:
        for point in injection_points(ctx):
            value = original_value(point)
            if not (REDIRECT_NAMES.match(point.parameter) or value.startswith(("/", "http://", "https://"))):
                continue
            for template in REDIRECT_PAYLOADS:
                payload = template.format(host=REDIRECT_HOST, t=token())
                exchange = await inject(ctx, point, payload)
                if exchange is None:
                    continue
                location = exchange.redirect_location or exchange.headers.get("location")
                refresh = META_REFRESH.search(exchange.body)
                target = (
                    location if 300 <= exchange.status < 400 and location else (refresh.group(1) if refresh else "")
                )
                resolved = urljoin(exchange.url, target.replace("\\", "/")) if target else ""
                if resolved and urlsplit(resolved).hostname == REDIRECT_HOST:
                    await ctx.report(
                        point_finding(
                            "open-redirect",
                            point,
                            payload,
                            exchange,
                            refresh if not location else None,
                            evidence=f"redirects to [[{target}]]",
                            header="location" if location else None,
                        )
                    )
                    break


class CrlfInjectionCheck(CheckBase):
    """Sends a value with CR LF followed by a marked header; the header in the response proves the injection."""

    id = "crlf-injection"
    family = "crlf"
    active = True

    async def scan(self, ctx: CheckContext) -> None:
        for point in injection_points(ctx):
            marker = token()
            for separator in ("\r\n", "\n", "%0d%0a"):
                payload = f"{original_value(point)}{separator}{CRLF_HEADER}: {marker}"
                exchange = await inject(ctx, point, payload)
                injected = exchange.headers.get(CRLF_HEADER, "") if exchange is not None else ""
                if exchange is not None and injected.startswith(marker):
                    await ctx.report(
                        point_finding(
                            "crlf-injection",
                            point,
                            payload,
                            exchange,
                            evidence=f"[[{CRLF_HEADER}: {injected}]]",
                            header=CRLF_HEADER,
                        )
                    )
                    break


CHECKS = [OpenRedirectCheck(), CrlfInjectionCheck()]
