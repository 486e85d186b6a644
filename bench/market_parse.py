"""Benchmark: parse throughput of each market adapter, on the real captured pages and simulator pages.

    .venv/bin/python bench/market_parse.py                  # every adapter, ~1 s of parsing each
    .venv/bin/python bench/market_parse.py --seconds 3 --json bench/results/market_parse.json

Pages: the real captured Craigslist (425 KB) and Facebook (677 KB) search pages from
``../shared/fixtures/marketplaces``; for the other sites, a page of up to 120 results rendered by the
marketplace simulator (``spyglass.market.simulator``, seed 7, step 200), which mirrors each site's
layout. Each page is parsed in one process, one core, repeatedly for ``--seconds``; the table gives
pages/s, the median and p95 wall milliseconds per page, the median CPU milliseconds per page (what a
page costs on a shared machine) and listings per page. ``craigslist JSON-LD only`` is
the JSON-LD extraction from the Craigslist page's source (the issue's target: under 20 ms).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from tests.support.shared_fixtures import MARKETPLACES  # noqa: E402

from spyglass.market.adapters.base import Adapter  # noqa: E402
from spyglass.market.adapters.craigslist import parse_search_page  # noqa: E402
from spyglass.market.adapters.extract import parse_page  # noqa: E402
from spyglass.market.adapters.parsing import json_ld  # noqa: E402
from spyglass.market.adapters.registry import get_adapter  # noqa: E402
from spyglass.market.simulator import Simulator, pages  # noqa: E402

FIXTURES = MARKETPLACES
ORIGIN = "http://127.0.0.1:8090"
RECIPE = {"item": "li.s-item", "title": ".s-item__title", "price": ".s-item__price", "url": "a.s-item__link@href"}


def simulator_pages() -> dict[str, tuple[str, str]]:
    """adapter name -> (page text, page URL) rendered by the simulator."""
    sim = Simulator(7, epoch=1_764_547_200)
    sim.set_step(200)
    step, epoch, every = sim.step, sim.epoch, sim.step_seconds

    def found(site: str) -> list[Any]:
        return sim.search(site)

    return {
        "jsonld": (pages.shop_search(found("shop"), step, ORIGIN), f"{ORIGIN}/shop/search"),
        "rss": (pages.rss_feed(found("shop"), step, ORIGIN, epoch, every), f"{ORIGIN}/shop/feed.rss"),
        "recipe": (pages.ebay_results(found("ebay"), step, ORIGIN), f"{ORIGIN}/ebay/sch/i.html"),
        "ebay": (pages.ebay_results(found("ebay"), step, ORIGIN), f"{ORIGIN}/ebay/sch/i.html"),
        "ksl": (pages.ksl_search(found("ksl"), step, ORIGIN, epoch, every), f"{ORIGIN}/ksl/search"),
        "mercari": (pages.mercari_search(found("mercari"), step, ORIGIN, epoch, every), f"{ORIGIN}/mercari/search/"),
        "offerup": (pages.offerup_search(found("offerup"), step, ORIGIN), f"{ORIGIN}/offerup/search"),
        "poshmark": (pages.poshmark_search(found("poshmark"), step, ORIGIN), f"{ORIGIN}/poshmark/search"),
    }


def cases() -> list[tuple[str, str, int, Callable[[], int]]]:
    """(case name, page source, page bytes, a function parsing the page once and returning the listing count)."""
    craigslist = (FIXTURES / "craigslist" / "search-boston-sss-2023.html").read_text(encoding="utf-8")
    facebook = (FIXTURES / "facebook" / "search-boston-2023.html").read_text(encoding="utf-8")
    boston = "https://boston.craigslist.org/search/sss"
    result: list[tuple[str, str, int, Callable[[], int]]] = [
        ("craigslist JSON-LD only", "real fixture", len(craigslist.encode()),
         lambda: len(json_ld(craigslist)[1]["itemListElement"])),
        ("craigslist", "real fixture", len(craigslist.encode()), lambda: len(parse_search_page(craigslist, boston))),
        ("facebook", "real fixture", len(facebook.encode()),
         lambda: len(parse_page(get_adapter("facebook"), facebook, "https://www.facebook.com/marketplace/boston"))),
    ]  # fmt: skip
    for name, (text, url) in simulator_pages().items():
        adapter = get_adapter(name)
        options = {"recipe": RECIPE} if name == "recipe" else {}
        result.append(
            (
                name,
                "simulator",
                len(text.encode()),
                functools.partial(_count, adapter, text, url, options),
            )
        )
    return result


def _count(adapter: Adapter, text: str, url: str, options: dict[str, Any]) -> int:
    return len(parse_page(adapter, text, url, options))


def measure(parse: Callable[[], int], seconds: float) -> dict[str, float]:
    parse()  # warm up (imports, caches)
    timings: list[float] = []
    cpu: list[float] = []
    listings = 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(timings) < 5:
        started, started_cpu = time.perf_counter(), time.thread_time()
        listings = parse()
        cpu.append(time.thread_time() - started_cpu)
        timings.append(time.perf_counter() - started)
    timings.sort()
    return {
        "pages": len(timings),
        "pages_per_second": len(timings) / sum(timings),
        "median_ms": statistics.median(timings) * 1000,
        "p95_ms": timings[int(len(timings) * 0.95) - 1] * 1000,
        # CPU time is what a page costs when the machine is shared (wall time includes waiting for a core)
        "cpu_median_ms": statistics.median(cpu) * 1000,
        "listings": listings,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="parsing time per case")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    rows = []
    for name, source, size, parse in cases():
        figures = measure(parse, args.seconds)
        rows.append({"case": name, "page": source, "kb": round(size / 1024), **figures})
    header = (
        f"{'case':<26}{'page':<14}{'KB':>6}{'listings':>10}{'pages/s':>10}{'median ms':>11}{'p95 ms':>9}{'CPU ms':>9}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        print(
            f"{row['case']:<26}{row['page']:<14}{row['kb']:>6}{row['listings']:>10}{row['pages_per_second']:>10.1f}"
            f"{row['median_ms']:>11.2f}{row['p95_ms']:>9.2f}{row['cpu_median_ms']:>9.2f}"
        )
    load = os.getloadavg()[0]
    print(f"\nPython {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cores (load {load:.1f}),")
    print(f"one process, {args.seconds:g} s per case")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"python": platform.python_version(), "results": rows}, indent=2))


if __name__ == "__main__":
    main()
