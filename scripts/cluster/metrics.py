"""Reading Prometheus ``/metrics`` of the cluster's processes (web processes directly, workers on their own port)."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

#: Every sample of one scrape, keyed by (sample name, sorted label pairs).
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(url: str, timeout: float = 5.0) -> Samples:
    """Every sample ``url`` exposes; raises ``httpx.HTTPError`` (or ``RuntimeError`` on a non-200 answer)."""
    response = httpx.get(url, timeout=timeout)
    if response.status_code != 200:
        raise RuntimeError(f"{url}: HTTP {response.status_code}")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of sample ``name`` over every label set that includes ``labels``."""
    wanted = set(labels.items())
    return sum(value for (found, pairs), value in samples.items() if found == name and wanted <= set(pairs))


def label_values(samples: Samples, name: str, label: str) -> set[str]:
    """The values label ``label`` takes in sample ``name``."""
    return {dict(pairs)[label] for (found, pairs) in samples if found == name and label in dict(pairs)}
