"""run_pipeline on the demo site: checks selected by profile, findings de-duplicated, progress, stops, errors."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest

from spyglass.core.fetch import Fetcher
from spyglass.scanner.checks.base import BudgetExhausted, CheckContext
from spyglass.scanner.checks.registry import all_checks, select_checks
from spyglass.scanner.contract import FindingCandidate, ScanPlan, ScanProgress
from spyglass.scanner.pipeline import run_pipeline
from tests.scanner.pipeline.site import DemoSite
from tests.support.http_server import LocalHttpServer


@dataclass
class Recorder:
    """A ScanObserver that keeps everything; ``cancel_after`` findings it answers "cancelled"."""

    cancel_after: int | None = None
    progress_reports: list[ScanProgress] = field(default_factory=list)
    findings: list[FindingCandidate] = field(default_factory=list)

    async def progress(self, progress: ScanProgress) -> None:
        self.progress_reports.append(progress)

    async def finding(self, finding: FindingCandidate) -> None:
        self.findings.append(finding)

    def cancelled(self) -> bool:
        return self.cancel_after is not None and len(self.findings) >= self.cancel_after


class MissingHeaderCheck:
    """A passive check: every HTML page without X-Frame-Options (reported twice, to test de-duplication)."""

    id = "test.missing-xfo"
    family = "headers"
    active = False

    async def run(self, ctx: CheckContext) -> None:
        for page in ctx.pages:
            if page.content_type == "text/html" and "x-frame-options" not in page.exchange.headers:
                for _ in range(2):
                    await ctx.report(FindingCandidate("test-missing-xfo", page.url, evidence="no X-Frame-Options"))


class ReflectionCheck:
    """An active check: sends a marker to every query injection point and reports reflections."""

    id = "test.reflection"
    family = "xss"
    active = True

    def __init__(self) -> None:
        self.sent = 0

    async def run(self, ctx: CheckContext) -> None:
        for point in ctx.injection_points:
            if point.location != "query":
                continue
            self.sent += 1
            exchange = await ctx.http.send("GET", point.url, params={**dict(point.params), point.parameter: "zq<1>"})
            if "zq<1>" in exchange.body:
                await ctx.report(FindingCandidate("test-reflection", point.url, parameter=point.parameter))


class SlowCheck:
    """Keeps requesting a slow page until the scan stops it."""

    id = "test.slow"
    family = "slow"
    active = False

    async def run(self, ctx: CheckContext) -> None:
        while not ctx.cancelled():
            await ctx.http.send("GET", ctx.plan.base_url.rstrip("/") + "/slow?seconds=0.2")


class BrokenCheck:
    id = "test.broken"
    family = "headers"
    active = False

    async def run(self, ctx: CheckContext) -> None:
        raise RuntimeError("parser exploded")


def plan_for(server: LocalHttpServer, **overrides: object) -> ScanPlan:
    values: dict[str, object] = {"base_url": server.url("/"), "requests_per_second": 0, "concurrency": 4}
    return ScanPlan(**{**values, **overrides})  # type: ignore[arg-type]


def test_select_checks_by_profile_families_and_verification() -> None:
    passive, active = MissingHeaderCheck(), ReflectionCheck()
    checks = [passive, active]

    def ids(**plan: object) -> list[str]:
        return [c.id for c in select_checks(ScanPlan("http://shop.test/", **plan), checks)]  # type: ignore[arg-type]

    assert ids(profile="passive", active_allowed=True) == ["test.missing-xfo"]
    assert ids(profile="active", active_allowed=True) == ["test.missing-xfo", "test.reflection"]
    assert ids(profile="active", active_allowed=False) == ["test.missing-xfo"]  # never unverified
    assert ids(profile="custom", families=frozenset({"xss"}), active_allowed=True) == ["test.reflection"]
    assert ids(profile="custom", families=frozenset({"xss"}), active_allowed=False) == []
    assert ids(profile="custom", families=frozenset({"headers"})) == ["test.missing-xfo"]


def test_registry_collects_checks_with_unique_ids() -> None:
    checks = all_checks()
    assert len({check.id for check in checks}) == len(checks)
    for check in checks:
        assert check.family and isinstance(check.active, bool)


async def test_passive_scan_reports_each_finding_once(
    site: DemoSite, server: LocalHttpServer, fetcher: Fetcher
) -> None:
    recorder = Recorder()
    summary = await run_pipeline(plan_for(server), fetcher, recorder, checks=[MissingHeaderCheck(), ReflectionCheck()])
    urls = [finding.url for finding in recorder.findings]
    assert server.url("/about") in urls and server.url("/contact") in urls
    assert len(urls) == len(set(urls))  # reported twice by the check, once by the pipeline
    assert summary.findings == len(recorder.findings)
    assert summary.stopped_reason is None and summary.errors == []
    assert summary.requests_sent == len(server.requests)
    assert summary.pages_crawled > 10
    # The active check did not run: no payload reached the server.
    assert not any("zq" in request.target for request in server.requests)
    percents = [report.percent for report in recorder.progress_reports]
    assert percents == sorted(percents)
    assert recorder.progress_reports[0].stage == "crawling"
    assert "checking" in [report.stage for report in recorder.progress_reports]
    last = recorder.progress_reports[-1]
    assert (last.stage, last.percent, last.findings, last.requests_sent) == ("done", 100, summary.findings,
                                                                             summary.requests_sent)  # fmt: skip


async def test_active_scan_runs_active_checks_only_when_allowed(
    site: DemoSite, server: LocalHttpServer, fetcher: Fetcher
) -> None:
    check = ReflectionCheck()
    await run_pipeline(plan_for(server, profile="active", max_pages=5), fetcher, Recorder(), checks=[check])
    assert check.sent == 0
    recorder = Recorder()
    await run_pipeline(plan_for(server, profile="active", active_allowed=True), fetcher, recorder, checks=[check])
    assert check.sent > 0
    assert any("zq" in request.target for request in server.requests)
    # The demo site does not reflect parameters: nothing found, nothing made up.
    assert recorder.findings == []


async def test_request_budget_stops_the_scan(site: DemoSite, server: LocalHttpServer, fetcher: Fetcher) -> None:
    recorder = Recorder()
    summary = await run_pipeline(plan_for(server, max_requests=8), fetcher, recorder, checks=[SlowCheck()])
    assert summary.stopped_reason == "budget"
    assert len(server.requests) == 8 == summary.requests_sent
    assert recorder.progress_reports[-1].stage == "stopped"


async def test_time_limit_stops_the_scan(site: DemoSite, server: LocalHttpServer, fetcher: Fetcher) -> None:
    summary = await run_pipeline(
        plan_for(server, max_pages=3, time_limit_seconds=1.0), fetcher, Recorder(), checks=[SlowCheck()]
    )
    assert summary.stopped_reason == "time limit"
    sent = len(server.requests)
    await asyncio.sleep(0.3)
    assert len(server.requests) == sent  # nothing keeps running after the pipeline returned


async def test_cancelled_scan_stops(site: DemoSite, server: LocalHttpServer, fetcher: Fetcher) -> None:
    recorder = Recorder(cancel_after=1)
    summary = await run_pipeline(
        plan_for(server, max_pages=3), fetcher, recorder, checks=[MissingHeaderCheck(), SlowCheck()]
    )
    assert summary.stopped_reason == "cancelled"
    sent = len(server.requests)
    await asyncio.sleep(0.3)
    assert len(server.requests) == sent


async def test_a_failing_check_is_recorded_and_the_others_run(
    site: DemoSite, server: LocalHttpServer, fetcher: Fetcher
) -> None:
    recorder = Recorder()
    summary = await run_pipeline(
        plan_for(server, max_pages=3), fetcher, recorder, checks=[BrokenCheck(), MissingHeaderCheck()]
    )
    assert summary.errors == ["Check test.broken failed: RuntimeError: parser exploded"]
    assert summary.findings > 0 and summary.stopped_reason is None


async def test_unreachable_target_ends_with_an_error_not_an_exception(fetcher: Fetcher) -> None:
    with LocalHttpServer() as gone:
        url = gone.url("/")
    summary = await run_pipeline(ScanPlan(url), fetcher, Recorder(), checks=[MissingHeaderCheck()])
    assert summary.pages_crawled == 0
    assert summary.errors and "could not be reached" in summary.errors[0]


async def test_caller_cancellation_propagates(site: DemoSite, server: LocalHttpServer, fetcher: Fetcher) -> None:
    task = asyncio.ensure_future(run_pipeline(plan_for(server), fetcher, Recorder(), checks=[SlowCheck()]))
    await asyncio.sleep(0.5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


@pytest.mark.slow
async def test_a_hundred_passive_scans_at_once(site: DemoSite, server: LocalHttpServer, fetcher: Fetcher) -> None:
    recorders = [Recorder() for _ in range(100)]
    summaries = await asyncio.gather(
        *(run_pipeline(plan_for(server, max_pages=5), fetcher, r, checks=[MissingHeaderCheck()]) for r in recorders)
    )
    assert all(s.stopped_reason is None and s.errors == [] and s.pages_crawled == 5 for s in summaries)
    assert all(r.findings and r.progress_reports[-1].stage == "done" for r in recorders)
    assert sum(s.requests_sent for s in summaries) == len(server.requests)


async def test_budget_exhausted_inside_a_check_is_quiet(
    site: DemoSite, server: LocalHttpServer, fetcher: Fetcher
) -> None:
    class Spender:
        id, family, active = "test.spender", "headers", False

        async def run(self, ctx: CheckContext) -> None:
            try:
                while True:
                    await ctx.http.send("GET", ctx.plan.base_url)
            except BudgetExhausted:
                await ctx.report(FindingCandidate("test-after-budget", ctx.plan.base_url))
                raise

    recorder = Recorder()
    summary = await run_pipeline(plan_for(server, max_pages=2, max_requests=10), fetcher, recorder, checks=[Spender()])
    assert summary.stopped_reason == "budget" and summary.errors == []
    assert [f.type_id for f in recorder.findings] == ["test-after-budget"]


class FailingRecorder(Recorder):
    """An observer whose store breaks: on the first finding, or on the ``fail_progress_at``-th progress report."""

    def __init__(self, *, fail_findings: bool = False, fail_progress_at: int | None = None) -> None:
        super().__init__()
        self.fail_findings = fail_findings
        self.fail_progress_at = fail_progress_at

    async def progress(self, progress: ScanProgress) -> None:
        if self.fail_progress_at is not None and len(self.progress_reports) + 1 >= self.fail_progress_at:
            raise ConnectionError("the database went away")
        await super().progress(progress)

    async def finding(self, finding: FindingCandidate) -> None:
        if self.fail_findings:
            raise ConnectionError("the database went away")
        await super().finding(finding)


async def test_an_observer_that_cannot_keep_a_finding_fails_the_run(
    site: DemoSite, server: LocalHttpServer, fetcher: Fetcher
) -> None:
    with pytest.raises(ConnectionError, match="database went away"):
        await run_pipeline(
            plan_for(server, max_pages=3), fetcher, FailingRecorder(fail_findings=True),
            checks=[MissingHeaderCheck(), SlowCheck()],
        )  # fmt: skip
    sent = len(server.requests)
    await asyncio.sleep(0.3)
    assert len(server.requests) == sent  # the other checks were cancelled, not left running


async def test_an_observer_failing_during_the_crawl_fails_the_run_without_hanging(
    site: DemoSite, server: LocalHttpServer, fetcher: Fetcher
) -> None:
    observer = FailingRecorder(fail_progress_at=2)
    with pytest.raises(ConnectionError):
        await asyncio.wait_for(run_pipeline(plan_for(server), fetcher, observer, checks=[MissingHeaderCheck()]), 30)
    assert [report.stage for report in observer.progress_reports] == ["crawling"]
