"""Keeps bench/engine.py from rotting: its core function on a tiny embedded run (50 subjects, 5 s window).

Real parts: a uvicorn page server, ``spyglass serve`` on SQLite, the runs table read back. The figures
are not judged here (the machine is shared); only that the benchmark measures what it claims to.
"""

from __future__ import annotations

import pytest
from bench.engine import PHASES, run_benchmark

pytestmark = pytest.mark.slow


async def test_engine_benchmark_measures_an_embedded_run() -> None:
    document = await run_benchmark(
        modes=["embedded"], phases=[PHASES["c100"]], subjects=50, seconds=5, warmup=3, demand={"embedded": 25}
    )
    [result] = document["results"]
    assert result["mode"] == "embedded" and result["phase"] == "c100" and result["interval_s"] == 2
    # 50 subjects every 2 s: ~24 runs/s offered; every one of them fetched the page and succeeded.
    assert result["succeeded"] > 40 and result["runs_per_s"] > 8
    assert result["failed"] == 0 and result["log_errors"] == 0
    assert result["lag_samples"] > 40 and 0 <= result["lag_p50_s"] <= result["lag_p99_s"] < 5
    assert result["peak_running_total"] >= 1
    [rss] = result["rss_mb_max"].values()
    assert 30 < rss < 1000
    assert result["worker_cpu_ms_per_run"] > 0
