"""Transport security: TLS (protocol versions, certificate validity and expiry) and HTTP not redirected to HTTPS."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
import warnings
from collections.abc import Mapping
from urllib.parse import urlsplit, urlunsplit

from spyglass.core.fetch import Fetcher, FetchError
from spyglass.scanner.checks.base import CheckContext
from spyglass.scanner.checks.passive._base import CheckBase, send
from spyglass.scanner.checks.passive._evidence import request_excerpt, response_excerpt, site_url
from spyglass.scanner.contract import FindingCandidate

EXPIRY_WARNING_DAYS = 30
HANDSHAKE_TIMEOUT = 10.0
LEGACY_PROTOCOLS = (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1)


async def _handshake(address: str, host: str, port: int, context: ssl.SSLContext) -> ssl.SSLObject:
    """Open a TLS connection to ``address`` (for ``host``), return its SSL object and close it (no HTTP is sent)."""
    _reader, writer = await asyncio.wait_for(
        asyncio.open_connection(address, port, ssl=context, server_hostname=host), HANDSHAKE_TIMEOUT
    )
    try:
        ssl_object = writer.get_extra_info("ssl_object")
        assert isinstance(ssl_object, ssl.SSLObject)
        return ssl_object
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


def _legacy_context(version: ssl.TLSVersion) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with contextlib.suppress(ssl.SSLError, ValueError), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # asking for the deprecated versions is the point
        context.set_ciphers("ALL:@SECLEVEL=0")
        context.minimum_version = version
        context.maximum_version = version
    return context


class TlsCheck(CheckBase):
    """Checks the target's certificate (trusted, valid for its name, not expired or expiring) and refuses of
    TLS 1.0/1.1. ``verify`` is the trust store (the system's by default; tests pass their own CA).

    It does TLS handshakes with the scan's own base host and port only and sends no HTTP: the handshake is what
    it inspects, which the scan's HTTP client does not expose. The platform's URL policy still decides: the host
    is resolved and approved by the scan client's fetcher and the handshake goes to an approved address (no DNS
    rebinding); without a fetcher to ask, the check does nothing.
    """

    id = "tls"
    family = "tls"
    active = False

    def __init__(self, verify: ssl.SSLContext | None = None, *, expiry_warning_days: int = EXPIRY_WARNING_DAYS) -> None:
        self.verify = verify
        self.expiry_warning_days = expiry_warning_days

    async def scan(self, ctx: CheckContext) -> None:
        parts = urlsplit(ctx.plan.base_url)
        if parts.scheme != "https" or not parts.hostname:
            return
        fetcher = getattr(ctx.http, "fetcher", None)
        if not isinstance(fetcher, Fetcher):
            return
        try:
            approved = await fetcher.check(ctx.plan.base_url)
        except FetchError:
            return
        host, port, address = approved.host, approved.port, approved.addresses[0]
        context = self.verify or ssl.create_default_context()
        try:
            ssl_object = await _handshake(address, host, port, context)
        except ssl.SSLCertVerificationError as exc:
            await self._report(ctx, "tls-certificate-invalid", exc.verify_message or str(exc), "confirmed")
        except (TimeoutError, OSError, ssl.SSLError):
            return  # no TLS service to inspect
        else:
            await self._expiry(ctx, ssl_object.getpeercert() or {})
        for version in LEGACY_PROTOCOLS:
            with contextlib.suppress(OSError, TimeoutError, ssl.SSLError):
                legacy = await _handshake(address, host, port, _legacy_context(version))
                await self._report(ctx, "tls-legacy-protocol", f"the server accepts {legacy.version()}", "confirmed")
                break

    async def _expiry(self, ctx: CheckContext, certificate: Mapping[str, object]) -> None:
        not_after = certificate.get("notAfter")
        if not isinstance(not_after, str):
            return
        days_left = (ssl.cert_time_to_seconds(not_after) - time.time()) / 86400
        if days_left < self.expiry_warning_days:
            await self._report(
                ctx,
                "tls-certificate-expiring",
                f"the certificate expires on {not_after} ({days_left:.0f} days)",
                "confirmed",
            )

    async def _report(self, ctx: CheckContext, type_id: str, problem: str, confidence: str) -> None:
        host = urlsplit(ctx.plan.base_url).netloc
        await ctx.report(
            FindingCandidate(
                type_id=type_id,
                url=site_url(ctx),
                evidence=f"TLS handshake with {host}: [[{problem}]]",
                confidence=confidence,  # type: ignore[arg-type]
                details={"problem": problem},
            )
        )


class HttpsRedirectCheck(CheckBase):
    """Reports a site that answers over plain HTTP instead of redirecting to HTTPS.

    For an ``http://`` base URL it reads the base page; for an ``https://`` base URL on port 443 it asks
    ``http://host/`` (which the scan's client may refuse as out of scope; then there is nothing to say).
    """

    id = "https-redirect"
    family = "tls"
    active = False

    async def scan(self, ctx: CheckContext) -> None:
        parts = urlsplit(ctx.plan.base_url)
        if parts.scheme == "https":
            if parts.port not in (None, 443):
                return
            url = urlunsplit(("http", parts.hostname or "", parts.path or "/", "", ""))
        else:
            url = ctx.plan.base_url
        exchange = await send(ctx, "GET", url)
        if exchange is None:
            return
        location = exchange.redirect_location or ""
        if 300 <= exchange.status < 400 and location.lower().startswith("https://"):
            return
        await ctx.report(
            FindingCandidate(
                type_id="http-not-redirected-to-https",
                url=site_url(ctx),
                evidence=f"{url} answered [[{exchange.status}]] over plain HTTP"
                + (f" redirecting to {location}" if location else ""),
                request=request_excerpt(exchange),
                response=response_excerpt(exchange, header="location"),
                confidence="confirmed",
            )
        )


CHECKS = [TlsCheck(), HttpsRedirectCheck()]
