"""Command-line commands of the scanner feature, added to ``spyglass`` by :func:`register`.

``spyglass scan URL`` runs a scan from the terminal, without the database or the web UI, writes a
report and, with ``--fail-on``, guards a CI pipeline. Exit codes: 0 done (nothing at or above
``--fail-on``), 1 a finding at or above ``--fail-on``, 2 bad input or an active scan of an unproven
target, 3 the target could not be scanned at all.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import typer

from spyglass.scanner.contract import SEVERITIES, FindingCandidate, ScanAuth, ScanPlan, ScanProgress, ScanSummary
from spyglass.scanner.reports import REPORT_FORMATS, ReportItem, ReportMeta, render_report

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from spyglass.config import Settings
    from spyglass.core.fetch import Fetcher

EXIT_FINDINGS, EXIT_USAGE, EXIT_NOT_SCANNED = 1, 2, 3
PROFILES = ("passive", "active", "custom")


@dataclass
class TerminalObserver:
    """A ScanObserver for the terminal: keeps the findings and moves a rich progress bar."""

    progress_bar: Progress | None = None
    task: TaskID | None = None
    findings: list[FindingCandidate] = field(default_factory=list)

    async def progress(self, progress: ScanProgress) -> None:
        if self.progress_bar is not None and self.task is not None:
            self.progress_bar.update(
                self.task,
                completed=progress.percent,
                description=progress.stage,
                pages=progress.pages_crawled,
                requests=progress.requests_sent,
                findings=progress.findings,
            )

    async def finding(self, finding: FindingCandidate) -> None:
        self.findings.append(finding)

    def cancelled(self) -> bool:
        return False


def parse_auth(
    cookie: str | None, header: str | None, login_url: str | None, login_fields: list[str]
) -> ScanAuth | None:
    """The scan's authentication from the command-line options (at most one kind); ValueError says what is wrong."""
    given = (("--auth-cookie", cookie), ("--auth-header", header), ("--login-url", login_url))
    chosen = [name for name, value in given if value]
    if len(chosen) > 1:
        raise ValueError(f"choose one way to log in, not {' and '.join(chosen)}")
    if login_fields and not login_url:
        raise ValueError("--login-field needs --login-url")
    if cookie:
        return ScanAuth(kind="cookie", cookie=cookie)
    if header:
        name, sep, value = header.partition(":")
        if not sep or not name.strip() or any(ch in name for ch in " \t\r\n"):
            raise ValueError("--auth-header must look like 'Name: value'")
        return ScanAuth(kind="header", header_name=name.strip(), header_value=value.strip())
    if login_url:
        fields: dict[str, str] = {}
        for entry in login_fields:
            name, sep, value = entry.partition("=")
            if not sep or not name:
                raise ValueError(f"--login-field {entry!r} must look like name=value")
            fields[name] = value
        if not fields:
            raise ValueError(
                "--login-url needs the form's fields: --login-field username=... --login-field password=..."
            )
        return ScanAuth(kind="form", login_url=login_url, fields=fields)
    return None


def check_url(url: str, *, option: str = "URL") -> str:
    """``url`` when it is an absolute http(s) URL; ValueError otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{option} must be an absolute http:// or https:// URL, not {url!r}")
    return url


async def active_scan_allowed(settings: Settings, fetcher: Fetcher, url: str, token: str | None) -> tuple[bool, str]:
    """Whether attacks may be sent to ``url``'s host: allow-listed by the operator, or the token file proves it."""
    from spyglass.scanner.verification import check_file, is_allow_listed, proof_file_url

    host = urlsplit(url).hostname or ""
    if is_allow_listed(settings, host):
        return True, f"{host} is in SPYGLASS_VERIFIED_TARGETS."
    if not token:
        return False, (
            f"active checks only run against targets you have proven you control: put your token in "
            f"{proof_file_url(url)} and pass it with --verification-token, or have the operator add "
            f"{host} to SPYGLASS_VERIFIED_TARGETS"
        )
    result = await check_file(fetcher, url, token)
    return result.verified, result.message


def report_items(findings: list[FindingCandidate], plan: ScanPlan) -> list[ReportItem]:
    """Findings with their catalogue entries and priorities, as the web reports compute them."""
    from spyglass.scanner.findings import finding_type_of
    from spyglass.scanner.priority import compute_priority

    items = []
    for finding in findings:
        kind = finding_type_of(finding.type_id, finding.details)
        priority = compute_priority(
            severity=kind.severity,
            confidence=finding.confidence,
            url=finding.url,
            cvss_vector=kind.cvss_vector,
            active=kind.active,
            requires_auth=plan.auth is not None,
        )
        items.append(ReportItem(finding, kind, priority.score, "open", priority.threat_class))
    return items


def at_or_above(items: list[ReportItem], threshold: str) -> list[ReportItem]:
    """The items whose severity is ``threshold`` or worse."""
    limit = SEVERITIES.index(threshold)
    return [item for item in items if SEVERITIES.index(item.type.severity) <= limit]


async def _run_scan(
    settings: Settings, plan: ScanPlan, token: str | None, show_progress: bool
) -> tuple[ScanSummary, list[FindingCandidate], str | None]:
    """Run the pipeline (after the proof check when active checks are chosen); the third value is why it was refused."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from spyglass.cli import console
    from spyglass.core.fetch import Fetcher
    from spyglass.scanner.checks.registry import select_checks
    from spyglass.scanner.pipeline import run_pipeline

    async with Fetcher(settings) as fetcher:
        needs_proof = any(check.active for check in select_checks(_replace(plan, active_allowed=True)))
        if needs_proof:
            allowed, reason = await active_scan_allowed(settings, fetcher, plan.base_url, token)
            if not allowed:
                return ScanSummary(), [], reason
            plan = _replace(plan, active_allowed=True)
        observer = TerminalObserver()
        if not show_progress:
            return await run_pipeline(plan, fetcher, observer), observer.findings, None
        columns = (
            TextColumn("{task.description:<10}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TextColumn(
                "{task.fields[pages]} pages, {task.fields[requests]} requests, {task.fields[findings]} findings"
            ),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=console, transient=True) as progress_bar:
            observer.progress_bar = progress_bar
            observer.task = progress_bar.add_task("starting", total=100, pages=0, requests=0, findings=0)
            summary = await run_pipeline(plan, fetcher, observer)
        return summary, observer.findings, None


def _replace(plan: ScanPlan, **changes: object) -> ScanPlan:
    from dataclasses import replace

    return replace(plan, **changes)  # type: ignore[arg-type]


def register(app: typer.Typer) -> None:
    """Add this feature's commands to the main CLI app."""
    app.command("scan")(scan_command)


def scan_command(
    url: str = typer.Argument(..., help="The site to scan, e.g. https://shop.example.com/"),
    profile: str = typer.Option("passive", help="passive (crawl and analyse), active (also attacks) or custom."),
    family: list[str] = typer.Option([], help="Check family to run (repeat); the custom profile needs one."),
    include: list[str] = typer.Option([], help="Only scan paths starting with this (or matching a * glob); repeat."),
    exclude: list[str] = typer.Option([], help="Never request paths starting with this (or matching a glob); repeat."),
    max_pages: int = typer.Option(200, min=1, max=100_000, help="Most pages the crawler visits."),
    max_depth: int = typer.Option(5, min=0, max=50, help="Most links away from the start page."),
    max_requests: int = typer.Option(5000, min=1, max=1_000_000, help="Request budget of the whole scan."),
    time_limit: float = typer.Option(1800.0, min=1, max=86_400, help="Seconds before the scan stops."),
    rate: float = typer.Option(
        10.0,
        min=0.1,
        max=1000,
        help="Requests per second at most (SPYGLASS_HTTP_PER_HOST_DELAY_SECONDS, 1 s by default, also applies).",
    ),
    concurrency: int = typer.Option(4, min=1, max=64, help="Requests in flight at once at most."),
    auth_cookie: str | None = typer.Option(None, help="Cookie header to send, e.g. 'session=abc'."),
    auth_header: str | None = typer.Option(None, help="Header to send, e.g. 'Authorization: Bearer abc'."),
    login_url: str | None = typer.Option(None, help="Log in first by posting a form to this URL."),
    login_field: list[str] = typer.Option([], help="A login form field as name=value (repeat)."),
    verification_token: str | None = typer.Option(
        None,
        envvar="SPYGLASS_SCAN_VERIFICATION_TOKEN",
        help="Your token, served at /.well-known/spyglass-verification.txt.",
    ),
    browser: bool = typer.Option(False, "--browser", help="Also render pages in headless chromium."),
    report_format: str = typer.Option("json", "--format", help="Report format: json, sarif, html or csv."),
    output: Path | None = typer.Option(None, help="Write the report here (default: standard output)."),
    fail_on: str | None = typer.Option(None, help="Exit 1 when a finding of this severity or worse is found."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
) -> None:
    """Scan a site from the terminal and write a report (JSON, SARIF, HTML or CSV).

    Active checks run only on hosts in SPYGLASS_VERIFIED_TARGETS, or whose token file holds --verification-token.

    Exit codes: 0 done, 1 a finding at or above --fail-on, 2 bad input or refused, 3 nothing could be scanned.
    """
    from spyglass.cli import console, fail, load_settings

    settings = load_settings(exit_code=EXIT_USAGE)
    try:
        check_url(url)
        if login_url:
            check_url(login_url, option="--login-url")
        auth = parse_auth(auth_cookie, auth_header, login_url, login_field)
        if profile not in PROFILES:
            raise ValueError(f"--profile must be one of {', '.join(PROFILES)}, not {profile!r}")
        if report_format not in REPORT_FORMATS:
            raise ValueError(f"--format must be one of {', '.join(REPORT_FORMATS)}, not {report_format!r}")
        if fail_on is not None and fail_on not in SEVERITIES:
            raise ValueError(f"--fail-on must be one of {', '.join(SEVERITIES)}, not {fail_on!r}")
        if profile == "custom" and not family:
            raise ValueError("the custom profile needs at least one --family")
        _check_families(family)
    except ValueError as exc:
        fail(str(exc), EXIT_USAGE)
    plan = ScanPlan(
        base_url=url,
        profile=profile,  # type: ignore[arg-type]  # checked against PROFILES above
        families=frozenset(family),
        include_paths=tuple(include),
        exclude_paths=tuple(exclude),
        max_depth=max_depth,
        max_pages=max_pages,
        max_requests=max_requests,
        time_limit_seconds=time_limit,
        requests_per_second=rate,
        concurrency=concurrency,
        auth=auth,
        use_browser=browser,
    )
    started = datetime.now(UTC)
    show_progress = not quiet and console.is_terminal
    summary, findings, refused = asyncio.run(_run_scan(settings, plan, verification_token, show_progress))
    if refused is not None:
        fail(f"Active scan refused: {refused}", EXIT_USAGE)
    if summary.pages_crawled == 0:
        reason = summary.errors[0] if summary.errors else "no page could be fetched"
        fail(f"Nothing was scanned: {reason}", EXIT_NOT_SCANNED)
    items = report_items(findings, plan)
    _write_report(report_format, items, plan, summary, started, output)
    _print_summary(items, summary)
    if fail_on is not None:
        failing = at_or_above(items, fail_on)
        if failing:
            console.print(f"{len(failing)} finding(s) at or above {fail_on}: failing.")
            raise typer.Exit(EXIT_FINDINGS)


def _check_families(families: list[str]) -> None:
    from spyglass.scanner.checks.registry import families as known_families

    known = known_families()
    unknown = sorted(set(families) - set(known))
    if unknown:
        noun = "families" if len(unknown) > 1 else "family"
        raise ValueError(f"unknown check {noun} {', '.join(unknown)}; known: {', '.join(known) or 'none'}")


def _write_report(
    report_format: str,
    items: list[ReportItem],
    plan: ScanPlan,
    summary: ScanSummary,
    started: datetime,
    output: Path | None,
) -> None:
    from spyglass.cli import fail
    from spyglass.scanner.priority import scan_risk_score

    meta = ReportMeta(
        target=plan.base_url,
        started_at=started,
        finished_at=datetime.now(UTC),
        profile=plan.profile,
        risk_score=scan_risk_score(item.priority for item in items),
        pages_crawled=summary.pages_crawled,
        requests_sent=summary.requests_sent,
        stopped_reason=summary.stopped_reason,
    )
    text = render_report(report_format, items, meta)
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"Could not write the report to {output}: {exc.strerror or exc}", EXIT_USAGE)


def _print_summary(items: list[ReportItem], summary: ScanSummary) -> None:
    from rich.markup import escape

    from spyglass.cli import console

    counts = dict.fromkeys(SEVERITIES, 0)
    for item in items:
        counts[item.type.severity] += 1
    found = ", ".join(f"{count} {severity}" for severity, count in counts.items() if count) or "nothing"
    console.print(
        f"Scanned {summary.pages_crawled} pages with {summary.requests_sent} requests; found {found}."
        + (f" Stopped early: {summary.stopped_reason}." if summary.stopped_reason else "")
    )
    for error in summary.errors[:5]:
        console.print(f"[yellow]Note:[/yellow] {escape(error)}")
