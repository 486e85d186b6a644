"""Prometheus metrics. Each app has its own registry so several apps (tests) can live in one process."""

from __future__ import annotations

from typing import Any, TypeVar

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.metrics import MetricWrapperBase

M = TypeVar("M", bound=MetricWrapperBase)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: Label combinations remembered by ``Metrics.child`` before it starts again (bounds odd methods or statuses).
MAX_REMEMBERED_CHILDREN = 10_000


class Metrics:
    """The platform's counters and histograms; features add theirs with ``counter``/``histogram``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.http_requests = Counter(
            "spyglass_http_requests_total",
            "HTTP requests by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.http_latency = Histogram(
            "spyglass_http_request_duration_seconds",
            "HTTP request latency by method and route template.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.cache_hits = Counter(
            "spyglass_cache_hits_total", "Cache hits by namespace.", ["namespace"], registry=self.registry
        )
        self.cache_misses = Counter(
            "spyglass_cache_misses_total", "Cache misses by namespace.", ["namespace"], registry=self.registry
        )
        self.rate_limited = Counter(
            "spyglass_rate_limit_rejections_total",
            "Requests refused by a rate limit, by category.",
            ["category"],
            registry=self.registry,
        )
        self.logins = Counter("spyglass_logins_total", "Login attempts by result.", ["result"], registry=self.registry)
        self._children: dict[tuple[Any, tuple[str, ...]], Any] = {}

    def child(self, metric: M, *labels: str) -> M:
        """``metric.labels(*labels)``, remembered: ``labels()`` validates the values and takes a lock on every call,
        a noticeable part of a cached request that counts several metrics."""
        key = (metric, labels)
        child = self._children.get(key)
        if child is None:
            if len(self._children) >= MAX_REMEMBERED_CHILDREN:
                self._children.clear()
            child = self._children[key] = metric.labels(*labels)
        return child

    def counter(self, name: str, documentation: str, labels: list[str]) -> Counter:
        """A new counter in this registry."""
        return Counter(name, documentation, labels, registry=self.registry)

    def histogram(self, name: str, documentation: str, labels: list[str], buckets: tuple[float, ...]) -> Histogram:
        """A new histogram in this registry."""
        return Histogram(name, documentation, labels, buckets=buckets, registry=self.registry)

    def render(self) -> bytes:
        """The text exposition format for ``/metrics``."""
        return generate_latest(self.registry)
