"""A robots.txt cache for bots that honour it (protego), one entry per site, fetched under the URL policy.

Like Google: a robots.txt that cannot be reached, or answers 4xx, allows
everything; a 5xx disallows everything for a while (``error_ttl``), then we ask again.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx
from protego import Protego

if TYPE_CHECKING:
    from spyglass.core.fetch import Fetcher

ROBOTS_MAX_BYTES = 500_000  # what Google reads of a robots.txt


@dataclass(frozen=True)
class RobotsRules:
    """What one site's robots.txt says; ``parser`` is None when everything is allowed or disallowed."""

    expires_at: float
    parser: Protego | None = None
    allow_all: bool = True

    def allows(self, url: str, agent: str) -> bool:
        if self.parser is None:
            return self.allow_all
        return bool(self.parser.can_fetch(url, agent))

    def crawl_delay(self, agent: str) -> float | None:
        if self.parser is None:
            return None
        delay = self.parser.crawl_delay(agent)
        return float(delay) if delay is not None else None


class RobotsCache:
    """robots.txt rules per site (scheme, host, port), kept for ``ttl`` seconds; one fetch per site at a time."""

    def __init__(
        self,
        fetcher: Fetcher,
        *,
        user_agent: str,
        ttl: float = 3600.0,
        error_ttl: float = 600.0,
        max_sites: int = 10_000,
    ) -> None:
        self._fetcher = fetcher
        self.agent = user_agent.split("/", 1)[0].strip() or user_agent
        self.ttl = ttl
        self.error_ttl = error_ttl
        self._max_sites = max_sites
        self._rules: dict[str, RobotsRules] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self.fetches = 0

    async def allowed(self, url: str) -> bool:
        """Whether robots.txt lets our user agent fetch ``url``."""
        return (await self.rules_for(url)).allows(url, self.agent)

    async def rules_for(self, url: str) -> RobotsRules:
        """The cached rules of ``url``'s site, fetching robots.txt when missing or stale."""
        site = _site(url)
        rules = self._rules.get(site)
        if rules is not None and rules.expires_at > time.monotonic():
            return rules
        lock = self._locks.setdefault(site, asyncio.Lock())
        async with lock:
            rules = self._rules.get(site)
            if rules is None or rules.expires_at <= time.monotonic():
                rules = await self._load(site)
                if len(self._rules) >= self._max_sites:
                    self._rules.clear()
                    self._locks = {site: lock}
                self._rules[site] = rules
        return rules

    async def _load(self, site: str) -> RobotsRules:
        from spyglass.core.fetch import FetchError

        self.fetches += 1
        try:
            result = await self._fetcher.fetch(
                f"{site}/robots.txt", retry=None, raise_for_status=False, max_bytes=ROBOTS_MAX_BYTES, truncate=True
            )
        except FetchError:
            return RobotsRules(expires_at=time.monotonic() + self.error_ttl, allow_all=True)
        now = time.monotonic()
        if result.status_code >= 500:
            return RobotsRules(expires_at=now + self.error_ttl, allow_all=False)
        if result.status_code >= 300:  # 4xx, or redirects that never ended
            return RobotsRules(expires_at=now + self.ttl, allow_all=True)
        return RobotsRules(expires_at=now + self.ttl, parser=Protego.parse(result.text))


def _site(url: str) -> str:
    parsed = httpx.URL(url)
    default = 443 if parsed.scheme == "https" else 80
    port = f":{parsed.port}" if parsed.port not in (None, default) else ""
    host = f"[{parsed.host}]" if ":" in parsed.host else parsed.host
    return f"{parsed.scheme}://{host}{port}"
