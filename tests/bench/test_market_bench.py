"""Keeps bench/market.py from rotting: a tiny run (20 searches, 4 users) of its core function.

Real parts: the simulator in its own process, ``spyglass serve`` on SQLite running the market.search
runs, the runs and listings tables read back. The figures are not judged (the machine is shared); only
that the benchmark measures what it claims to and that the listings stored are exactly those the
simulator's catalogue served. The Scrapy half runs when its benchmark-only environment exists (it is
created with pip by the benchmark itself, which a test should not do).
"""

from __future__ import annotations

from collections import Counter

import pytest
from bench.market import ADAPTERS, SCRAPY_VENV, plan_searches, run_benchmark, search_url, served_listings

from tests.support.shared_fixtures import HAVE_MARKETPLACES

pytestmark = pytest.mark.slow

HAS_SCRAPY = (SCRAPY_VENV / "bin" / "python").exists()


def test_the_plan_spreads_searches_over_adapters_and_users() -> None:
    plans = plan_searches(20, 4)
    assert Counter(plan.marketplace for plan in plans) == {name: 5 for name in ADAPTERS}
    assert Counter(plan.owner for plan in plans) == {owner: 5 for owner in range(4)}
    craigslist = next(plan for plan in plans if plan.marketplace == "craigslist")
    url = search_url(craigslist, "http://127.0.0.1:9")
    assert url.startswith("http://127.0.0.1:9/craigslist/search/sss?") and "query=" in url
    # The shop's page and feed are read whole: every jsonld search fetches the same URL.
    assert {search_url(p, "http://sim") for p in plans if p.marketplace == "jsonld"} == {"http://sim/shop/search"}


async def test_a_small_run_stores_exactly_what_the_simulator_served() -> None:
    document = await run_benchmark(
        searches=20,
        users=4,
        concurrency=4,
        scrapy=HAS_SCRAPY,
        parse_seconds=0.05 if HAVE_MARKETPLACES else 0,  # the parse table reads the captured pages
        timeout=120,
    )
    spyglass = document["results"][0]
    assert spyglass["tool"] == "spyglass"
    assert spyglass["runs"] == 20 and spyglass["succeeded"] == 20 and spyglass["failed"] == 0
    assert spyglass["pages"] == 20 and spyglass["log_errors"] == 0, spyglass["top_errors"]
    check = spyglass["listings_check"]
    assert check["equal"], check
    assert check["got"] == check["served"] == len(served_listings(plan_searches(20, 4), 200)) > 50
    # Every page's listings were parsed; the first run of each search stored them all as new matches.
    assert spyglass["listings_parsed"] >= check["served"] and spyglass["new_listings"] == check["served"]
    assert spyglass["new_matches"] > 0
    assert spyglass["pages_per_s"] > 0 and spyglass["listings_per_s"] > spyglass["pages_per_s"]
    assert spyglass["cpu_ms_per_page"] > 0 and spyglass["simulator_cpu_s"] > 0
    assert 0 < spyglass["finished_by_s"]["p50"] <= spyglass["finished_by_s"]["p95"] <= spyglass["elapsed_s"]
    assert document["settings"]["per_host_delay_s"] == 0 and document["machine"]["cpus"]
    if HAVE_MARKETPLACES:
        cases = {row["case"]: row for row in document["parse"]}
        assert cases["craigslist JSON-LD only"]["listings"] > 100 and cases["craigslist JSON-LD only"]["median_ms"] > 0
    if HAS_SCRAPY:
        scrapy = document["results"][1]
        assert scrapy["tool"] == "scrapy" and scrapy["pages"] == 20 and scrapy["failed"] == 0
        assert scrapy["listings_check"]["equal"], scrapy["listings_check"]
        assert scrapy["listings_parsed"] == spyglass["listings_parsed"]
        assert document["spyglass_vs_scrapy"] > 0
