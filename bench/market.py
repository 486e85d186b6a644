"""Benchmark: market bots end to end (fetch, parse, store) against the marketplace simulator, and Scrapy.

    .venv/bin/python bench/market.py                          # 1,000 searches, 50 users, Scrapy, parse table
    .venv/bin/python bench/market.py --searches 200 --no-scrapy --no-parse
    .venv/bin/python bench/market.py --mode distributed      # 2 workers on PostgreSQL + Redis (or --mode both)

What runs, all on 127.0.0.1:

1. The marketplace simulator (``spyglass.market.simulator``, seed 7) in its own uvicorn process, frozen
   at step ``--step`` so every page is the same for Spyglass and for Scrapy.
2. ``spyglass serve`` (web + embedded job engine) on SQLite in a temporary folder, with
   ``SPYGLASS_MARKET_ENDPOINTS`` pointing every adapter at the simulator,
   ``SPYGLASS_ALLOW_PRIVATE_TARGETS=127.0.0.1/32``, the per-host delay at 0 (the simulator is one host:
   with the default 1 s delay a thousand pages would take a thousand seconds), per-host and worker
   concurrency ``--concurrency``, and no image hashing (Scrapy fetches no images either).
   ``--searches`` saved searches for ``--users`` users are inserted in the database, one marketplace each,
   spread over the jsonld, rss, craigslist and offerup adapters, then one ``market.search`` run per search
   is queued in one transaction. A page is one results page fetched, parsed and stored by a run; the
   figures come from the runs table (first commit to last finish) and ``/proc`` (CPU of the server).
   Every stored listing is compared with what the simulator's catalogue says it served.
   ``--mode distributed``: the same with two ``spyglass worker`` processes on a throwaway PostgreSQL
   (fsync off, like the test suite's) and Redis, as ``bench/engine.py`` does.
3. ``bench/scrapy_spider.py`` in its own virtual environment (``bench/.venv-scrapy``, created with pip
   on first use) fetching the same URLs (duplicates included, as each search fetches its own page) with
   the same concurrency and robots.txt obeyed, extracting the same fields and writing them to a JSON
   lines file (storing to a file is Scrapy's natural equivalent of Spyglass's database).
4. The per-adapter parse table of ``bench/market_parse.py`` (its own code, a shorter time per case).

Results: a table and ``bench/results/market.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import subprocess
import sys
import time
from collections import Counter
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for entry in (str(ROOT / "src"), str(ROOT)):
    if entry not in sys.path:
        sys.path.insert(0, entry)

from sqlalchemy import func, select  # noqa: E402
from tests.support.servers import free_port, postgres_server, redis_server  # noqa: E402

from bench.engine import (  # noqa: E402
    cpu_seconds,
    create_database,
    distributed,
    embedded,
    log_problems,
    machine_cpu,
    note,
    runqueue_wait_seconds,
    scratch,
    spyglass_env,
)
from spyglass.accounts.models import User  # noqa: E402
from spyglass.core.db import Database  # noqa: E402
from spyglass.engine import repository  # noqa: E402
from spyglass.engine.models import Run, RunStatus  # noqa: E402
from spyglass.market.adapters.common import build_url  # noqa: E402
from spyglass.market.adapters.craigslist import ADAPTER as CRAIGSLIST  # noqa: E402
from spyglass.market.adapters.offerup import ADAPTER as OFFERUP  # noqa: E402
from spyglass.market.matching import search_query  # noqa: E402
from spyglass.market.models import Listing, SavedSearch  # noqa: E402
from spyglass.market.service import SEARCH_KIND  # noqa: E402
from spyglass.market.simulator import catalogue  # noqa: E402
from spyglass.market.simulator.server import endpoints  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "market.json"
SCRAPY_VENV = ROOT / "bench" / ".venv-scrapy"
SCRAPY_REQUIREMENT = "scrapy>=2.11"
BENCH_SECRET = "market-bench-secret-0123456789-abcdefghijklmnop"
SEED = 7
#: A fixed epoch: the simulator's posting dates are then the same from run to run.
EPOCH = 1_764_547_200
TARGETS = {"vs_scrapy_pages_per_s": 1.5, "craigslist_json_ld_ms": 20.0}
ADAPTERS = ("jsonld", "rss", "craigslist", "offerup")
#: Adapters whose site filters the results itself (keywords and price in the URL); the shop's JSON-LD page
#: and feed are read whole and filtered by Spyglass.
REMOTE_FILTERS = {"craigslist", "offerup"}
KEYWORDS = (
    "bike", "road bike", "trek", "mountain bike", "camera", "lens", "canon", "nikon", "switch", "ps5",
    "xbox", "steam deck", "chair", "office chair", "ikea", "sofa", "table", "guitar", "acoustic guitar",
    "fender", "bass", "dresser", "bookcase", "gibson", "sony",
)  # fmt: skip
PRICE_CAPS = (None, Decimal("500"), Decimal("1500"))


# -- what is searched, and what the simulator serves -------------------------------------------------


@dataclass(frozen=True)
class SearchPlan:
    """One saved search of the benchmark: its owner (an index), marketplace, keywords and price cap."""

    owner: int
    marketplace: str
    keywords: str
    price_max: Decimal | None


def plan_searches(count: int, users: int) -> list[SearchPlan]:
    """``count`` searches spread evenly over the adapters, keywords, price caps and ``users`` owners."""
    return [
        SearchPlan(
            owner=n % users,
            marketplace=ADAPTERS[n % len(ADAPTERS)],
            keywords=KEYWORDS[(n // len(ADAPTERS)) % len(KEYWORDS)],
            price_max=PRICE_CAPS[(n // (len(ADAPTERS) * len(KEYWORDS))) % len(PRICE_CAPS)],
        )
        for n in range(count)
    ]


def saved_search(plan: SearchPlan, user_id: int) -> SavedSearch:
    """The SavedSearch row a user would have created for ``plan`` through the form."""
    return SavedSearch(
        user_id=user_id,
        name=f"{plan.keywords} on {plan.marketplace}",
        marketplaces=[plan.marketplace],
        keywords=plan.keywords,
        excluded_words=[],
        price_max=plan.price_max,
        options={"craigslist": {"site": "boston"}} if plan.marketplace == "craigslist" else {},
        interval_seconds=1800,
        enabled=True,
        alert_mode="instant",
    )


def search_url(plan: SearchPlan, origin: str) -> str:
    """The results page the Spyglass adapter fetches for ``plan`` (the Scrapy spider fetches the same)."""
    endpoint = endpoints(origin)[plan.marketplace]
    query = search_query(saved_search(plan, 0), plan.marketplace, endpoint=endpoint)
    if plan.marketplace == "craigslist":
        return build_url(endpoint, "/search/sss", CRAIGSLIST.filters(query))
    if plan.marketplace == "offerup":
        return OFFERUP.search_url(query)
    return endpoint


def served_listings(plans: list[SearchPlan], step: int) -> dict[tuple[str, str], Decimal]:
    """(marketplace, external id) -> price of every listing the simulator shows for ``plans`` at ``step``,
    from its catalogue (not from any parser): what both Spyglass and Scrapy should end up with."""
    served: dict[tuple[str, str], Decimal] = {}
    for plan in plans:
        site = "shop" if plan.marketplace in ("jsonld", "rss") else plan.marketplace
        remote = plan.marketplace in REMOTE_FILTERS
        found = catalogue.search(
            SEED, step, site, plan.keywords if remote else "", None, plan.price_max if remote else None
        )
        for item in found:
            served[(plan.marketplace, item.site_id(site))] = Decimal(item.price_at(step))
    return served


def compare(expected: dict[tuple[str, str], Decimal], got: dict[tuple[str, str], Decimal | None]) -> dict[str, Any]:
    """How a set of listings differs from what the simulator served (ids missing or extra, wrong prices)."""
    missing = sorted(set(expected) - set(got))
    extra = sorted(set(got) - set(expected))
    wrong = sorted(key for key in set(expected) & set(got) if got[key] != expected[key])
    return {
        "served": len(expected),
        "got": len(got),
        "missing": len(missing),
        "extra": len(extra),
        "wrong_price": len(wrong),
        "examples": [list(k) for k in (missing + extra + wrong)[:5]],
        "equal": not missing and not extra and not wrong,
    }


# -- the simulator process ---------------------------------------------------------------------------


def serve_simulator(port: int, step: int) -> None:
    """Run the simulator frozen at ``step`` on 127.0.0.1:``port`` until SIGINT/SIGTERM."""
    import uvicorn

    from spyglass.market.simulator.server import Simulator, SimulatorApp

    simulator = Simulator(SEED, epoch=EPOCH)
    simulator.set_step(step)
    uvicorn.run(
        SimulatorApp(simulator), host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="off"
    )


def start_simulator(step: int, workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    from bench.engine import start, wait_for_http

    port = free_port()
    args = [sys.executable, str(Path(__file__).resolve()), "--serve-simulator", str(port), "--step", str(step)]
    process = start(args, env=dict(os.environ), log=workdir / "simulator.log", cwd=ROOT)
    origin = f"http://127.0.0.1:{port}"
    wait_for_http(f"{origin}/_sim/state", process, workdir / "simulator.log")
    return process, origin


# -- Spyglass ------------------------------------------------------------------------------------------


async def insert_searches(db: Database, plans: list[SearchPlan], users: int) -> list[int]:
    """``users`` users and one saved search per plan, committed; returns the search ids in plan order."""
    async with db.session(write=True) as session:
        owners = [
            User(username=f"bench{n}", email=f"bench{n}@example.test", password_hash="!unusable", is_active=True)
            for n in range(users)
        ]
        session.add_all(owners)
        await session.flush()
        searches = [saved_search(plan, owners[plan.owner].id) for plan in plans]
        session.add_all(searches)
        await session.flush()
        return [search.id for search in searches]


async def enqueue_runs(db: Database, search_ids: list[int], owners: dict[int, int]) -> None:
    """One queued ``market.search`` run per search, in one transaction (the engine picks them up at once)."""
    async with db.session(write=True) as session:
        session.add_all(
            repository.new_run(kind=SEARCH_KIND, user_id=owners[search_id], subject_id=search_id, max_attempts=3)
            for search_id in search_ids
        )


async def wait_until_done(db: Database, processes: list[subprocess.Popen[bytes]], timeout: float) -> None:
    """Until no market.search run is queued or running (or ``timeout`` seconds passed)."""
    deadline = time.monotonic() + timeout
    pending = RunStatus.QUEUED.value, RunStatus.RUNNING.value
    while time.monotonic() < deadline:
        for process in processes:
            if process.poll() is not None:
                raise SystemExit(f"a Spyglass process exited with {process.returncode}")
        async with db.session() as session:
            left = await session.scalar(
                select(func.count()).select_from(Run).where(Run.kind == SEARCH_KIND, Run.status.in_(pending))
            )
        if not left:
            return
        await asyncio.sleep(0.2)
    note(f"runs still pending after {timeout:g} s; measuring what finished")


async def run_figures(db: Database) -> dict[str, Any]:
    """What the runs table and the listings table say once every run has finished."""
    async with db.session() as session:
        runs = (
            await session.execute(
                select(Run.status, Run.attempt, Run.started_at, Run.finished_at, Run.stats, Run.error).where(
                    Run.kind == SEARCH_KIND
                )
            )
        ).all()
        stored = (await session.execute(select(Listing.marketplace, Listing.external_id, Listing.price))).all()
    statuses = Counter(run.status for run in runs)
    succeeded = [run for run in runs if run.status == RunStatus.SUCCEEDED.value]
    # One marketplace per search: a succeeded run without a marketplace error stored one results page.
    pages = sum(1 for run in succeeded if not (run.stats or {}).get("errors"))
    finished = sorted(run.finished_at for run in succeeded if run.finished_at is not None)
    errors = Counter((run.error or "")[:160] for run in runs if run.error)
    errors.update(str(e)[:160] for run in succeeded for e in ((run.stats or {}).get("errors") or {}).values())
    return {
        "runs": len(runs),
        "succeeded": len(succeeded),
        "failed": statuses.get(RunStatus.FAILED.value, 0),
        "retried": sum(1 for run in runs if (run.attempt or 0) > 1),
        "pages": pages,
        "listings_parsed": sum(int((run.stats or {}).get("fetched", 0)) for run in succeeded),
        "new_listings": sum(int((run.stats or {}).get("new_listings", 0)) for run in succeeded),
        "new_matches": sum(int((run.stats or {}).get("new_matches", 0)) for run in succeeded),
        "finished_at": finished,
        "top_errors": [{"error": e, "count": n} for e, n in errors.most_common(5)],
        "stored": {(m, e): p for m, e, p in stored},
    }


async def bench_spyglass(
    plans: list[SearchPlan],
    *,
    users: int,
    origin: str,
    concurrency: int,
    workdir: Path,
    timeout: float,
    profile: Path | None = None,
    postgres_admin_url: str | None = None,
    redis_url: str | None = None,
) -> dict[str, Any]:
    """Spyglass runs every planned search once; pages/s, CPU per page, stored listings.

    ``spyglass serve`` on SQLite, or with ``postgres_admin_url`` and ``redis_url`` two ``spyglass worker``
    processes on a fresh PostgreSQL database and Redis (``profile`` then samples the first worker)."""
    workdir.mkdir(parents=True, exist_ok=True)
    distributed_urls: dict[str, str] = {}
    if postgres_admin_url and redis_url:
        from redis.asyncio import Redis

        database_url = await create_database(postgres_admin_url, "bench_market")
        redis = Redis.from_url(redis_url)
        await redis.flushdb()
        await redis.aclose()
        distributed_urls = {"database_url": database_url, "redis_url": redis_url}
    env = spyglass_env(
        **distributed_urls,
        data_dir=str(workdir / "data"),
        secret_key=BENCH_SECRET,
        allow_private_targets="127.0.0.1/32",
        http_per_host_delay_seconds="0",
        http_per_host_concurrency=str(concurrency),
        worker_concurrency=str(concurrency),
        market_endpoints=json.dumps(endpoints(origin)),
        market_image_hashes_per_run="0",
        log_level="WARNING",
        rate_limit_enabled="false",
    )
    context = (
        distributed(env, workdir, distributed_urls["database_url"]) if distributed_urls else embedded(env, workdir)
    )
    async with context as setup:
        pids = [process.pid for process in setup.workers]
        search_ids = await insert_searches(setup.db, plans, users)
        async with setup.db.session() as session:
            owners = dict((await session.execute(select(SavedSearch.id, SavedSearch.user_id))).all())
        note(f"spyglass: {len(search_ids)} searches for {users} users inserted; queueing one run each")
        log_start = [log.stat().st_size for log in setup.logs]
        cpu0, machine0, wait0 = sum(map(cpu_seconds, pids)), machine_cpu(), sum(map(runqueue_wait_seconds, pids))
        started_at, started = datetime.now(UTC), time.monotonic()
        sampler = start_profiler(pids[0], profile) if profile else None
        await enqueue_runs(setup.db, search_ids, owners)
        await wait_until_done(setup.db, setup.workers, timeout)
        cpu, waited = sum(map(cpu_seconds, pids)) - cpu0, sum(map(runqueue_wait_seconds, pids)) - wait0
        if sampler is not None:
            sampler.send_signal(signal.SIGINT)
            sampler.wait(timeout=60)
        elapsed_until_seen = time.monotonic() - started
        machine1 = machine_cpu()
        figures = await run_figures(setup.db)
        problems = [line for log, first in zip(setup.logs, log_start, strict=True) for line in log_problems(log, first)]
    finished = [(at.replace(tzinfo=UTC) - started_at).total_seconds() for at in figures.pop("finished_at")]
    elapsed = finished[-1] if finished else elapsed_until_seen
    pages = figures["pages"]
    # When 50/95/99 % of the runs had finished: a few runs retried after a backoff make a long tail.
    done_by = {f"p{q}": round(finished[max(0, -(-len(finished) * q // 100) - 1)], 2) for q in (50, 95, 99)}
    return {
        "tool": "spyglass",
        "mode": "distributed (2 workers, PostgreSQL + Redis)"
        if distributed_urls
        else "embedded (spyglass serve, SQLite)",
        "concurrency": concurrency,
        "elapsed_s": round(elapsed, 2),
        "pages_per_s": round(pages / elapsed, 1) if elapsed > 0 else 0.0,
        "listings_per_s": round(figures["listings_parsed"] / elapsed, 1) if elapsed > 0 else 0.0,
        "finished_by_s": done_by,
        "pages_per_s_first_95": round(0.95 * len(finished) / done_by["p95"], 1) if finished and done_by["p95"] else 0.0,
        # Per process: the share of the wall time it was runnable but waiting for a CPU.
        "runqueue_wait_percent": round(100 * waited / len(pids) / elapsed_until_seen, 1),
        # CPU of the Spyglass processes while the runs went (their polling and the web side included).
        "cpu_s": round(cpu, 2),
        "cpu_ms_per_page": round(1000 * cpu / max(1, pages), 2),
        "machine_busy_percent": round(100 * (machine1[0] - machine0[0]) / max(1.0, machine1[1] - machine0[1]), 1),
        "log_errors": len(problems),
        "log_error_examples": problems[:5],
        **figures,
    }


def start_profiler(pid: int, output: Path) -> subprocess.Popen[bytes]:
    """py-spy sampling ``pid`` (samples holding the GIL) until interrupted; collapsed stacks go to ``output``."""
    output.parent.mkdir(parents=True, exist_ok=True)
    found = [path for path in (Path(sys.executable).parent / "py-spy", SCRAPY_VENV / "bin" / "py-spy") if path.exists()]
    if not found:
        raise SystemExit(f"--profile needs py-spy: {SCRAPY_VENV}/bin/pip install py-spy")
    args = [str(found[0]), "record", "--pid", str(pid), "--rate", "100", "--gil", "--format", "raw", "--nonblocking"]
    return subprocess.Popen([*args, "--output", str(output)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# -- Scrapy --------------------------------------------------------------------------------------------


def ensure_scrapy() -> Path:
    """The Python of the benchmark-only Scrapy environment, created with pip on first use."""
    python = SCRAPY_VENV / "bin" / "python"
    if python.exists() and subprocess.run([python, "-c", "import scrapy"], capture_output=True).returncode == 0:
        return python
    note(f"creating {SCRAPY_VENV} and installing {SCRAPY_REQUIREMENT} (once)")
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", "--clear", str(SCRAPY_VENV)], check=True)
    subprocess.run([python, "-m", "pip", "install", "-q", SCRAPY_REQUIREMENT], check=True)
    return python


def bench_scrapy(plans: list[SearchPlan], *, origin: str, concurrency: int, workdir: Path) -> dict[str, Any]:
    """The Scrapy spider fetching every planned search's page; pages/s, CPU per page, listings extracted."""
    python = ensure_scrapy()
    workdir.mkdir(parents=True, exist_ok=True)
    urls = workdir / "urls.json"
    urls.write_text(json.dumps([{"marketplace": p.marketplace, "url": search_url(p, origin)} for p in plans]))
    items, stats = workdir / "items.jsonl", workdir / "stats.json"
    args = [str(python), str(ROOT / "bench" / "scrapy_spider.py"), "--urls", str(urls), "--items", str(items)]
    args += ["--stats", str(stats), "--concurrency", str(concurrency)]
    note(f"scrapy: {len(plans)} pages, concurrency {concurrency}")
    machine0 = machine_cpu()
    completed = subprocess.run(args, capture_output=True, text=True, cwd=workdir)
    machine1 = machine_cpu()
    if completed.returncode != 0:
        raise SystemExit(f"the Scrapy spider failed:\n{completed.stdout[-2000:]}{completed.stderr[-3000:]}")
    figures = json.loads(stats.read_text())
    extracted: dict[tuple[str, str], Decimal | None] = {}
    rows = 0
    with items.open() as handle:
        for line in handle:
            item = json.loads(line)
            rows += 1
            price = item.get("price")
            extracted[(item["marketplace"], item["external_id"])] = Decimal(price) if price is not None else None
    elapsed, pages = figures["elapsed_s"], figures["pages"]
    return {
        "tool": "scrapy",
        "mode": f"Scrapy {figures['scrapy_version']}, items to a JSON lines file",
        "concurrency": concurrency,
        "elapsed_s": round(elapsed, 2),
        "pages_per_s": round(pages / elapsed, 1) if elapsed > 0 else 0.0,
        "listings_per_s": round(rows / elapsed, 1) if elapsed > 0 else 0.0,
        "cpu_s": round(figures["cpu_s"], 2),
        "cpu_ms_per_page": round(1000 * figures["cpu_s"] / max(1, pages), 2),
        "machine_busy_percent": round(100 * (machine1[0] - machine0[0]) / max(1.0, machine1[1] - machine0[1]), 1),
        "pages": pages,
        "failed": figures["failed"],
        "listings_parsed": rows,
        "stored": extracted,
    }


# -- the whole run -------------------------------------------------------------------------------------


def parse_table(seconds: float) -> list[dict[str, Any]]:
    """``bench/market_parse.py``'s per-adapter table, with ``seconds`` of parsing per case."""
    from bench.market_parse import cases, measure

    return [
        {"case": name, "page": source, "kb": round(size / 1024), **measure(parse, seconds)}
        for name, source, size, parse in cases()
    ]


async def run_benchmark(
    *,
    searches: int = 1000,
    users: int = 50,
    step: int = 200,
    concurrency: int = 16,
    scrapy: bool = True,
    parse_seconds: float = 0.5,
    timeout: float = 600.0,
    keep: bool = False,
    profile: Path | None = None,
    modes: tuple[str, ...] = ("embedded",),
) -> dict[str, Any]:
    """Run the benchmark; returns the results document (``parse_seconds`` 0 skips the parse table;
    ``profile``: py-spy the Spyglass server while the runs go, collapsed stacks to that file;
    ``modes``: "embedded" and/or "distributed")."""
    plans = plan_searches(searches, users)
    served = served_listings(plans, step)
    load_before = os.getloadavg()
    results = []
    with scratch(keep) as workdir:
        simulator, origin = start_simulator(step, workdir)
        try:
            for mode in modes:
                sim_cpu0 = cpu_seconds(simulator.pid)
                with (
                    postgres_server() if mode == "distributed" else nullcontext("") as admin_url,
                    redis_server() if mode == "distributed" else nullcontext("") as redis_url,
                ):
                    spyglass = await bench_spyglass(
                        plans,
                        users=users,
                        origin=origin,
                        concurrency=concurrency,
                        workdir=workdir / f"spyglass-{mode}",
                        timeout=timeout,
                        profile=profile.with_name(f"{profile.stem}-{mode}{profile.suffix}") if profile else None,
                        postgres_admin_url=admin_url or None,
                        redis_url=redis_url or None,
                    )
                spyglass["simulator_cpu_s"] = round(cpu_seconds(simulator.pid) - sim_cpu0, 2)
                results.append(spyglass)
            if scrapy:
                sim_cpu0 = cpu_seconds(simulator.pid)
                scrapy_result = await asyncio.to_thread(
                    bench_scrapy, plans, origin=origin, concurrency=concurrency, workdir=workdir / "scrapy"
                )
                scrapy_result["simulator_cpu_s"] = round(cpu_seconds(simulator.pid) - sim_cpu0, 2)
                results.append(scrapy_result)
        finally:
            simulator.send_signal(signal.SIGINT)
            simulator.wait(timeout=30)
    for result in results:
        result["listings_check"] = compare(served, result.pop("stored"))
    document: dict[str, Any] = {
        "benchmark": "market",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "loadavg_before": [round(v, 2) for v in load_before],
            "loadavg_after": [round(v, 2) for v in os.getloadavg()],
        },
        "settings": {
            "searches": searches,
            "users": users,
            "adapters": list(ADAPTERS),
            "simulator_step": step,
            "distinct_urls": len({search_url(p, "http://sim") for p in plans}),
            "concurrency": concurrency,
            "per_host_delay_s": 0,
            "image_hashes_per_run": 0,
        },
        "targets": TARGETS,
        "workdir": str(workdir) if keep else None,
        "results": results,
        "parse": parse_table(parse_seconds) if parse_seconds > 0 else [],
    }
    scrapy_rate = next((r["pages_per_s"] for r in results if r["tool"] == "scrapy"), 0.0)
    for result in results:
        if result["tool"] == "spyglass" and scrapy_rate:
            result["vs_scrapy"] = round(result["pages_per_s"] / scrapy_rate, 2)
    if scrapy_rate and results[0]["tool"] == "spyglass":
        document["spyglass_vs_scrapy"] = results[0]["vs_scrapy"]
    return document


def print_report(document: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=200)
    settings = document["settings"]
    table = Table(
        title=f"Market bots end to end: {settings['searches']:,} searches, {settings['users']} users, "
        f"{document['machine']['cpus']} CPUs (load {document['machine']['loadavg_before'][0]})"
    )
    columns = (
        "tool",
        "pages",
        "elapsed s",
        "95 % done s",
        "pages/s",
        "listings/s",
        "CPU ms/page",
        "retried",
        "listings = served",
    )
    for column in columns:
        table.add_column(column, justify="left" if column == "tool" else "right")
    for r in document["results"]:
        check = r["listings_check"]
        table.add_row(
            r["tool"] if r["tool"] == "scrapy" else f"spyglass {r['mode'].split()[0]}",
            str(r["pages"]),
            f"{r['elapsed_s']:g}",
            str(r.get("finished_by_s", {}).get("p95", "")),
            f"{r['pages_per_s']:g}",
            f"{r['listings_per_s']:g}",
            f"{r['cpu_ms_per_page']:g}",
            f"{r.get('retried', 0)} ({r['failed']} failed)",
            "yes" if check["equal"] else f"no ({check['missing']} missing, {check['extra']} extra)",
        )
    console.print(table)
    for r in document["results"]:
        if "vs_scrapy" in r:
            target = TARGETS["vs_scrapy_pages_per_s"]
            console.print(f"Spyglass {r['mode']} / Scrapy pages/s: {r['vs_scrapy']:g}x (target {target:g}x)")
    if document["parse"]:
        parse = Table(title="Parse throughput per adapter (bench/market_parse.py, one core)")
        for column in ("case", "page", "KB", "listings", "pages/s", "median ms", "p95 ms", "CPU ms"):
            parse.add_column(column, justify="left" if column in ("case", "page") else "right")
        for row in document["parse"]:
            parse.add_row(
                row["case"],
                row["page"],
                str(row["kb"]),
                str(row["listings"]),
                f"{row['pages_per_second']:.1f}",
                f"{row['median_ms']:.2f}",
                f"{row['p95_ms']:.2f}",
                f"{row['cpu_median_ms']:.2f}",
            )
        console.print(parse)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--searches", type=int, default=1000)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--step", type=int, default=200, help="the simulator's frozen step (more items later)")
    parser.add_argument("--concurrency", type=int, default=16, help="worker, per-host and Scrapy concurrency")
    parser.add_argument("--parse-seconds", type=float, default=0.5, help="parsing time per case of the parse table")
    parser.add_argument("--mode", choices=("embedded", "distributed", "both"), default="embedded")
    parser.add_argument("--no-scrapy", action="store_true")
    parser.add_argument("--no-parse", action="store_true")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder with databases and logs")
    parser.add_argument("--profile", type=Path, help="py-spy the Spyglass server; collapsed stacks to this file")
    parser.add_argument("--serve-simulator", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_simulator:
        serve_simulator(args.serve_simulator, args.step)
        return
    document = asyncio.run(
        run_benchmark(
            searches=args.searches,
            users=args.users,
            step=args.step,
            concurrency=args.concurrency,
            scrapy=not args.no_scrapy,
            parse_seconds=0 if args.no_parse else args.parse_seconds,
            keep=args.keep,
            profile=args.profile,
            modes=("embedded", "distributed") if args.mode == "both" else (args.mode,),
        )
    )
    document["command"] = " ".join([".venv/bin/python", "bench/market.py", *sys.argv[1:]])
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(document, indent=2, default=str) + "\n")
    print_report(document)
    print(f"Results written to {args.output}")


if __name__ == "__main__":
    main()
