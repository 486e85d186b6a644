"""Page content: directory listings, sensitive pages a cache may keep, and mixed content on HTTPS pages."""

from __future__ import annotations

import re

from selectolax.lexbor import LexborHTMLParser

from spyglass.scanner.checks.base import CheckContext, Page
from spyglass.scanner.checks.passive._base import CheckBase
from spyglass.scanner.checks.passive._evidence import (
    html_pages,
    mark_match,
    path_of,
    request_excerpt,
    response_excerpt,
)
from spyglass.scanner.contract import FindingCandidate

DIRECTORY_LISTING = re.compile(
    r"<title>\s*(?:Index of /|Directory listing for /)[^<]*</title>|<h1>\s*Index of /[^<]*</h1>", re.IGNORECASE
)
SENSITIVE_PATH = re.compile(
    r"/(?:login|log-in|signin|sign-in|account|accounts|admin|settings|checkout|payment|billing|password)(?:/|$|\.)",
    re.IGNORECASE,
)
ACTIVE_MIXED = {"script": "src", "iframe": "src", "object": "data", "embed": "src"}
PASSIVE_MIXED = {"img": "src", "audio": "src", "video": "src", "source": "src"}


def _is_sensitive(page: Page) -> bool:
    has_password = re.search(r"<input[^>]+type=[\"']?password", page.exchange.body, re.IGNORECASE) is not None
    return has_password or SENSITIVE_PATH.search(path_of(page.url)) is not None


def _cacheable(page: Page) -> bool:
    cache_control = page.exchange.headers.get("cache-control", "").lower()
    return "no-store" not in cache_control


def mixed_references(page: Page) -> list[tuple[str, str]]:
    """``(tag, url)`` of the plain-HTTP resources an HTTPS page loads."""
    tree = LexborHTMLParser(page.exchange.body)
    found = []
    for tag, attribute in {**ACTIVE_MIXED, **PASSIVE_MIXED}.items():
        for node in tree.css(f"{tag}[{attribute}]"):
            url = (node.attributes.get(attribute) or "").strip()
            if url.lower().startswith("http://"):
                found.append((tag, url))
    for node in tree.css("link[href]"):
        url = (node.attributes.get("href") or "").strip()
        if "stylesheet" in (node.attributes.get("rel") or "").lower() and url.lower().startswith("http://"):
            found.append(("link", url))
    return found


class ContentCheck(CheckBase):
    """Reads crawled pages; sends nothing."""

    id = "page-content"
    family = "content"
    active = False

    async def scan(self, ctx: CheckContext) -> None:
        for page in html_pages(ctx):
            listing = DIRECTORY_LISTING.search(page.exchange.body)
            if listing:
                await ctx.report(
                    FindingCandidate(
                        type_id="directory-listing",
                        url=page.url,
                        evidence=mark_match(page.exchange.body, listing),
                        request=request_excerpt(page.exchange),
                        response=response_excerpt(page.exchange, needle=listing.group(0)),
                        confidence="confirmed",
                    )
                )
            if _is_sensitive(page) and _cacheable(page):
                await ctx.report(
                    FindingCandidate(
                        type_id="cacheable-sensitive-page",
                        url=page.url,
                        evidence="Cache-Control: "
                        + (page.exchange.headers.get("cache-control") or "(none)")
                        + " on a page with credentials or account data",
                        request=request_excerpt(page.exchange),
                        response=response_excerpt(page.exchange, header="cache-control"),
                        confidence="firm",
                    )
                )
            if page.url.startswith("https://"):
                references = mixed_references(page)
                if references:
                    tag, url = references[0]
                    await ctx.report(
                        FindingCandidate(
                            type_id="mixed-content",
                            url=page.url,
                            evidence=f"<{tag}> loads {url} over plain HTTP",
                            request=request_excerpt(page.exchange),
                            response=response_excerpt(page.exchange, needle=url),
                            confidence="firm",
                            details={"resources": [u for _, u in references], "active": tag in ACTIVE_MIXED},
                        )
                    )


CHECKS = [ContentCheck()]
