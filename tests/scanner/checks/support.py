"""Running checks in tests the way the pipeline does: the real crawler and scan client on the platform fetcher,
against the test apps on 127.0.0.1, with the findings collected in a list."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from spyglass.config import Settings
from spyglass.core.fetch import Fetcher
from spyglass.core.retry import RetryPolicy
from spyglass.scanner.checks.base import Check, CheckContext, InjectionPoint, Page
from spyglass.scanner.contract import FindingCandidate, ScanPlan
from spyglass.scanner.crawler import Crawler
from spyglass.scanner.http import ScanClient


def scan_settings(**overrides: Any) -> Settings:
    """Settings for scans of 127.0.0.1 without the production politeness delay."""
    values: dict[str, Any] = {
        "allow_private_targets": "127.0.0.1/32,localhost",
        "http_per_host_delay_seconds": 0,
        "http_per_host_concurrency": 8,
        "http_timeout_seconds": 10,
        "scanner_pipeline_progress_interval_seconds": 0.05,
    }
    return Settings(_env_file=None, **{**values, **overrides})


def scan_plan(base_url: str, **overrides: Any) -> ScanPlan:
    """An active, verified plan without the production pacing."""
    values: dict[str, Any] = {"profile": "active", "active_allowed": True, "requests_per_second": 2000.0,
                              "concurrency": 4, "max_requests": 20_000, "max_pages": 200}  # fmt: skip
    return ScanPlan(base_url=base_url, **{**values, **overrides})


def finding_key(finding: FindingCandidate) -> tuple[str, str, str | None, str]:
    """What the ground truth compares: type, path, parameter, confidence."""
    return finding.type_id, urlsplit(finding.url).path or "/", finding.parameter, finding.confidence


@dataclass
class Harness:
    """A crawled site, the scan client and the findings checks reported."""

    plan: ScanPlan
    http: ScanClient
    pages: list[Page]
    injection_points: list[InjectionPoint]
    findings: list[FindingCandidate] = field(default_factory=list)

    def context(self) -> CheckContext:
        async def report(finding: FindingCandidate) -> None:
            self.findings.append(finding)

        return CheckContext(self.plan, self.http, self.pages, self.injection_points, report)

    async def run(self, *checks: Check) -> list[FindingCandidate]:
        """Run ``checks`` one after the other; the findings they report (also kept in ``findings``)."""
        start = len(self.findings)
        for check in checks:
            await check.run(self.context())
        return self.findings[start:]

    async def keys(self, *checks: Check) -> list[tuple[str, str, str | None, str]]:
        """Run ``checks``; the sorted keys of their findings (duplicates kept, so they show)."""
        return sorted(finding_key(finding) for finding in await self.run(*checks))


@asynccontextmanager
async def crawled(
    base_url: str, *, verify: ssl.SSLContext | bool = True, plan: ScanPlan | None = None
) -> AsyncIterator[Harness]:
    """Crawl ``base_url`` with the real crawler and scan client and yield the harness for running checks."""
    async with Fetcher(scan_settings(), retry=RetryPolicy(attempts=1), verify=verify) as fetcher:
        plan = plan or scan_plan(base_url)
        client = ScanClient(plan, fetcher)
        result = await Crawler(client).crawl()
        yield Harness(plan, client, result.pages, result.injection_points)
