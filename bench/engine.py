"""Benchmark: the job engine with 10,000 recurring subjects that each fetch one page from a local server.

    .venv/bin/python bench/engine.py                                  # both modes, 10,000 subjects, 60 s windows
    .venv/bin/python bench/engine.py --mode embedded --seconds 30
    .venv/bin/python bench/engine.py --mode distributed --phases c100

Each mode runs two phases, each on a fresh database with freshly started processes:

- ``c100``: worker concurrency 100, runs that only fetch the page: sustained runs/s and schedule lag.
- ``c500``: worker concurrency 500, runs that sleep 4 s (reporting progress) and then fetch, offered
  more work than 500 slots hold, so one worker really runs ~500 at once: memory at 500 concurrent runs.

Modes: ``embedded`` is ``spyglass serve`` (web + in-process worker + scheduler) on SQLite;
``distributed`` is two ``spyglass worker`` processes on a throwaway PostgreSQL + Redis (one leads the
scheduler). The page comes from uvicorn in its own process. 10,000 ``engine.probe`` schedules are
inserted in bulk once the processes are up, with an interval chosen so the offered demand exceeds the
target rate and first due times spread over the first interval.

After a warm-up, a steady window is measured from the ``runs`` table: succeeded runs finished in the
window per second, p50/p99 schedule lag (``started_at - not_before`` of first attempts started in the
window), failures and retries; the worker processes' RSS (``/proc/<pid>/status`` VmRSS, max over the
window) and CPU; running runs per worker (sampled from the runs table every second). Results go to
``bench/results/engine.json`` and a table.
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
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
for entry in (str(ROOT / "src"), str(ROOT)):
    if entry not in sys.path:
        sys.path.insert(0, entry)

from sqlalchemy import func, insert, select, text, update  # noqa: E402
from sqlalchemy.ext.asyncio import create_async_engine  # noqa: E402
from tests.support.servers import free_port, postgres_server, redis_server  # noqa: E402

import spyglass.accounts.models  # noqa: E402,F401 - the users table the engine tables refer to
from spyglass.core.db import Database  # noqa: E402
from spyglass.engine.models import Run, RunStatus, Schedule, WorkerHeartbeat  # noqa: E402
from spyglass.engine.probe import PROBE_KIND  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "engine.json"
BENCH_SECRET = "engine-bench-secret-0123456789-abcdefghijklmnop"
TARGETS = {"embedded_runs_per_s": 100.0, "distributed_runs_per_s": 200.0, "p99_lag_s": 5.0, "rss_mb_at_500": 300.0}
#: Offered runs/s per mode: above the target, so the figure is what the engine sustains.
DEMAND = {"embedded": 150.0, "distributed": 300.0}
#: The scheduler adds up to 10 % jitter to every interval, so subjects come due ~5 % less often.
JITTER_FACTOR = 1.05
PY_SPY = ["--rate", "100", "--gil", "--format", "raw", "--nonblocking"]
UVICORN = ["--log-level", "warning", "--no-access-log", "--lifespan", "off", "--backlog", "4096"]


@dataclass(frozen=True)
class Phase:
    """One measured configuration: worker concurrency and how long each run sleeps before fetching."""

    name: str
    concurrency: int
    sleep: float
    #: Offered runs/s per mode when it is not the mode's default (``steady``: below capacity, for lag).
    demand: tuple[tuple[str, float], ...] = ()


PHASES = {
    "c100": Phase("c100", 100, 0.0),
    "c500": Phase("c500", 500, 4.0),
    "steady": Phase("steady", 100, 0.0, (("embedded", 40.0), ("distributed", 80.0))),
}


@dataclass
class Samples:
    """What the sampler saw during the window."""

    rss_kb: dict[int, int] = field(default_factory=dict)
    running: dict[int, int] = field(default_factory=dict)
    running_total: int = 0
    queued_due: int = 0


# -- processes -------------------------------------------------------------------------------------


def spyglass_env(**values: str) -> dict[str, str]:
    """The environment of a Spyglass process: this one's, minus any SPYGLASS_* setting, plus ``values``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPYGLASS_")}
    env.update({f"SPYGLASS_{k.upper()}": v for k, v in values.items()})
    return env


def start(args: list[str], *, env: dict[str, str], log: Path, cwd: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as handle:
        return subprocess.Popen(args, env=env, stdout=handle, stderr=subprocess.STDOUT, cwd=cwd)


def stop(process: subprocess.Popen[bytes], *, sig: int = signal.SIGTERM, timeout: float = 30.0) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def note(message: str) -> None:
    """A progress line on stderr (the table goes to stdout)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def log_problems(log: Path, start: int = 0, end: int | None = None) -> list[str]:
    """Error lines (JSON logs at level error/critical, or tracebacks) a process wrote between byte
    offsets ``start`` and ``end`` (the measured window; shutdown noise is not the engine's steady state)."""
    problems = []
    with log.open("rb") as handle:
        handle.seek(start)
        chunk = handle.read(None if end is None else max(0, end - start))
    for line in chunk.decode(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            if "Traceback" in line or "Error" in line:
                problems.append(line)
            continue
        if isinstance(record, dict) and record.get("level") in ("error", "critical"):
            problems.append(str(record.get("message", line))[:300])
    return problems


@contextmanager
def page_server(workdir: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """uvicorn serving ``bench/engine_page.py`` on a free port, in its own process."""
    port = free_port()
    process = start(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bench.engine_page:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            *UVICORN,
        ],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        log=workdir / "page.log",
        cwd=ROOT,
    )
    url = f"http://127.0.0.1:{port}/listing"
    try:
        wait_for_http(url, process, workdir / "page.log")
        yield url, process
    finally:
        stop(process, sig=signal.SIGINT)


def wait_for_http(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise SystemExit(f"{url}: process exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"{url} did not answer within {timeout:g} s")
        time.sleep(0.2)


# -- /proc -----------------------------------------------------------------------------------------


def rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def runqueue_wait_seconds(pid: int) -> float:
    """Time the process was runnable but waiting for a CPU (``/proc/<pid>/schedstat``, all threads)."""
    total = 0
    for stat in Path(f"/proc/{pid}/task").glob("*/schedstat"):
        try:
            total += int(stat.read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return total / 1e9


def machine_cpu() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return float(sum(values) - idle), float(sum(values))


# -- database --------------------------------------------------------------------------------------


async def create_database(admin_url: str, name: str) -> str:
    """A fresh PostgreSQL database on the throwaway server; returns its URL."""
    admin = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await admin.dispose()
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


async def insert_schedules(
    db: Database, *, subjects: int, interval: int, payload: dict[str, Any], first_due: datetime
) -> None:
    """``subjects`` probe schedules, first due times spread evenly over the first interval."""
    rows = [
        {
            "kind": PROBE_KIND,
            "user_id": None,
            "subject_id": subject,
            "interval_seconds": interval,
            "next_run_at": first_due + timedelta(seconds=interval * index / subjects),
            "enabled": True,
            "payload": payload,
        }
        for index, subject in enumerate(range(1, subjects + 1))
    ]
    async with db.session(write=True) as session:
        for chunk in range(0, len(rows), 2000):
            await session.execute(insert(Schedule), rows[chunk : chunk + 2000])


async def wait_for_workers(
    db: Database, count: int, processes: list[subprocess.Popen[bytes]], logs: list[Path]
) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        for process, log in zip(processes, logs, strict=True):
            if process.poll() is not None:
                raise SystemExit(f"a worker exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            async with db.session() as session:
                seen = await session.scalar(select(func.count()).select_from(WorkerHeartbeat))
            if (seen or 0) >= count:
                return
        except Exception:  # the schema may not be there yet
            pass
        await asyncio.sleep(0.3)
    raise SystemExit(f"{count} workers did not report within 120 s")


def owner_pid(owner: str | None) -> int | None:
    """The pid in a lease owner ``host:pid:nonce``."""
    if not owner:
        return None
    parts = owner.split(":")
    return int(parts[-2]) if len(parts) >= 3 and parts[-2].isdigit() else None


async def sample(db: Database, pids: list[int], samples: Samples, until: float) -> None:
    """Until ``until`` (monotonic): RSS every 0.5 s; running runs per worker and due backlog every 1 s."""
    tick = 0
    while time.monotonic() < until:
        for pid in pids:
            samples.rss_kb[pid] = max(samples.rss_kb.get(pid, 0), rss_kb(pid))
        if tick % 2 == 0:
            async with db.session() as session:
                rows = await session.execute(
                    select(Run.lease_owner, func.count())
                    .where(Run.status == RunStatus.RUNNING.value)
                    .group_by(Run.lease_owner)
                )
                total = 0
                for owner, count in rows.all():
                    total += count
                    owner_process = owner_pid(owner)
                    if owner_process is not None:
                        samples.running[owner_process] = max(samples.running.get(owner_process, 0), int(count))
                samples.running_total = max(samples.running_total, total)
                due = await session.scalar(
                    select(func.count())
                    .select_from(Run)
                    .where(Run.status == RunStatus.QUEUED.value, Run.not_before <= datetime.now(UTC))
                )
                samples.queued_due = max(samples.queued_due, int(due or 0))
        tick += 1
        await asyncio.sleep(0.5)


def percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))]


async def window_figures(db: Database, w0: datetime, w1: datetime) -> dict[str, Any]:
    """What the runs table says about [w0, w1]."""
    seconds = (w1 - w0).total_seconds()
    in_window = Run.finished_at.between(w0, w1)
    async with db.session() as session:
        finished = dict(
            (await session.execute(select(Run.status, func.count()).where(in_window).group_by(Run.status))).all()
        )
        created = await session.scalar(select(func.count()).select_from(Run).where(Run.created_at.between(w0, w1)))
        retried = await session.scalar(
            select(func.count()).select_from(Run).where(Run.attempt > 1, Run.started_at.between(w0, w1))
        )
        starts = (
            await session.execute(
                select(Run.not_before, Run.started_at).where(Run.attempt == 1, Run.started_at.between(w0, w1))
            )
        ).all()
        spans = (
            await session.execute(
                select(Run.started_at, Run.finished_at).where(
                    Run.started_at <= w1, (Run.finished_at.is_(None)) | (Run.finished_at >= w0)
                )
            )
        ).all()
        errors = (
            await session.execute(
                select(Run.error, func.count())
                .where(Run.error.is_not(None), Run.started_at.between(w0, w1))
                .group_by(Run.error)
                .order_by(func.count().desc())
                .limit(5)
            )
        ).all()
    lags = [max(0.0, (started - due).total_seconds()) for due, started in starts if started is not None]
    events: list[tuple[datetime, int]] = []
    for started, finished_at in spans:
        if started is None:
            continue
        events.append((max(started, w0), 1))
        events.append((min(finished_at or w1, w1), -1))
    peak = running = 0
    for _, delta in sorted(events, key=lambda e: (e[0], e[1])):
        running += delta
        peak = max(peak, running)
    succeeded = int(finished.get(RunStatus.SUCCEEDED.value, 0))
    p50, p99 = percentile(lags, 0.5), percentile(lags, 0.99)
    return {
        "window_s": round(seconds, 1),
        "succeeded": succeeded,
        "runs_per_s": round(succeeded / seconds, 1) if seconds else 0.0,
        "failed": int(finished.get(RunStatus.FAILED.value, 0)),
        "cancelled": int(finished.get(RunStatus.CANCELLED.value, 0)),
        "retried": int(retried or 0),
        "created_in_window": int(created or 0),
        "lag_samples": len(lags),
        "lag_p50_s": round(p50, 3) if p50 is not None else None,
        "lag_p99_s": round(p99, 3) if p99 is not None else None,
        "lag_max_s": round(max(lags), 3) if lags else None,
        "peak_running_total": peak,
        "top_errors": [{"error": (e or "")[:200], "count": int(n)} for e, n in errors],
    }


# -- one phase -------------------------------------------------------------------------------------


@dataclass
class Setup:
    """Where a phase runs: the processes started and the database the bench reads."""

    db: Database
    workers: list[subprocess.Popen[bytes]]
    logs: list[Path]


@asynccontextmanager
async def embedded(env: dict[str, str], workdir: Path, loop: str | None = None) -> AsyncIterator[Setup]:
    """``spyglass serve`` on SQLite in ``workdir`` (``loop``: its --loop option, else its default)."""
    port = free_port()
    log = workdir / "serve.log"
    args = [sys.executable, "-m", "spyglass", "serve", "--port", str(port), *(["--loop", loop] if loop else [])]
    process = start(args, env=env, log=log, cwd=workdir)
    db = Database(f"sqlite+aiosqlite:///{workdir / 'data' / 'spyglass.db'}")
    try:
        await asyncio.to_thread(wait_for_http, f"http://127.0.0.1:{port}/health", process, log)
        await wait_for_workers(db, 1, [process], [log])
        yield Setup(db, [process], [log])
    finally:
        stop(process, sig=signal.SIGINT)
        await db.dispose()


@asynccontextmanager
async def distributed(env: dict[str, str], workdir: Path, database_url: str) -> AsyncIterator[Setup]:
    """``spyglass migrate`` then two ``spyglass worker`` processes."""
    migrated = subprocess.run(
        [sys.executable, "-m", "spyglass", "migrate"], env=env, cwd=workdir, capture_output=True, text=True
    )
    if migrated.returncode != 0:
        raise SystemExit(f"spyglass migrate failed:\n{migrated.stdout}{migrated.stderr}")
    logs = [workdir / f"worker-{n}.log" for n in range(2)]
    workers = [start([sys.executable, "-m", "spyglass", "worker"], env=env, log=log, cwd=workdir) for log in logs]
    db = Database(database_url)
    try:
        await wait_for_workers(db, 2, workers, logs)
        yield Setup(db, workers, logs)
    finally:
        for process in workers:
            process.send_signal(signal.SIGTERM)
        for process in workers:
            stop(process, timeout=40)
        await db.dispose()


async def leader_pid(db: Database) -> int | None:
    if db.backend != "postgresql":
        return None
    from spyglass.engine.leadership import SCHEDULER_LOCK_KEY

    async with db.session() as session:
        name = await session.scalar(
            text(
                "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND l.granted AND l.objid = :key"
            ),
            {"key": SCHEDULER_LOCK_KEY},
        )
    return int(name.rsplit("-", 1)[1]) if name else None


def profiler(pid: int, seconds: float, workdir: Path) -> subprocess.Popen[bytes]:
    """py-spy sampling ``pid`` for the window; collapsed stacks go to bench/results/profile-<dir>-<pid>.txt."""
    output = RESULTS.parent / f"profile-{workdir.name}-{pid}.txt"
    output.parent.mkdir(parents=True, exist_ok=True)
    py_spy = str(Path(sys.executable).parent / "py-spy")
    return subprocess.Popen(
        [py_spy, "record", "--pid", str(pid), "--duration", str(int(seconds)), *PY_SPY, "--output", str(output)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def run_phase(
    *,
    mode: str,
    phase: Phase,
    subjects: int,
    seconds: float,
    warmup: float,
    demand: float,
    page_url: str,
    page_pid: int,
    workdir: Path,
    postgres_admin_url: str | None = None,
    redis_url: str | None = None,
    profile: bool = False,
    serve_loop: str | None = None,
) -> dict[str, Any]:
    """Start the engine of ``mode`` with ``phase``'s concurrency, offer it the work, measure a window."""
    workdir.mkdir(parents=True, exist_ok=True)
    settings = {
        "data_dir": str(workdir / "data"),
        "secret_key": BENCH_SECRET,
        "allow_private_targets": "127.0.0.1/32",
        "http_per_host_delay_seconds": "0",
        "http_per_host_concurrency": "1000",
        "worker_concurrency": str(phase.concurrency),
        "log_level": "WARNING",
        "rate_limit_enabled": "false",
    }
    database_url = None
    if mode == "distributed":
        assert postgres_admin_url and redis_url
        database_url = await create_database(postgres_admin_url, f"bench_{phase.name}")
        from redis.asyncio import Redis

        redis = Redis.from_url(redis_url)
        await redis.flushdb()
        await redis.aclose()
        settings |= {"database_url": database_url, "redis_url": redis_url}
    env = spyglass_env(**settings)
    demand = dict(phase.demand).get(mode, demand)
    interval = max(1, round(subjects / (demand * (JITTER_FACTOR if phase.demand else 1.0))))
    payload: dict[str, Any] = {"fetch": page_url}
    if phase.sleep:
        payload["sleep"] = phase.sleep
    context = embedded(env, workdir, serve_loop) if mode == "embedded" else distributed(env, workdir, str(database_url))
    async with context as setup:
        pids = [process.pid for process in setup.workers]
        await insert_schedules(
            setup.db,
            subjects=subjects,
            interval=interval,
            payload=payload,
            first_due=datetime.now(UTC) + timedelta(seconds=1),
        )
        note(f"{mode} {phase.name}: {subjects} schedules every {interval} s inserted; warming up {warmup:g} s")
        await asyncio.sleep(warmup)
        note(f"{mode} {phase.name}: measuring {seconds:g} s")
        profilers = [profiler(pid, seconds, workdir) for pid in pids] if profile else []
        log_start = [log.stat().st_size for log in setup.logs]
        samples = Samples()
        cpu0 = {pid: cpu_seconds(pid) for pid in [*pids, page_pid]}
        wait0 = {pid: runqueue_wait_seconds(pid) for pid in pids}
        machine0 = machine_cpu()
        w0, started = datetime.now(UTC), time.monotonic()
        await sample(setup.db, pids, samples, started + seconds)
        w1 = datetime.now(UTC)
        log_end = [log.stat().st_size for log in setup.logs]
        elapsed = time.monotonic() - started
        cpu = {pid: round(100 * (cpu_seconds(pid) - cpu0[pid]) / elapsed, 1) for pid in cpu0}
        waited = {pid: round(100 * (runqueue_wait_seconds(pid) - wait0[pid]) / elapsed, 1) for pid in pids}
        machine1 = machine_cpu()
        leader = await leader_pid(setup.db)
        await asyncio.sleep(1.0)  # let runs that finished inside the window commit
        figures = await window_figures(setup.db, w0, w1)
        async with setup.db.session(write=True) as session:
            await session.execute(update(Schedule).values(enabled=False))
        for process in profilers:
            process.wait(timeout=60)
        note(f"{mode} {phase.name}: {figures['runs_per_s']} runs/s, p99 lag {figures['lag_p99_s']} s; stopping")
    problems = [
        line
        for log, first, last in zip(setup.logs, log_start, log_end, strict=True)
        for line in log_problems(log, first, last)
    ]
    return {
        "mode": mode,
        "phase": phase.name,
        "concurrency": phase.concurrency,
        "run_sleep_s": phase.sleep,
        "serve_loop": serve_loop if mode == "embedded" else None,
        "subjects": subjects,
        "interval_s": interval,
        "offered_runs_per_s": round(subjects / (interval * JITTER_FACTOR), 1),
        **figures,
        "peak_running_per_worker": {str(pid): samples.running.get(pid, 0) for pid in pids},
        "max_queued_due": samples.queued_due,
        "rss_mb_max": {str(pid): round(samples.rss_kb.get(pid, 0) / 1024, 1) for pid in pids},
        "worker_cpu_percent": {str(pid): cpu[pid] for pid in pids},
        "worker_runqueue_wait_percent": {str(pid): waited[pid] for pid in pids},
        # CPU the engine processes spent per succeeded run: steadier than runs/s on a shared machine.
        "worker_cpu_ms_per_run": round(
            10 * sum(cpu[pid] for pid in pids) * figures["window_s"] / max(1, figures["succeeded"]), 2
        ),
        "page_server_cpu_percent": cpu[page_pid],
        "machine_busy_percent": round(100 * (machine1[0] - machine0[0]) / max(1.0, machine1[1] - machine0[1]), 1),
        "scheduler_leader_pid": leader,
        "log_errors": len(problems),
        "log_error_examples": problems[:5],
    }


async def bench_mode(
    mode: str,
    *,
    phases: list[Phase],
    subjects: int,
    seconds: float,
    warmup: float,
    demand: float,
    page_url: str,
    page_pid: int,
    workdir: Path,
    profile: bool = False,
    serve_loop: str | None = None,
) -> list[dict[str, Any]]:
    """Every phase of one mode (the distributed mode starts PostgreSQL and Redis once for all of them)."""
    results = []
    if mode == "embedded":
        for phase in phases:
            results.append(
                await run_phase(
                    mode=mode,
                    phase=phase,
                    subjects=subjects,
                    seconds=seconds,
                    warmup=warmup,
                    demand=demand,
                    page_url=page_url,
                    page_pid=page_pid,
                    workdir=workdir / f"{mode}-{phase.name}",
                    profile=profile,
                    serve_loop=serve_loop,
                )
            )
        return results
    with postgres_server() as admin_url, redis_server() as redis_url:
        for phase in phases:
            results.append(
                await run_phase(
                    mode=mode,
                    phase=phase,
                    subjects=subjects,
                    seconds=seconds,
                    warmup=warmup,
                    demand=demand,
                    page_url=page_url,
                    page_pid=page_pid,
                    workdir=workdir / f"{mode}-{phase.name}",
                    postgres_admin_url=admin_url,
                    redis_url=redis_url,
                    profile=profile,
                )
            )
    return results


async def run_benchmark(
    *,
    modes: list[str],
    phases: list[Phase],
    subjects: int,
    seconds: float,
    warmup: float,
    demand: dict[str, float] | None = None,
    keep: bool = False,
    profile: bool = False,
    serve_loop: str | None = None,
) -> dict[str, Any]:
    """Run the benchmark; returns the results document (machine, settings, one entry per mode and phase).
    ``keep`` leaves the temporary folder (databases, process logs) in place and names it in the document."""
    demand = {**DEMAND, **(demand or {})}
    load_before = os.getloadavg()
    with scratch(keep) as workdir, page_server(workdir) as (page_url, page_process):
        results = []
        for mode in modes:
            results += await bench_mode(
                mode,
                phases=phases,
                subjects=subjects,
                seconds=seconds,
                warmup=warmup,
                demand=demand[mode],
                page_url=page_url,
                page_pid=page_process.pid,
                workdir=workdir,
                profile=profile,
                serve_loop=serve_loop,
            )
    return {
        "benchmark": "engine",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "loadavg_before": [round(v, 2) for v in load_before],
            "loadavg_after": [round(v, 2) for v in os.getloadavg()],
        },
        "settings": {
            "subjects": subjects,
            "window_s": seconds,
            "warmup_s": warmup,
            "demand_runs_per_s": demand,
            "phases": [asdict(p) for p in phases],
        },
        "targets": TARGETS,
        "workdir": str(workdir) if keep else None,
        "results": results,
    }


@contextmanager
def scratch(keep: bool) -> Iterator[Path]:
    """A temporary folder, removed afterwards unless ``keep``."""
    if keep:
        yield Path(tempfile.mkdtemp(prefix="spyglass-engine-bench-"))
        return
    with tempfile.TemporaryDirectory(prefix="spyglass-engine-bench-") as tmp:
        yield Path(tmp)


# -- report ----------------------------------------------------------------------------------------


def verdicts(result: dict[str, Any]) -> list[str]:
    """Which targets a phase result misses (throughput at c100, lag where the offer is below capacity)."""
    misses = []
    target = TARGETS[f"{result['mode']}_runs_per_s"]
    if result["phase"] == "c100" and result["runs_per_s"] < target:
        misses.append(f"runs/s {result['runs_per_s']} < {target:g}")
    if result["phase"] == "steady" and (result["lag_p99_s"] is None or result["lag_p99_s"] >= TARGETS["p99_lag_s"]):
        misses.append(f"p99 lag {result['lag_p99_s']} s ≥ {TARGETS['p99_lag_s']:g} s")
    if result["concurrency"] >= 500 and max(result["rss_mb_max"].values()) >= TARGETS["rss_mb_at_500"]:
        misses.append(f"RSS ≥ {TARGETS['rss_mb_at_500']:g} MB")
    if result["failed"]:
        misses.append(f"{result['failed']} failed")
    return misses


def print_table(document: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"Job engine, {document['settings']['subjects']:,} subjects, {document['machine']['cpus']} CPUs"
    )
    for column in (
        "mode",
        "phase",
        "offered/s",
        "runs/s",
        "lag p50",
        "lag p99",
        "failed",
        "retried",
        "peak running/worker",
        "RSS MB/worker",
        "CPU %/worker",
        "CPU wait %/worker",
        "CPU ms/run",
        "machine busy",
        "misses",
    ):
        table.add_column(column, justify="left" if column in ("mode", "phase", "misses") else "right")
    for r in document["results"]:
        table.add_row(
            r["mode"],
            r["phase"],
            f"{r['offered_runs_per_s']:g}",
            f"{r['runs_per_s']:g}",
            f"{r['lag_p50_s']}",
            f"{r['lag_p99_s']}",
            str(r["failed"]),
            str(r["retried"]),
            " / ".join(str(v) for v in r["peak_running_per_worker"].values()),
            " / ".join(f"{v:g}" for v in r["rss_mb_max"].values()),
            " / ".join(f"{v:g}" for v in r["worker_cpu_percent"].values()),
            " / ".join(f"{v:g}" for v in r.get("worker_runqueue_wait_percent", {}).values()),
            f"{r.get('worker_cpu_ms_per_run', '')}",
            f"{r['machine_busy_percent']:g} %",
            "; ".join(verdicts(r)) or "—",
        )
    Console(width=220).print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=("embedded", "distributed", "both"), default="both")
    parser.add_argument("--subjects", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the measured window")
    parser.add_argument("--warmup", type=float, default=15.0, help="seconds after the schedules are inserted")
    parser.add_argument("--phases", default="c100,c500", help="comma-separated: c100, c500, steady")
    parser.add_argument("--serve-loop", choices=("asyncio", "uvloop", "auto"), help="spyglass serve --loop")
    parser.add_argument("--demand-embedded", type=float, default=DEMAND["embedded"], help="offered runs/s")
    parser.add_argument("--demand-distributed", type=float, default=DEMAND["distributed"], help="offered runs/s")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--profile", action="store_true", help="py-spy the workers during the window")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder with databases and logs")
    args = parser.parse_args()
    modes = ["embedded", "distributed"] if args.mode == "both" else [args.mode]
    phases = [PHASES[name.strip()] for name in args.phases.split(",") if name.strip()]
    document = asyncio.run(
        run_benchmark(
            modes=modes,
            phases=phases,
            subjects=args.subjects,
            seconds=args.seconds,
            warmup=args.warmup,
            demand={"embedded": args.demand_embedded, "distributed": args.demand_distributed},
            keep=args.keep,
            profile=args.profile,
            serve_loop=args.serve_loop,
        )
    )
    document["command"] = " ".join([".venv/bin/python", "bench/engine.py", *sys.argv[1:]])
    args.output.parent.mkdir(parents=True, exist_ok=True)
    previous = json.loads(args.output.read_text()) if args.output.exists() else {}
    if isinstance(previous, dict) and previous.get("benchmark") == "engine" and len(modes) == 1:
        # Keep the other mode's latest results when only one mode was run.
        kept = [r for r in previous.get("results", []) if r.get("mode") not in modes]
        document["results"] = kept + document["results"]
    args.output.write_text(json.dumps(document, indent=2) + "\n")
    print_table(document)
    print(f"Results written to {args.output}")


if __name__ == "__main__":
    main()
