"""The job engine's Prometheus metrics."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from spyglass.core.db import utcnow
from spyglass.core.metrics import Metrics
from spyglass.engine.models import Run, RunStatus

DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
LAG_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300)


class EngineMetrics:
    """Runs started/finished by kind, durations, queue depth and schedule lag."""

    def __init__(self, metrics: Metrics) -> None:
        registry = metrics.registry
        self.started = Counter("spyglass_runs_started_total", "Runs started, by kind.", ["kind"], registry=registry)
        self.finished = Counter(
            "spyglass_runs_finished_total", "Runs finished, by kind and status.", ["kind", "status"], registry=registry
        )
        self.retried = Counter("spyglass_runs_retried_total", "Runs put back for a retry.", ["kind"], registry=registry)
        self.duration = Histogram(
            "spyglass_run_duration_seconds", "Run duration.", ["kind"], buckets=DURATION_BUCKETS, registry=registry
        )
        self.schedule_lag = Histogram(
            "spyglass_schedule_lag_seconds",
            "Delay between a run being due and starting.",
            ["kind"],
            buckets=LAG_BUCKETS,
            registry=registry,
        )
        self.queue_depth = Gauge("spyglass_queue_depth", "Runs queued and due.", registry=registry)
        self.running = Gauge("spyglass_runs_running", "Runs running now, across workers.", registry=registry)

    def observe_start(self, run: Run) -> None:
        self.started.labels(run.kind).inc()
        if run.attempt == 1:
            self.schedule_lag.labels(run.kind).observe(max(0.0, (utcnow() - run.not_before).total_seconds()))

    def observe_finish(self, kind: str, status: RunStatus) -> None:
        self.finished.labels(kind, status.value).inc()

    def observe_duration(self, kind: str, seconds: float) -> None:
        self.duration.labels(kind).observe(seconds)
