"""Keeps bench/analytics.py from rotting: a hundredth of its rows, a few calls each.

The figures are not judged (the machine is shared); only that the benchmark fills what it says and
measures the routes it names.
"""

from __future__ import annotations

import pytest
from bench.analytics import run_benchmark

pytestmark = pytest.mark.slow


async def test_analytics_benchmark_measures_every_phase() -> None:
    document = await run_benchmark(scale=0.01, cold_repeat=1, warm_repeat=3, dashboard_repeat=2)
    assert document["rows"]["listings"] == 20_000 and document["rows"]["users"] == 100
    results = document["results"]
    for phase in ("admin_cold_30d", "admin_cold_365d", "admin_cache_hit", "admin_cached_http", "dashboard_http"):
        assert results[phase]["n"] >= 1 and 0 < results[phase]["p50_ms"] <= results[phase]["max_ms"], phase
    # user 1's 20,000 listings were spread over a year: the 30-day window holds about a twelfth of them
    assert 800 < results["dashboard_user_matches_in_window"] < 2_500
