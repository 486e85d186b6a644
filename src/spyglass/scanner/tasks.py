"""Job kinds of the scanner feature, registered with the engine at import time.

``scanner.scan`` runs one scan: it re-checks the target's ownership when the scan has active
checks, builds the :class:`ScanPlan`, runs the pipeline with a :class:`ScanRecorder` that stores
findings as they come (once per fingerprint, so a re-executed run adds nothing twice), reports
progress, and on completion writes the counts, the risk score and the notifications.
"""

from __future__ import annotations

import asyncio
import importlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError

from spyglass.config import Settings
from spyglass.core.db import utcnow
from spyglass.core.services import Services
from spyglass.engine.context import RunContext
from spyglass.engine.kinds import JobKind, PermanentError, RetryPolicy, register_kind
from spyglass.scanner import findings, schedules, service, verification
from spyglass.scanner.callback import CallbackListener, start_from_settings
from spyglass.scanner.contract import FindingCandidate, ScanAuth, ScanPlan, ScanProgress, ScanSummary
from spyglass.scanner.models import Scan, ScanStatus, ScanTarget

COUNTS_WRITE_SECONDS = 2.0

Pipeline = Callable[[ScanPlan, Any, Any], Awaitable[ScanSummary]]


def _pipeline() -> Pipeline:
    module = importlib.import_module("spyglass.scanner.pipeline")
    run: Pipeline = module.run_pipeline
    return run


_CALLBACKS: dict[asyncio.AbstractEventLoop, CallbackListener] = {}
_CALLBACK_LOCKS: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}


async def callback_base_url(settings: Settings) -> str | None:
    """The SSRF callback listener's public URL, starting the process's listener on first use (None when
    ``scanner_callback_enabled`` is off). One listener per event loop, shared by every scan in it."""
    if not settings.scanner_callback_enabled:
        return None
    loop = asyncio.get_running_loop()
    for stale in [other for other in _CALLBACKS if other.is_closed()]:
        del _CALLBACKS[stale]
        _CALLBACK_LOCKS.pop(stale, None)
    async with _CALLBACK_LOCKS.setdefault(loop, asyncio.Lock()):
        listener = _CALLBACKS.get(loop)
        if listener is None:
            listener = await start_from_settings(settings)
            if listener is None:
                return None
            _CALLBACKS[loop] = listener
    return listener.base_url


def scan_auth(auth: dict[str, Any] | None) -> ScanAuth | None:
    """The stored scan login as the pipeline's :class:`ScanAuth`."""
    if not auth or auth.get("kind") not in service.AUTH_KINDS:
        return None
    return ScanAuth(
        kind=auth["kind"],
        cookie=str(auth.get("cookie", "")),
        header_name=str(auth.get("header_name", "")),
        header_value=str(auth.get("header_value", "")),
        login_url=str(auth.get("login_url", "")),
        fields={str(k): str(v) for k, v in (auth.get("fields") or {}).items()},
    )


def build_plan(
    target: ScanTarget, scan: Scan, *, active_allowed: bool, callback_base_url: str | None = None
) -> ScanPlan:
    """What the pipeline needs to scan ``target`` once, with the scan's profile and families."""
    return ScanPlan(
        base_url=target.base_url,
        profile=scan.profile,  # type: ignore[arg-type]
        families=frozenset(scan.families or ()),
        include_paths=tuple(target.include_paths or ()),
        exclude_paths=tuple(target.exclude_paths or ()),
        max_depth=target.max_depth,
        max_pages=target.max_pages,
        max_requests=target.max_requests,
        time_limit_seconds=float(target.time_limit_seconds),
        requests_per_second=target.requests_per_second,
        concurrency=target.concurrency,
        auth=scan_auth(target.auth),
        callback_base_url=callback_base_url,
        active_allowed=active_allowed,
    )


@dataclass
class ScanRecorder:
    """The :class:`ScanObserver` of a scan run: persists findings and publishes progress."""

    services: Services
    scan_id: int
    ctx: RunContext | None = None
    requires_auth: bool = False
    pages: int = 0
    requests: int = 0
    found: int = 0
    stage: str = "starting"
    _last_write: float = 0.0

    async def progress(self, progress: ScanProgress) -> None:
        self.pages, self.requests, self.stage = progress.pages_crawled, progress.requests_sent, progress.stage
        stage = f"{progress.stage}: {self.pages} pages, {self.requests} requests, {self.found} findings"
        if self.ctx is not None:
            self.ctx.stats.update(self.stats())
            await self.ctx.progress(progress.percent, stage)
        if time.monotonic() - self._last_write >= COUNTS_WRITE_SECONDS:
            await self.write_counts()

    async def finding(self, finding: FindingCandidate) -> None:
        try:
            await self._store(finding)
        except IntegrityError:
            # Another writer stored the same fingerprint between our read and our insert: it exists now.
            await self._store(finding)
        if self.ctx is not None:
            self.ctx.stats.update(self.stats())

    async def _store(self, finding: FindingCandidate) -> None:
        async with self.services.db.session(write=True) as session:
            scan = await session.get(Scan, self.scan_id)
            if scan is None:
                return
            _, created = await findings.record_finding(
                session, scan=scan, candidate=finding, requires_auth=self.requires_auth
            )
            if created:
                self.found = await findings.count_findings(session, scan.id)
                scan.findings_count = self.found

    def cancelled(self) -> bool:
        return self.ctx is not None and self.ctx.cancelled.is_set()

    def stats(self) -> dict[str, Any]:
        return {"pages": self.pages, "requests": self.requests, "findings": self.found, "stage": self.stage}

    async def write_counts(self) -> None:
        """Keep the scan row's counters close to live (at most every couple of seconds)."""
        self._last_write = time.monotonic()
        async with self.services.db.session(write=True) as session:
            scan = await session.get(Scan, self.scan_id)
            if scan is not None:
                scan.pages_crawled = max(scan.pages_crawled, self.pages)
                scan.requests_sent = max(scan.requests_sent, self.requests)


async def _start(services: Services, scan_id: int) -> tuple[Scan, ScanTarget] | None:
    """Mark the scan running; None when it already finished (a duplicate execution)."""
    async with services.db.session(write=True) as session:
        scan = await session.get(Scan, scan_id)
        if scan is None:
            raise PermanentError("This scan no longer exists.")
        if ScanStatus(scan.status).is_terminal:
            return None
        target = await session.get(ScanTarget, scan.target_id)
        if target is None:
            raise PermanentError("This scan's target no longer exists.")
        scan.status = ScanStatus.RUNNING.value
        scan.started_at = scan.started_at or utcnow()
        scan.error = None
        await session.flush()
        session.expunge_all()
        return scan, target


async def _fail(services: Services, scan_id: int, message: str, *, status: str = ScanStatus.FAILED.value) -> None:
    async with services.db.session(write=True) as session:
        scan = await session.get(Scan, scan_id)
        if scan is not None and not ScanStatus(scan.status).is_terminal:
            scan.status = status
            scan.error = message if status == ScanStatus.FAILED.value else None
            scan.stopped_reason = "cancelled" if status == ScanStatus.CANCELLED.value else scan.stopped_reason
            scan.finished_at = utcnow()


async def _recheck_ownership(services: Services, target: ScanTarget) -> None:
    """Active checks need the proof to hold now, not only when it was first checked. An administrator's
    vouch holds until withdrawn (``target`` was read when the scan started, after any withdrawal)."""
    if service.is_admin_vouched(target):
        return
    result = await verification.verify(
        settings=services.settings,
        fetcher=services.fetcher,
        base_url=target.base_url,
        host=target.host,
        token=target.verification_token,
    )
    async with services.db.session(write=True) as session:
        fresh = await session.get(ScanTarget, target.id)
        if fresh is not None:
            service.record_verification(fresh, result)
    if not result.verified:
        raise PermanentError(
            "Active checks were not run: the ownership proof of this target is no longer found. " + result.message
        )


async def run_scan(ctx: RunContext) -> dict[str, Any]:
    """The ``scanner.scan`` handler."""
    services = ctx.services
    if ctx.payload.get("scheduled"):  # a target's recurring scan: the run's subject is the target
        scan_id = await schedules.scan_for_run(
            services, run_id=ctx.run_id, target_id=int(ctx.subject_id or 0), user_id=ctx.user_id, payload=ctx.payload
        )
    else:
        scan_id = int(ctx.subject_id or 0)
    started = await _start(services, scan_id)
    if started is None:
        return {"skipped": "the scan had already finished"}
    scan, target = started
    active = service.needs_active(scan.profile, list(scan.families or []))
    try:
        if active:
            await ctx.progress(1, "re-checking ownership")
            await _recheck_ownership(services, target)
        callback = await callback_base_url(services.settings) if active else None
        plan = build_plan(target, scan, active_allowed=active, callback_base_url=callback)
        recorder = ScanRecorder(services, scan_id, ctx)
        summary = await _pipeline()(plan, services.fetcher, recorder)
        recorder.pages, recorder.requests = summary.pages_crawled, summary.requests_sent
        await recorder.write_counts()
    except PermanentError as exc:
        await _fail(services, scan_id, str(exc))
        raise
    except asyncio.CancelledError:
        if ctx.cancelled.is_set():
            await asyncio.shield(_fail(services, scan_id, "", status=ScanStatus.CANCELLED.value))
        raise
    cancelled = summary.stopped_reason == "cancelled"
    unreachable = summary.pages_crawled == 0 and bool(summary.errors) and not cancelled
    errors = "; ".join(summary.errors)[:2000] or None
    if cancelled:
        status = ScanStatus.CANCELLED.value
    else:
        status = ScanStatus.FAILED.value if unreachable else ScanStatus.SUCCEEDED.value
    async with services.db.session(write=True) as session:
        fresh_scan = await session.get(Scan, scan_id)
        fresh_target = await session.get(ScanTarget, target.id)
        if fresh_scan is None or fresh_target is None:
            raise PermanentError("This scan was deleted while it ran.")
        totals = await findings.complete_scan(
            session,
            scan=fresh_scan,
            target=fresh_target,
            status=status,
            stopped_reason=summary.stopped_reason,
            high_risk_priority=services.settings.scanner_high_risk_priority,
            error=f"Nothing could be scanned: {errors}" if unreachable else errors,
            notify_completion=not unreachable,
            complete=not summary.failed_checks,
        )
    if unreachable:
        raise PermanentError(f"Nothing could be scanned: {errors}")
    await ctx.progress(100, "cancelled" if cancelled else "done")
    return {
        "pages": summary.pages_crawled,
        "requests": summary.requests_sent,
        "findings": totals.findings,
        "risk_score": totals.risk_score,
        "stopped_reason": summary.stopped_reason,
    }


SCAN_KIND = register_kind(
    JobKind(
        name=service.SCAN_KIND,
        handler=run_scan,
        # The pipeline enforces each scan's own time limit; this only stops a scan that hangs.
        timeout_seconds=4 * 3600,
        retry=RetryPolicy(max_attempts=2, base_seconds=10, cap_seconds=120),
        description="One security scan of a target (crawl, checks, findings).",
    )
)
