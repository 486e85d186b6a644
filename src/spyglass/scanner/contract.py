"""The contract between the scan pipeline (crawler + checks) and the scanner feature around it.

The pipeline (``spyglass.scanner.pipeline.run_pipeline``) is a library: given a :class:`ScanPlan`,
the platform fetcher and a :class:`ScanObserver`, it crawls the target, runs the checks the plan
allows and reports :class:`FindingCandidate` objects and :class:`ScanProgress` as it goes. It knows
nothing of the database; the ``scanner.scan`` job kind persists what it reports.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

Profile = Literal["passive", "active", "custom"]
Confidence = Literal["tentative", "firm", "confirmed"]
Severity = Literal["critical", "high", "medium", "low", "info"]
SEVERITIES: tuple[Severity, ...] = ("critical", "high", "medium", "low", "info")


@dataclass(frozen=True)
class ScanAuth:
    """How the scan logs in: a cookie header value, one extra header, or a login form.

    ``kind="form"`` posts ``fields`` (username and password included) to ``login_url`` first and
    keeps the cookies it gets.
    """

    kind: Literal["cookie", "header", "form"]
    cookie: str = ""
    header_name: str = ""
    header_value: str = ""
    login_url: str = ""
    fields: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ScanPlan:
    """Everything the pipeline needs to scan one target once.

    ``families`` names the check families to run (see ``spyglass.scanner.checks.registry``);
    empty means every family the profile allows. Active checks run only when ``active_allowed``
    (the target's ownership was verified or the host is allow-listed): the pipeline refuses them
    otherwise, whatever the profile says.
    """

    base_url: str
    profile: Profile = "passive"
    families: frozenset[str] = frozenset()
    include_paths: tuple[str, ...] = ()
    exclude_paths: tuple[str, ...] = ()
    max_depth: int = 5
    max_pages: int = 200
    max_requests: int = 5000
    time_limit_seconds: float = 1800.0
    requests_per_second: float = 10.0
    concurrency: int = 4
    auth: ScanAuth | None = None
    use_browser: bool = False
    callback_base_url: str | None = None
    active_allowed: bool = False


@dataclass
class FindingCandidate:
    """One issue the pipeline found. ``type_id`` is a key of the finding catalogue.

    ``evidence`` is the matching excerpt; ``request`` and ``response`` are short excerpts of the
    exchange with the matching part marked by ``[[`` and ``]]``.
    """

    type_id: str
    url: str
    method: str = "GET"
    parameter: str | None = None
    payload: str | None = None
    evidence: str = ""
    request: str = ""
    response: str = ""
    confidence: Confidence = "firm"
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        """Stable across scans: the check, the normalised path (no query, no trailing slash) and the parameter."""
        parts = urlsplit(self.url)
        path = (parts.path or "/").rstrip("/") or "/"
        key = f"{self.type_id}|{parts.scheme}://{parts.netloc.lower()}{path}|{self.parameter or ''}"
        return hashlib.sha256(key.encode()).hexdigest()[:40]


@dataclass(frozen=True)
class FindingType:
    """A catalogue entry: what a finding type means, apart from the code that detects it."""

    id: str
    title: str
    family: str
    cwe: int
    owasp: str  # OWASP Top 10 2021 category, e.g. "A03:2021-Injection"
    severity: Severity
    description: str
    remediation: str
    references: tuple[str, ...] = ()
    cvss_vector: str = ""  # CVSS 3.1 base vector, e.g. "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N"
    cvss_score: float = 0.0
    active: bool = False


@dataclass
class ScanProgress:
    """Where a scan is: counts so far, a stage message and a percentage."""

    stage: str = "starting"
    percent: int = 0
    pages_crawled: int = 0
    requests_sent: int = 0
    findings: int = 0


@dataclass
class ScanSummary:
    """How a pipeline run ended: ``stopped_reason`` is None, "budget", "time limit" or "cancelled";
    ``failed_checks`` are the ids of checks that raised (their findings may be missing)."""

    pages_crawled: int = 0
    requests_sent: int = 0
    findings: int = 0
    stopped_reason: str | None = None
    errors: list[str] = field(default_factory=list)
    failed_checks: list[str] = field(default_factory=list)


class ScanObserver(Protocol):
    """Receives what the pipeline finds as it goes (the job kind persists and publishes it)."""

    async def progress(self, progress: ScanProgress) -> None: ...

    async def finding(self, finding: FindingCandidate) -> None: ...

    def cancelled(self) -> bool: ...
