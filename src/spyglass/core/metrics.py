"""Prometheus metrics. Each app has its own registry so several apps (tests) can live in one process."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


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

    def counter(self, name: str, documentation: str, labels: list[str]) -> Counter:
        """A new counter in this registry."""
        return Counter(name, documentation, labels, registry=self.registry)

    def histogram(self, name: str, documentation: str, labels: list[str], buckets: tuple[float, ...]) -> Histogram:
        """A new histogram in this registry."""
        return Histogram(name, documentation, labels, buckets=buckets, registry=self.registry)

    def render(self) -> bytes:
        """The text exposition format for ``/metrics``."""
        return generate_latest(self.registry)
