"""Cookie flags: Secure (on HTTPS sites), HttpOnly and SameSite. One finding per cookie name and flag."""

from __future__ import annotations

from dataclasses import dataclass

from spyglass.scanner.checks.base import CheckContext
from spyglass.scanner.checks.passive._evidence import mark_first, request_excerpt, response_excerpt
from spyglass.scanner.contract import FindingCandidate


@dataclass(frozen=True)
class SetCookie:
    """A parsed Set-Cookie header: the name and the lower-cased attribute names with their values."""

    raw: str
    name: str
    attributes: dict[str, str]


def parse_set_cookie(raw: str) -> SetCookie | None:
    """Parse one Set-Cookie value; None when it has no ``name=``."""
    first, *rest = raw.split(";")
    if "=" not in first:
        return None
    attributes = {}
    for part in rest:
        key, _, value = part.strip().partition("=")
        if key:
            attributes[key.strip().lower()] = value.strip()
    return SetCookie(raw, first.split("=", 1)[0].strip(), attributes)


class CookieFlagsCheck:
    """Reports cookies set without Secure (HTTPS only), HttpOnly or SameSite, once per cookie name."""

    id = "cookie-flags"
    family = "cookies"
    active = False

    async def run(self, ctx: CheckContext) -> None:
        reported: set[tuple[str, str]] = set()
        for page in ctx.pages:
            https = page.exchange.url.startswith("https://")
            for raw in page.exchange.set_cookies:
                cookie = parse_set_cookie(raw)
                if cookie is None or "max-age=0" in raw.lower().replace(" ", ""):  # deletions carry no value
                    continue
                missing = []
                if https and "secure" not in cookie.attributes:
                    missing.append(("cookie-no-secure", "Secure"))
                if "httponly" not in cookie.attributes:
                    missing.append(("cookie-no-httponly", "HttpOnly"))
                if cookie.attributes.get("samesite", "").lower() not in {"lax", "strict"}:
                    missing.append(("cookie-no-samesite", "SameSite=Lax or Strict"))
                for type_id, flag in missing:
                    if (type_id, cookie.name) in reported:
                        continue
                    reported.add((type_id, cookie.name))
                    marked = mark_first(raw, raw) or raw
                    await ctx.report(
                        FindingCandidate(
                            type_id=type_id,
                            url=page.url,
                            parameter=cookie.name,
                            evidence=f"Set-Cookie: {marked} — no {flag}",
                            request=request_excerpt(page.exchange),
                            response=response_excerpt(page.exchange, header="set-cookie"),
                            confidence="firm",
                        )
                    )


CHECKS = [CookieFlagsCheck()]
