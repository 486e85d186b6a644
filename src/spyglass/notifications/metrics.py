"""Notification metrics in the process's registry: sent, failed, delivery latency."""

from __future__ import annotations

import weakref
from dataclasses import dataclass

from prometheus_client import Counter, Histogram

from spyglass.core.metrics import Metrics

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0)


@dataclass(frozen=True)
class NotificationMetrics:
    sent: Counter
    failed: Counter
    latency: Histogram


_BY_REGISTRY: weakref.WeakKeyDictionary[Metrics, NotificationMetrics] = weakref.WeakKeyDictionary()


def notification_metrics(metrics: Metrics) -> NotificationMetrics:
    """The notification metrics of ``metrics``' registry (created on first use)."""
    found = _BY_REGISTRY.get(metrics)
    if found is None:
        found = NotificationMetrics(
            sent=metrics.counter(
                "spyglass_notifications_sent_total", "Notifications delivered, by channel kind.", ["channel"]
            ),
            failed=metrics.counter(
                "spyglass_notifications_failed_total",
                "Notification sends that failed, by channel kind and whether they will be retried.",
                ["channel", "final"],
            ),
            latency=metrics.histogram(
                "spyglass_notification_delivery_latency_seconds",
                "Time from the event (outbox row written) to delivery, by channel kind.",
                ["channel"],
                LATENCY_BUCKETS,
            ),
        )
        _BY_REGISTRY[metrics] = found
    return found
