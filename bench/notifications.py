"""Benchmark: latency from an event to its email being accepted by a local SMTP server, at a steady rate.

    .venv/bin/python bench/notifications.py                       # SQLite, 100 events/s for 30 s
    .venv/bin/python bench/notifications.py --db postgresql --rate 100 --seconds 30
    .venv/bin/python bench/notifications.py --separate-process     # dispatcher in another process
    .venv/bin/python bench/notifications.py --receiver-process     # the SMTP server in another process

An event is what a feature does: one write transaction that calls ``notify()`` (here for one of 20
users, each with a verified email channel subscribed to price drops). Events are offered at ``--rate``
per second on a fixed schedule (not "as fast as the last one finished"), so a slow dispatcher shows
up as latency, not as a lower offered rate. The dispatcher is ``OutboxDispatcher.run`` — what the
``notifications.dispatch`` job and the workers' resident dispatchers run — either in the producing
process (embedded mode: commits wake it) or in a separate process (distributed mode, where the producer
is a web or worker process): woken by PostgreSQL's NOTIFY, polling the outbox every ``--poll`` seconds
on SQLite.

Latency per event = the moment the SMTP server (aiosmtpd on 127.0.0.1, in its own thread) accepted
the message − the moment just before the event's transaction began. Reported: p50, p95, p99, max,
events not delivered within ``--wait`` seconds (0 when nothing was lost), duplicates (must be 0), the
CPU this process spent per event (producer and, unless separate, the SMTP receiver and the dispatcher) and, with
``--separate-process``, the dispatcher process's own CPU per event (the cost of delivering alone).
Results are appended to ``bench/results/notifications.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for entry in (str(ROOT / "src"), str(ROOT)):
    if entry not in sys.path:
        sys.path.insert(0, entry)

from aiosmtpd.controller import Controller  # noqa: E402
from tests.support.servers import free_port, postgres_server, wait_for_port  # noqa: E402

from spyglass.accounts.models import User, UserSettings  # noqa: E402
from spyglass.config import Settings  # noqa: E402
from spyglass.core.db import utcnow  # noqa: E402
from spyglass.core.migrations import upgrade  # noqa: E402
from spyglass.core.services import Services  # noqa: E402
from spyglass.notifications import outbox  # noqa: E402
from spyglass.notifications.dispatcher import OutboxDispatcher  # noqa: E402
from spyglass.notifications.models import Channel  # noqa: E402

SECRET = "bench-secret-key-0123456789-abcdefghijklmnop"
USERS = 20
RESULTS = ROOT / "bench" / "results" / "notifications.json"


class Receiver:
    """Records when each message (by its notification key) was accepted; with ``record``, also appends
    ``key time`` lines to that file (the receiver running in a process of its own)."""

    def __init__(self, record: Path | None = None) -> None:
        self.accepted: dict[str, list[float]] = {}
        self._record = record.open("a", buffering=1) if record is not None else None

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        now = time.time()
        raw = envelope.original_content or envelope.content
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        key = ""
        lines = text.splitlines()
        for index, line in enumerate(lines):
            if line.lower().startswith("x-spyglass-notification:"):
                value = line.split(":", 1)[1].strip() or (lines[index + 1].strip() if index + 1 < len(lines) else "")
                key = value.split("/", 1)[0]
                break
        self.accepted.setdefault(key, []).append(now)
        if self._record is not None:
            self._record.write(f"{key} {now}\n")
        return "250 accepted"


class ReceiverProcess:
    """The SMTP receiver in a process of its own (``--receiver-process``), so its CPU is neither counted as
    the producer's nor competes with it for the GIL; acceptance times come back through a file."""

    def __init__(self, port: int, record: Path) -> None:
        self.record = record
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--serve-smtp", str(port), "--record", str(record)]
        )
        self.accepted: dict[str, list[float]] = {}
        self._offset = 0

    def refresh(self) -> None:
        if not self.record.exists():
            return
        with self.record.open() as handle:
            handle.seek(self._offset)
            for line in handle:
                if not line.endswith("\n"):
                    break
                key, at = line.split()
                self.accepted.setdefault(key, []).append(float(at))
                self._offset += len(line)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)


def serve_smtp(port: int, record: Path) -> None:
    controller = Controller(Receiver(record), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()


def settings_for(database_url: str, data_dir: Path, smtp_port: int, poll: float) -> Settings:
    return Settings(
        environment="development",
        database_url=database_url,
        data_dir=data_dir,
        secret_key=SECRET,  # type: ignore[arg-type]
        base_url="http://127.0.0.1:8000",
        smtp_host="127.0.0.1",
        smtp_port=smtp_port,
        smtp_starttls=False,
        notifications_poll_seconds=poll,
        log_level="WARNING",
    )


async def seed(services: Services) -> list[int]:
    """Users with a verified email channel subscribed to price drops."""
    ids = []
    async with services.db.session(write=True) as session:
        for number in range(USERS):
            user = User(
                username=f"bench{number}",
                email=f"bench{number}@example.com",
                password_hash="x",
                email_verified_at=utcnow(),
            )
            session.add(user)
            await session.flush()
            session.add(UserSettings(user_id=user.id))
            session.add(
                Channel(
                    user_id=user.id,
                    kind="email",
                    label="inbox",
                    target=user.email,
                    target_hint=user.email,
                    verified=True,
                    enabled=True,
                    subscriptions={outbox.EVENT_PRICE_DROP: "instant"},
                    timezone="UTC",
                )
            )
            ids.append(user.id)
    return ids


async def produce(services: Services, users: list[int], rate: float, seconds: float) -> dict[str, float]:
    """Offer ``rate`` events per second for ``seconds``; returns key → time just before its transaction."""
    started: dict[str, float] = {}
    total = int(rate * seconds)
    begin = time.monotonic()
    pending: set[asyncio.Task[None]] = set()

    async def one(number: int) -> None:
        key = f"bench:{number}"
        started[key] = time.time()
        async with services.db.session(write=True) as session:
            await outbox.notify(
                session,
                user_id=users[number % len(users)],
                event=outbox.EVENT_PRICE_DROP,
                payload={
                    "title": f"Lamp {number}",
                    "url": "https://shop.example/1",
                    "old_price": 20,
                    "new_price": 15,
                    "currency": "USD",
                    "listing_id": number,
                },
                key=key,
            )

    for number in range(total):
        delay = begin + number / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one(number))
        pending.add(task)
        task.add_done_callback(pending.discard)
    await asyncio.gather(*pending)
    return started


def separate_dispatcher(settings: Settings, linger: float) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT / 'src'}:{ROOT}",
        "SPYGLASS_DATABASE_URL": settings.resolved_database_url,
        "SPYGLASS_DATA_DIR": str(settings.data_dir),
        "SPYGLASS_SECRET_KEY": SECRET,
        "SPYGLASS_ENVIRONMENT": "development",
        "SPYGLASS_SMTP_HOST": "127.0.0.1",
        "SPYGLASS_SMTP_PORT": str(settings.smtp_port),
        "SPYGLASS_SMTP_STARTTLS": "false",
        "SPYGLASS_NOTIFICATIONS_POLL_SECONDS": str(settings.notifications_poll_seconds),
        "SPYGLASS_LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "tests.notifications.dispatcher_main", str(linger)], cwd=ROOT, env=env
    )


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far, all its threads (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))]


async def run(database_url: str, args: argparse.Namespace, data_dir: Path) -> dict[str, Any]:
    await asyncio.to_thread(upgrade, database_url)
    port = free_port()
    receiver: Receiver | ReceiverProcess
    controller = None
    if args.receiver_process:
        receiver = ReceiverProcess(port, data_dir / "accepted.txt")
        await asyncio.to_thread(wait_for_port, port)
    else:
        receiver = Receiver()
        controller = Controller(receiver, hostname="127.0.0.1", port=port)
        controller.start()
    settings = settings_for(database_url, data_dir, port, args.poll)
    services = Services.build(settings)
    process = None
    cpu_seconds = 0.0
    dispatcher_cpu: float | None = None
    try:
        users = await seed(services)
        linger = args.seconds + args.wait
        dispatcher_task = None
        if args.separate_process:
            process = separate_dispatcher(settings, linger)
            await asyncio.sleep(8)  # let it import and start polling before the clock starts
        else:
            dispatcher_task = asyncio.create_task(OutboxDispatcher(services).run(linger_seconds=linger))
        cpu_before = time.process_time()
        child_before = process_cpu_seconds(process.pid) if process is not None else 0.0
        started = await produce(services, users, args.rate, args.seconds)
        deadline = time.monotonic() + args.wait
        while len(receiver.accepted) < len(started) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            if isinstance(receiver, ReceiverProcess):
                receiver.refresh()
        cpu_seconds = time.process_time() - cpu_before
        if process is not None:
            dispatcher_cpu = process_cpu_seconds(process.pid) - child_before
        if dispatcher_task is not None:
            dispatcher_task.cancel()
    finally:
        if process is not None:
            process.terminate()
            process.wait(30)
        await services.close()
        if controller is not None:
            controller.stop()
        if isinstance(receiver, ReceiverProcess):
            receiver.stop()
            receiver.refresh()
    latencies = [receiver.accepted[key][0] - at for key, at in started.items() if key in receiver.accepted]
    return {
        "backend": "postgresql" if "postgresql" in database_url else "sqlite",
        "dispatcher": (
            ("separate process (woken by NOTIFY)" if "postgresql" in database_url else "separate process (polling)")
            if args.separate_process
            else "same process (woken by commits)"
        ),
        "receiver": "separate process" if args.receiver_process else "this process (a thread)",
        "poll_seconds": args.poll,
        "rate_per_second": args.rate,
        "seconds": args.seconds,
        "events": len(started),
        "delivered": len(latencies),
        # Not accepted by the SMTP server within --wait seconds after the last event (0 = nothing lost).
        "undelivered_after_wait": len(started) - len(latencies),
        "duplicates": sum(len(times) - 1 for times in receiver.accepted.values()),
        "p50_ms": round(1000 * percentile(latencies, 0.50), 1) if latencies else None,
        "p95_ms": round(1000 * percentile(latencies, 0.95), 1) if latencies else None,
        "p99_ms": round(1000 * percentile(latencies, 0.99), 1) if latencies else None,
        "max_ms": round(1000 * max(latencies), 1) if latencies else None,
        "mean_ms": round(1000 * statistics.fmean(latencies), 1) if latencies else None,
        # CPU of this process (producer, the SMTP receiver unless separate, the dispatcher unless separate).
        "cpu_ms_per_event": round(1000 * cpu_seconds / max(1, len(started)), 2),
        # The separate dispatcher process's CPU per event: what delivering costs, without producer and receiver.
        "dispatcher_cpu_ms_per_event": (
            round(1000 * dispatcher_cpu / max(1, len(started)), 2) if dispatcher_cpu is not None else None
        ),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}",
        "measured_at": utcnow().isoformat(timespec="seconds"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--rate", type=float, default=100.0, help="events per second")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--poll", type=float, default=0.5, help="dispatcher poll interval (s)")
    parser.add_argument("--separate-process", action="store_true", help="run the dispatcher in another process")
    parser.add_argument("--wait", type=float, default=180.0, help="seconds to wait for the last deliveries")
    parser.add_argument("--receiver-process", action="store_true", help="run the SMTP receiver in another process")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--serve-smtp", type=int, help=argparse.SUPPRESS)  # the receiver process itself
    parser.add_argument("--record", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_smtp:
        serve_smtp(args.serve_smtp, args.record)
        return
    with tempfile.TemporaryDirectory(prefix="spyglass-bench-") as folder:
        data_dir = Path(folder)
        if args.db == "sqlite":
            result = asyncio.run(run(f"sqlite+aiosqlite:///{data_dir / 'bench.db'}", args, data_dir))
        else:
            with postgres_server() as url:
                result = asyncio.run(run(url, args, data_dir))
    print(json.dumps(result, indent=2))
    previous = json.loads(args.output.read_text()) if args.output.exists() else []
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps([*previous, result], indent=2) + "\n")


if __name__ == "__main__":
    main()
