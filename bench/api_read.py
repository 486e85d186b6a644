"""Benchmark: an authenticated, cached API read against the embedded server, beside a bare Litestar app.

    .venv/bin/python bench/api_read.py                 # 10 s per run, 64 and 256 connections
    .venv/bin/python bench/api_read.py --duration 5 --connections 64

It starts ``spyglass serve`` (one uvicorn process, SQLite in a temporary data
folder, the embedded job engine running, log level WARNING, the API rate limit
raised so it never trips) and ``bench/bare_app.py`` (same uvicorn settings),
creates a user and a personal API token directly in the database, checks that
``GET /api/v1/me`` really authenticates (200 with the token, 401 without),
warms both up, then runs ``wrk`` against each, alternating, at every connection
count. Results go to ``bench/results/api_read.json`` and a table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results" / "api_read.json"
LUA = BENCH / "report.lua"
SPYGLASS = Path(sys.executable).parent / "spyglass"
console = Console(width=120)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def seed(data_dir: Path) -> str:
    """Migrate a fresh SQLite database, add a user with settings and an API token; return the token."""
    sys.path.insert(0, str(ROOT / "src"))
    from spyglass.accounts.auth import TOKEN_PREFIX, hash_token
    from spyglass.accounts.models import ApiToken, User, UserSettings
    from spyglass.core.db import Database, utcnow
    from spyglass.core.migrations import upgrade
    from spyglass.core.security import hash_password, new_token

    url = f"sqlite+aiosqlite:///{data_dir / 'spyglass.db'}"
    upgrade(url)
    token = new_token(TOKEN_PREFIX)

    async def insert() -> None:
        database = Database(url)
        async with database.session(write=True) as session:
            user = User(
                username="bench",
                email="bench@example.com",
                password_hash=hash_password("bench password that nobody uses"),
                email_verified_at=utcnow(),
            )
            session.add(user)
            await session.flush()
            session.add(UserSettings(user_id=user.id, display_name="Bench"))
            session.add(ApiToken(user_id=user.id, name="bench", token_hash=hash_token(token), prefix=token[:8]))
        await database.dispose()

    asyncio.run(insert())
    return token


@contextmanager
def server(args: list[str], env: dict[str, str], url: str, name: str, cwd: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Start a server process and wait until ``url`` answers; stop it afterwards."""
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=cwd)
        try:
            deadline = time.monotonic() + 120
            while True:
                if process.poll() is not None:
                    log.seek(0)
                    raise SystemExit(f"{name} exited with {process.returncode}:\n{log.read().decode()[-3000:]}")
                try:
                    if httpx.get(url, timeout=2).status_code < 500:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit(f"{name} did not start within 120 s")
                time.sleep(0.2)
            yield process
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time consumed so far by process ``pid`` (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk(url: str, *, connections: int, duration: float, threads: int, headers: dict[str, str]) -> dict[str, Any]:
    """Run wrk once and return its BENCH_JSON summary."""
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration:g}s", "--latency", "-s", str(LUA)]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    command.append(url)
    output = subprocess.run(command, capture_output=True, text=True, check=True, timeout=duration + 60).stdout
    match = re.search(r"^BENCH_JSON (.*)$", output, re.MULTILINE)
    if not match:
        raise SystemExit(f"wrk printed no summary:\n{output}")
    result: dict[str, Any] = json.loads(match.group(1))
    result["connections"] = connections
    return result


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    cpu = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        found = re.search(r"^model name\s*:\s*(.*)$", cpuinfo.read_text(), re.MULTILINE)
        cpu = found.group(1) if found else ""
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "load_average_before": os.getloadavg(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "wrk": subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.splitlines()[0:1],
    }


def check_authentication(url: str, token: str) -> dict[str, Any]:
    """Refuse to measure unless the endpoint authenticates and returns the user's cached settings."""
    anonymous = httpx.get(url, timeout=10)
    wrong = httpx.get(url, headers={"Authorization": "Bearer sg_wrong-token"}, timeout=10)
    good = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    if anonymous.status_code != 401 or wrong.status_code != 401 or good.status_code != 200:
        raise SystemExit(f"unexpected answers: {anonymous.status_code}, {wrong.status_code}, {good.status_code}")
    body: dict[str, Any] = good.json()
    if body.get("username") != "bench" or body.get("settings", {}).get("display_name") != "Bench":
        raise SystemExit(f"unexpected body: {body}")
    return body


def warm_up(url: str, headers: dict[str, str], seconds: float) -> None:
    wrk(url, connections=16, duration=seconds, threads=1, headers=headers)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run (default 10)")
    parser.add_argument("--connections", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of warm-up per server (default 3)")
    parser.add_argument(
        "--api-limit",
        default="1000000/second",
        help="SPYGLASS_RATE_LIMIT_API for the run: high enough never to trip, still checked on every request "
        "(default 1000000/second; see bench/README.md for why not a per-minute figure)",
    )
    parser.add_argument(
        "--loop", default="auto", choices=["auto", "asyncio", "uvloop"], help="event loop of both servers"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary data folder")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (apt-get install wrk)")

    folder = Path(tempfile.mkdtemp(prefix="spyglass-bench-"))
    data_dir = folder / "data"
    data_dir.mkdir()
    token = seed(data_dir)
    spyglass_port, bare_port = free_port(), free_port()
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("SPYGLASS_")}
    spyglass_env = base_env | {
        "SPYGLASS_DATA_DIR": str(data_dir),
        "SPYGLASS_RATE_LIMIT_API": args.api_limit,
        "SPYGLASS_LOG_LEVEL": "WARNING",
    }
    me_url = f"http://127.0.0.1:{spyglass_port}/api/v1/me"
    bare_url = f"http://127.0.0.1:{bare_port}/"
    auth = {"Authorization": f"Bearer {token}"}
    runs: list[dict[str, Any]] = []
    info = machine()
    try:
        with (
            server(
                [str(SPYGLASS), "serve", "--port", str(spyglass_port), "--loop", args.loop],
                spyglass_env,
                me_url,
                "spyglass",
                folder,
            ) as spyglass_process,
            server(
                [sys.executable, str(BENCH / "bare_app.py"), "--port", str(bare_port), "--loop", args.loop],
                base_env,
                bare_url,
                "bare app",
                folder,
            ) as bare_process,
        ):
            sample = check_authentication(me_url, token)
            warm_up(me_url, auth, args.warmup)
            warm_up(bare_url, {}, args.warmup)
            for connections in args.connections:
                for name, url, headers, pid in (
                    ("bare", bare_url, {}, bare_process.pid),
                    ("spyglass", me_url, auth, spyglass_process.pid),
                ):
                    console.print(f"wrk {name}: {connections} connections, {args.duration:g} s ...")
                    cpu_before = cpu_seconds(pid)
                    result = wrk(
                        url, connections=connections, duration=args.duration, threads=args.threads, headers=headers
                    )
                    cpu = cpu_seconds(pid) - cpu_before
                    result["target"] = name
                    result["server_cpu_s"] = round(cpu, 2)
                    result["server_cpu_us_per_request"] = round(cpu / max(result["requests"], 1) * 1e6, 1)
                    runs.append(result)
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)

    summary = summarise(runs)
    report = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, "bench/api_read.py", *sys.argv[1:]]),
        "endpoint": "GET /api/v1/me (Authorization: Bearer <personal API token>)",
        "event_loop": args.loop,
        "sample_response": sample,
        "machine": info,
        "runs": runs,
        "summary": summary,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print_table(runs, summary)
    console.print(f"Results written to {RESULTS.relative_to(ROOT)}")
    failed = [run for run in runs if any(v for k, v in run["errors"].items() if k != "timeout")]
    if failed:
        console.print(f"[red]{len(failed)} run(s) had errors (non-2xx or socket errors); see the JSON.[/red]")
        return 1
    return 0


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Throughput ratio per connection count and the targets of the issue."""
    out: dict[str, Any] = {}
    for connections in sorted({run["connections"] for run in runs}):
        bare = next(r for r in runs if r["connections"] == connections and r["target"] == "bare")
        ours = next(r for r in runs if r["connections"] == connections and r["target"] == "spyglass")
        out[str(connections)] = {
            "ratio": round(ours["rps"] / bare["rps"], 3) if bare["rps"] else None,
            # Load-independent estimate: how much more CPU one authenticated read costs than a bare one.
            "cpu_ratio": round(bare["server_cpu_us_per_request"] / ours["server_cpu_us_per_request"], 3)
            if ours["server_cpu_us_per_request"]
            else None,
            "spyglass_p99_ms": ours["p99_ms"],
        }
    if "64" in out:
        out["target_ratio_met"] = bool(out["64"]["ratio"] and out["64"]["ratio"] >= 0.5)
        out["target_p99_met"] = out["64"]["spyglass_p99_ms"] < 50
    return out


def print_table(runs: list[dict[str, Any]], summary: dict[str, Any]) -> None:
    table = Table(title="GET /api/v1/me (bearer token, cached) vs bare Litestar constant")
    columns = ("target", "conns", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "errors", "timeouts", "CPU us/req")
    for column in (*columns, "ratio", "CPU ratio"):
        table.add_column(column, justify="right" if column != "target" else "left")
    for run in runs:
        row = summary[str(run["connections"])]
        ratio = row["ratio"] if run["target"] == "spyglass" else ""
        cpu_ratio = row["cpu_ratio"] if run["target"] == "spyglass" else ""
        table.add_row(
            run["target"],
            str(run["connections"]),
            f"{run['rps']:,.0f}",
            f"{run['p50_ms']:.1f}",
            f"{run['p90_ms']:.1f}",
            f"{run['p99_ms']:.1f}",
            f"{run['max_ms']:.1f}",
            str(sum(v for k, v in run["errors"].items() if k != "timeout")),
            str(run["errors"]["timeout"]),
            f"{run['server_cpu_us_per_request']:.0f}",
            f"{ratio:.0%}" if ratio != "" else "",
            f"{cpu_ratio:.0%}" if cpu_ratio != "" else "",
        )
    console.print(table)


if __name__ == "__main__":
    raise SystemExit(main())
