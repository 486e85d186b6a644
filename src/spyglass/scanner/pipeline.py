"""The scan pipeline: crawl the target, run the plan's checks, report findings and progress as they come.

``run_pipeline`` is a library call with no database: the ``scanner.scan`` job kind and ``spyglass scan``
both call it with their own :class:`~spyglass.scanner.contract.ScanObserver`. One scan is a handful of
coroutines on the caller's event loop (no threads), so a worker can run a hundred at once.

A scan stops early when its request budget or time limit is spent or the observer says it was cancelled;
the summary's ``stopped_reason`` says which. A check that fails is recorded in ``errors`` and the others
go on. Findings are reported once per fingerprint within a run; when the observer cannot keep one, its
error ends the run (the job is retried; re-reporting the findings it already kept is the observer's
de-duplication), so no finding is silently lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from spyglass.core.fetch import Fetcher
from spyglass.scanner.checks.base import BudgetExhausted, Check, CheckContext, Page
from spyglass.scanner.checks.registry import select_checks
from spyglass.scanner.contract import FindingCandidate, ScanObserver, ScanPlan, ScanProgress, ScanSummary
from spyglass.scanner.crawler import Crawler
from spyglass.scanner.http import ScanClient

logger = logging.getLogger(__name__)

CRAWL_SHARE = 40  # percent of the progress bar the crawl takes; the checks take the rest
MAX_ERRORS = 50
CANCEL_POLL_SECONDS = 0.25


class _Run:
    """The state of one pipeline run: counts, de-duplication, and rate-limited progress reports."""

    def __init__(self, plan: ScanPlan, client: ScanClient, observer: ScanObserver, interval: float) -> None:
        self.plan = plan
        self.client = client
        self.observer = observer
        self.interval = interval
        self.progress = ScanProgress()
        self.fingerprints: set[str] = set()
        self.errors: list[str] = []
        self.failed_checks: list[str] = []
        self._last_report = float("-inf")

    def error(self, message: str) -> None:
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(message)

    async def report_progress(self, *, stage: str | None = None, percent: int | None = None) -> None:
        """Send progress now when the stage changed, else at most once per ``interval``."""
        changed = stage is not None and stage != self.progress.stage
        if stage is not None:
            self.progress.stage = stage
        if percent is not None:
            self.progress.percent = max(self.progress.percent, min(percent, 100))
        self.progress.requests_sent = self.client.requests_sent
        now = time.monotonic()
        if changed or now - self._last_report >= self.interval:
            self._last_report = now
            try:
                await self.observer.progress(ScanProgress(**vars(self.progress)))
            except Exception as exc:
                raise ObserverFailed(exc) from exc

    async def on_page(self, page: Page) -> None:
        self.progress.pages_crawled += 1
        share = self.progress.pages_crawled * CRAWL_SHARE // max(1, self.plan.max_pages)
        await self.report_progress(percent=min(share, CRAWL_SHARE - 1))

    async def on_finding(self, finding: FindingCandidate) -> None:
        fingerprint = finding.fingerprint
        if fingerprint in self.fingerprints:
            return
        try:
            await self.observer.finding(finding)
        except Exception as exc:
            raise ObserverFailed(exc) from exc
        self.fingerprints.add(fingerprint)
        self.progress.findings += 1
        await self.report_progress()


class ObserverFailed(Exception):
    """The observer could not keep a finding (say, the database was down): the run fails instead of losing it."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


async def run_pipeline(
    plan: ScanPlan, fetcher: Fetcher, observer: ScanObserver, *, checks: list[Check] | None = None
) -> ScanSummary:
    """Crawl ``plan.base_url`` and run the checks the plan allows; returns how it went.

    ``checks`` replaces the registry's checks (still filtered by the plan's profile, families and
    ``active_allowed``). Every request goes through a :class:`ScanClient` on ``fetcher``.
    """
    client = ScanClient(plan, fetcher)
    run = _Run(plan, client, observer, fetcher.settings.scanner_pipeline_progress_interval_seconds)
    work = asyncio.ensure_future(_crawl_and_check(run, select_checks(plan, checks)))
    watcher = asyncio.ensure_future(_watch(run, work))
    try:
        await work
    except ObserverFailed as failed:
        raise failed.error from None  # the observer's own error, as if it had been called directly
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if client.stopped_reason is None or (current is not None and current.cancelling()):
            work.cancel()
            raise  # the caller cancelled us, not the watcher
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
    stopped = client.stopped_reason
    try:
        await run.report_progress(
            stage="stopped" if stopped else "done", percent=run.progress.percent if stopped else 100
        )
    except ObserverFailed as failed:
        raise failed.error from None
    return ScanSummary(
        pages_crawled=run.progress.pages_crawled,
        requests_sent=client.requests_sent,
        findings=run.progress.findings,
        stopped_reason=stopped,
        errors=run.errors,
        failed_checks=run.failed_checks,
    )


async def _watch(run: _Run, work: asyncio.Future[None]) -> None:
    """Stop the scan when the observer says it was cancelled or the time limit passed, even mid-request."""
    while not work.done():
        await asyncio.sleep(min(CANCEL_POLL_SECONDS, max(run.client.time_left, 0.01)))
        if run.observer.cancelled():
            run.client.stop("cancelled")
        elif run.client.time_left <= 0:
            run.client.stop("time limit")
        if run.client.stopped_reason is not None:
            work.cancel()
            return


async def _crawl_and_check(run: _Run, checks: list[Check]) -> None:
    await run.report_progress(stage="crawling", percent=0)
    browser = None
    if run.plan.use_browser:
        from spyglass.scanner.browser import ChromiumRenderer

        browser = ChromiumRenderer(run.client)
    try:
        crawl = await Crawler(run.client, on_page=run.on_page, browser=browser).crawl()
    finally:
        if browser is not None:
            await browser.aclose()
    for message in crawl.errors:
        run.error(message)
    if run.client.stopped_reason is not None or not crawl.pages:
        return
    await run.report_progress(stage="checking", percent=CRAWL_SHARE)
    context = CheckContext(
        plan=run.plan,
        http=run.client,
        pages=crawl.pages,
        injection_points=crawl.injection_points,
        report=run.on_finding,
        cancelled=lambda: run.client.stopped_reason is not None,
    )
    slots = asyncio.Semaphore(run.client.fetcher.settings.scanner_pipeline_check_concurrency)
    done = 0

    async def run_check(check: Check) -> None:
        nonlocal done
        async with slots:
            if run.client.stopped_reason is not None:
                return
            try:
                await check.run(context)
            except BudgetExhausted:
                return
            except ObserverFailed:
                raise
            except Exception as exc:  # one broken check must not end the scan
                logger.exception("scanner check %s failed", check.id)
                run.failed_checks.append(check.id)
                run.error(f"Check {check.id} failed: {type(exc).__name__}: {exc}")
            done += 1
            share = CRAWL_SHARE + done * (100 - CRAWL_SHARE) // max(1, len(checks))
            await run.report_progress(percent=min(share, 99))

    try:
        async with asyncio.TaskGroup() as group:  # a failure cancels the other checks: nothing runs on unseen
            for check in checks:
                group.create_task(run_check(check))
    except BaseExceptionGroup as group_error:
        raise group_error.exceptions[0] from None
