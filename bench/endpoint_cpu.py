#!/usr/bin/env python3
"""CPU per request of each endpoint of the load test's mix, in the web process and in PostgreSQL and Redis.

    bench/endpoint_cpu.py [--requests 200] [--replica] [--profile NAME] [--only NAME]

Starts the loopback cluster's parts (``scripts/cluster``: PostgreSQL, Redis, nginx, one web process, no worker),
seeds users as ``bench/loadtest`` does, signs one in, then for each endpoint of ``bench/locustfile.py``'s Shopper
sends sequential requests straight to the web process and reads the processes' CPU time from ``/proc`` before
and after. Two figures per read endpoint:

- ``miss``: every request a distinct URL (an extra ``_n`` query parameter the routes ignore), so the per-user
  view cache never answers and the web process computes each answer;
- ``hit``: the same URL again and again, answered from the view cache where the route opts in.

CPU time, unlike wall-clock time, hardly depends on what else the shared machine is doing, so figures of two
commits can be compared (run both on the same machine). ``--profile NAME`` records the web process with py-spy
during that endpoint's misses and prints the functions with the most samples (own and cumulative).
"""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
if Path(sys.prefix).resolve() != (ROOT / ".venv").resolve() and VENV_PYTHON.exists():
    os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), *sys.argv])
sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import collections  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402

import httpx  # noqa: E402
from scripts.cluster.load import _cpu_of, _pids_in_group, cpu_seconds, sign_in_all  # noqa: E402
from scripts.cluster.seed import seed  # noqa: E402
from scripts.cluster.stack import Stack, StackOptions  # noqa: E402

from spyglass.core.migrations import run_coroutine_blocking  # noqa: E402

PY_SPY = ROOT / ".venv" / "bin" / "py-spy"


@dataclass
class Endpoint:
    """One request of the mix: a name (as Locust reports it) and how to send it."""

    name: str
    send: Callable[[httpx.Client, int], httpx.Response]
    cacheable: bool = True


def mix(listing_ids: list[int], search_ids: list[int], csrf: str) -> list[Endpoint]:
    """The Shopper's requests (bench/locustfile.py), the ``n``-th time (``n`` makes a URL distinct for misses)."""
    rng = random.Random(7)

    def get(path: str) -> Callable[[httpx.Client, int], httpx.Response]:
        joiner = "&" if "?" in path else "?"
        return lambda client, n: client.get(f"{path}{joiner}_n={n}" if n >= 0 else path)

    def listing(template: str) -> Callable[[httpx.Client, int], httpx.Response]:
        def send(client: httpx.Client, n: int) -> httpx.Response:
            path = template.format(id=listing_ids[abs(n) % len(listing_ids)])
            return client.get(f"{path}?_n={n}" if n >= 0 else path)

        return send

    def edit(client: httpx.Client, n: int) -> httpx.Response:
        body = {
            "name": "Road bikes",
            "marketplaces": ["ebay"],
            "keywords": rng.choice(["bike", "road bike", "bike NOT kids", "(trek OR giant) bike"]),
            "price_max": str(rng.choice([500, 800, 1200])),
            "interval_seconds": 3600,
            "enabled": False,
        }
        return client.put(f"/api/v1/market/searches/{search_ids[0]}", json=body, headers={"x-csrf-token": csrf})

    return [
        Endpoint("/api/v1/market/listings", get("/api/v1/market/listings?page=2&size=20")),
        Endpoint("/market/listings [page]", get("/market/listings")),
        Endpoint("/market/searches [page]", get("/market/searches")),
        Endpoint("/api/v1/market/searches", get("/api/v1/market/searches")),
        Endpoint("/api/v1/market/listings/{id}", listing("/api/v1/market/listings/{id}")),
        Endpoint("/market/listings/{id} [page]", listing("/market/listings/{id}")),
        Endpoint("/api/v1/me", get("/api/v1/me"), cacheable=False),
        Endpoint("/api/v1/market/searches/{id} [PUT]", edit, cacheable=False),
    ]


def web_cpu(stack: Stack) -> float:
    return sum(_cpu_of(pid) for web in stack.webs for pid in _pids_in_group(web.pid))


def measure(stack: Stack, client: httpx.Client, endpoint: Endpoint, requests: int, hit: bool) -> dict[str, float]:
    """CPU ms per request of each part while ``requests`` requests of ``endpoint`` are answered."""
    numbers = [-1] * requests if hit else list(range(requests))
    for n in numbers[:10] if hit else range(10**6, 10**6 + 10):  # warm up (imports, plans, the first view)
        endpoint.send(client, n)
    parts_before, web_before = cpu_seconds(stack), web_cpu(stack)
    for n in numbers:
        answer = endpoint.send(client, n)
        if answer.status_code >= 400:
            raise RuntimeError(f"{endpoint.name}: HTTP {answer.status_code} {answer.text[:300]}")
    parts_after, web_after = cpu_seconds(stack), web_cpu(stack)
    figures = {"web": round(1000 * (web_after - web_before) / requests, 2)}
    for part in ("postgres", "redis", "replica"):
        if part in parts_after:
            figures[part] = round(1000 * (parts_after[part] - parts_before.get(part, 0.0)) / requests, 2)
    return figures


def profile(stack: Stack, client: httpx.Client, endpoint: Endpoint, requests: int) -> str:
    """py-spy samples of the web process while it computes ``requests`` answers of ``endpoint``."""
    pid = stack.webs[0].pid
    out = Path(tempfile.mkdtemp(prefix="endpoint-cpu-")) / "stacks.txt"
    recorder = subprocess.Popen(
        [str(PY_SPY), "record", "--pid", str(pid), "--rate", "1000", "--format", "raw", "--output", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for n in range(2 * 10**6, 2 * 10**6 + requests):
            endpoint.send(client, n)
    finally:
        recorder.send_signal(signal.SIGINT)
        recorder.wait(timeout=30)
    own: collections.Counter[str] = collections.Counter()
    cumulative: collections.Counter[str] = collections.Counter()
    total = 0
    for line in out.read_text().splitlines():
        stack_text, _, count_text = line.rpartition(" ")
        if stack_text.startswith("Thread._bootstrap") or "_bootstrap " in stack_text.split(";", 1)[0]:
            continue  # an idle executor thread, not the event loop's
        frames = [frame.split(" (")[0] + " " + frame.rsplit("/", 1)[-1].rstrip(")") for frame in stack_text.split(";")]
        count = int(count_text)
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            cumulative[frame] += count
    lines = [f"{total} samples of the event loop's thread; own time:"]
    lines += [f"  {100 * c / total:5.1f}%  {f}" for f, c in own.most_common(25)]
    lines.append("cumulative:")
    lines += [f"  {100 * c / total:5.1f}%  {f}" for f, c in cumulative.most_common(60)]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="bench/endpoint_cpu.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=200, help="requests measured per endpoint and figure")
    parser.add_argument("--replica", action="store_true", help="with a streaming replica taking the reads")
    parser.add_argument("--only", action="append", default=[], help="measure only endpoints whose name has this")
    parser.add_argument("--profile", metavar="NAME", help="py-spy the misses of the endpoint whose name has this")
    parser.add_argument("--setting", action="append", default=[], metavar="NAME=VALUE", help="a SPYGLASS_ setting")
    args = parser.parse_args()
    settings: dict[str, object] = {"rate_limit_api": "1000000/minute", "rate_limit_bot_controls": "1000000/minute"}
    settings.update(dict(item.split("=", 1) for item in args.setting))
    options = StackOptions(webs=1, workers=0, replica=args.replica, settings=settings)
    with Stack(options) as stack:
        run_coroutine_blocking(
            lambda: seed(
                stack.database_url, users=3, simulator_url=stack.simulator_url, vulnerable_url=stack.vulnerable_url
            )
        )
        sessions, _ = run_coroutine_blocking(lambda: sign_in_all(stack.url, 1))
        session = sessions[0]
        cookies = {"spyglass_session": session["session"], "spyglass_csrf": session["csrf"]}
        with httpx.Client(base_url=stack.web_url(0), cookies=cookies, timeout=30) as client:
            listing_ids = [item["id"] for item in client.get("/api/v1/market/listings?size=20").json()["items"]]
            search_ids = [item["id"] for item in client.get("/api/v1/market/searches").json()["items"]]
            endpoints = mix(listing_ids, search_ids, session["csrf"])
            if args.only:
                endpoints = [e for e in endpoints if any(part in e.name for part in args.only)]
            results: dict[str, dict[str, dict[str, float]]] = {}
            for endpoint in endpoints:
                results[endpoint.name] = {"miss": measure(stack, client, endpoint, args.requests, hit=False)}
                if endpoint.cacheable:
                    results[endpoint.name]["hit"] = measure(stack, client, endpoint, args.requests, hit=True)
                print(f"{endpoint.name:40} {json.dumps(results[endpoint.name])}", flush=True)
            if args.profile:
                chosen = next(e for e in endpoints if args.profile in e.name)
                print(profile(stack, client, chosen, args.requests), flush=True)
    print(json.dumps({"requests_per_figure": args.requests, "cpu_ms_per_request": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
