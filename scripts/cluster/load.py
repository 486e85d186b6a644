"""Helpers of ``bench/loadtest``: sign the seeded users in through nginx before the load, and count the CPU time
the cluster's processes use (a figure that does not depend on what else the machine is doing)."""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from pathlib import Path
from typing import Any

import httpx
from scripts.cluster.seed import PASSWORD, username
from scripts.cluster.stack import Stack

_TICKS = os.sysconf("SC_CLK_TCK")


async def sign_in_all(base_url: str, users: int, concurrency: int = 16) -> tuple[list[dict[str, str]], dict[str, Any]]:
    """Sign each seeded user in through the login form; returns their cookies and the sign-ins' figures."""
    gate = asyncio.Semaphore(concurrency)
    durations: list[float] = []
    failures = 0

    async def one(number: int) -> dict[str, str] | None:
        nonlocal failures
        async with gate, httpx.AsyncClient(base_url=base_url, timeout=60.0) as client:
            await client.get("/login")
            csrf = client.cookies.get("spyglass_csrf") or ""
            started = time.monotonic()
            answer = await client.post(
                "/login", data={"login": username(number), "password": PASSWORD, "_csrf_token": csrf}
            )
            durations.append(time.monotonic() - started)
            session = client.cookies.get("spyglass_session")
            if answer.status_code != 303 or not session:
                failures += 1
                return None
            return {"username": username(number), "session": session, "csrf": csrf}

    started = time.monotonic()
    results = await asyncio.gather(*(one(number) for number in range(users)))
    elapsed = time.monotonic() - started
    ordered = sorted(durations)
    figures = {
        "sign_ins": users,
        "failures": failures,
        "seconds": round(elapsed, 1),
        "per_second": round(users / elapsed, 1) if elapsed else None,
        "p50_ms": round(statistics.median(ordered) * 1000) if ordered else None,
        "p95_ms": round(ordered[int(len(ordered) * 0.95) - 1] * 1000) if ordered else None,
        "concurrency": concurrency,
    }
    return [result for result in results if result], figures


def _cpu_of(pid: int, children: bool = False) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    used = int(fields[11]) + int(fields[12])  # utime, stime
    if children:
        used += int(fields[13]) + int(fields[14])  # reaped children: cutime, cstime
    return used / _TICKS


def _pids_in_group(pgid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.getpgid(int(entry.name)) == pgid:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def _children_of(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == parent:
                found.append(int(entry.name))
    return found


def cpu_seconds(stack: Stack) -> dict[str, float]:
    """CPU seconds used so far by each part of the cluster (web, worker, nginx, redis, postgres primary, replica)."""
    used: dict[str, float] = {}
    for child in stack.supervisor.children:
        part = child.name.split("-")[0]
        used[part] = used.get(part, 0.0) + sum(_cpu_of(pid) for pid in _pids_in_group(child.pid))
    for part, data in (("postgres", stack.postgres.data), ("replica", stack.root / "replica" / "data")):
        pid_file = data / "postmaster.pid"
        if pid_file.exists():
            postmaster = int(pid_file.read_text().split()[0])
            used[part] = _cpu_of(postmaster, children=True) + sum(_cpu_of(pid) for pid in _children_of(postmaster))
    return {part: round(seconds, 2) for part, seconds in used.items()}
