"""Benchmark: security scans against the test apps (tests/scanner/apps/), Spyglass and Wapiti side by side.

    .venv/bin/python bench/scanner.py                       # everything
    .venv/bin/python bench/scanner.py --skip-wapiti         # Spyglass only
    .venv/bin/python bench/scanner.py --passive-scans 100   # how many concurrent passive scans to measure

Phases (the apps always run in their own process, so the scanner under test has the process to itself):

1. ``spyglass-active``: a full active scan of the vulnerable app through ``run_pipeline`` (every check in
   the registry, the SSRF callback listener on loopback, no pacing): wall time, requests sent, findings
   compared with the app's ground truth (``EXPECTED_FINDINGS``): found, missed, unexpected.
2. ``spyglass-clean``: the same scan of the clean app (over HTTPS with a test CA): findings of medium
   severity or worse (the target is none).
3. ``wapiti``: Wapiti 3.2.3 (``bench/.venv-wapiti``, created on first use with
   ``pip install wapiti3==3.2.3``) against the same vulnerable app with every module that works
   offline, JSON report; its findings are mapped to Spyglass's finding types (``scanner.imports``) and
   each is looked up in Spyglass's findings: what Wapiti found that Spyglass did not.
4. ``passive-concurrency``: N passive scans at once in one fresh process (one shared fetcher, as in a
   worker), each of the whole vulnerable app: wall time and the process's peak RSS (VmHWM).

Results go to ``bench/results/scanner.json`` and a table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
for entry in (str(ROOT / "src"), str(ROOT)):
    if entry not in sys.path:
        sys.path.insert(0, entry)

RESULTS = ROOT / "bench" / "results"
WAPITI_VENV = ROOT / "bench" / ".venv-wapiti"
WAPITI_VERSION = "3.2.3"
# Modules that need no internet (ssrf/xxe/log4shell call Wapiti's public endpoint; wapp downloads its data).
WAPITI_MODULES = (
    "backup,cookieflags,crlf,csp,csrf,exec,file,htaccess,http_headers,methods,permanentxss,redirect,sql,timesql,xss"
)


def _settings(**overrides: Any) -> Any:
    from spyglass.config import Settings

    values: dict[str, Any] = {
        "allow_private_targets": "127.0.0.1/32",
        "http_per_host_delay_seconds": 0,
        "http_per_host_concurrency": 8,
        "http_timeout_seconds": 10,
    }
    return Settings(_env_file=None, **{**values, **overrides})


class _Collector:
    def __init__(self) -> None:
        self.findings: list[Any] = []

    async def progress(self, progress: Any) -> None:
        return None

    async def finding(self, finding: Any) -> None:
        self.findings.append(finding)

    def cancelled(self) -> bool:
        return False


# -- the apps, each in a child process -----------------------------------------------------------
def serve_app(kind: str, tls_pair: list[str] | None) -> None:
    """Child process: run one test app until standard input closes; print its base URL first."""
    from tests.scanner.apps.certs import server_context

    if kind == "vulnerable":
        from tests.scanner.apps.vulnerable import VulnerableApp

        app: Any = VulnerableApp(Path(tempfile.mkdtemp(prefix="spyglass-bench-app-")))
    else:
        from tests.scanner.apps.clean import CleanApp

        assert tls_pair is not None, "the clean app is served over HTTPS: give --tls CERT KEY"
        app = CleanApp(tls=server_context((Path(tls_pair[0]), Path(tls_pair[1]))))
    with app:
        print(app.url("/"), flush=True)
        sys.stdin.read()


class AppProcess:
    """A test app in a child process (``--serve-app``)."""

    def __init__(self, kind: str, tls_pair: tuple[Path, Path] | None = None) -> None:
        args = [sys.executable, __file__, "--serve-app", kind]
        if tls_pair is not None:
            args += ["--tls", str(tls_pair[0]), str(tls_pair[1])]
        self.process = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
        assert self.process.stdout is not None
        self.url = self.process.stdout.readline().strip()
        if not self.url.startswith(("http://", "https://")):
            raise RuntimeError(f"the {kind} app did not start")

    def __enter__(self) -> AppProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(30)


# -- Spyglass --------------------------------------------------------------------------------------
async def spyglass_scan(url: str, *, verify: Any = True, trust: Any = None) -> dict[str, Any]:
    """A full active scan of ``url``; wall time, requests, findings."""
    from spyglass.core.fetch import Fetcher
    from spyglass.core.retry import RetryPolicy
    from spyglass.scanner.callback import CallbackListener
    from spyglass.scanner.checks.passive.transport import TlsCheck
    from spyglass.scanner.checks.registry import all_checks
    from spyglass.scanner.contract import ScanPlan
    from spyglass.scanner.pipeline import run_pipeline

    checks = [TlsCheck(trust) if check.id == "tls" and trust is not None else check for check in all_checks()]
    collector = _Collector()
    async with (
        CallbackListener("127.0.0.1", 0) as listener,
        Fetcher(_settings(), retry=RetryPolicy(attempts=1), verify=verify) as fetcher,
    ):
        plan = ScanPlan(
            url,
            profile="active",
            active_allowed=True,
            requests_per_second=0,
            concurrency=4,
            max_requests=50_000,
            max_pages=500,
            callback_base_url=listener.base_url,
        )
        started = time.perf_counter()
        summary = await run_pipeline(plan, fetcher, collector, checks=checks)
        wall = time.perf_counter() - started
    return {
        "wall_seconds": round(wall, 2),
        "requests": summary.requests_sent,
        "pages": summary.pages_crawled,
        "stopped_reason": summary.stopped_reason,
        "errors": summary.errors,
        "findings": [_key(f.type_id, f.url, f.parameter, f.confidence) for f in collector.findings],
    }


def _key(type_id: str, url: str, parameter: str | None, confidence: str = "") -> dict[str, Any]:
    return {"type": type_id, "path": urlsplit(url).path or "/", "parameter": parameter, "confidence": confidence}


def compare_with_ground_truth(findings: list[dict[str, Any]]) -> dict[str, Any]:
    from tests.scanner.apps.vulnerable import expected_findings

    expected = {(e.type_id, e.path, e.parameter, e.confidence) for e in expected_findings("http")}
    got = {(f["type"], f["path"], f["parameter"], f["confidence"]) for f in findings}
    return {
        "expected": len(expected),
        "found": len(expected & got),
        "missed": sorted(map(list, expected - got)),
        "unexpected": sorted(map(list, got - expected)),
    }


# -- Wapiti ----------------------------------------------------------------------------------------
def ensure_wapiti() -> Path:
    wapiti = WAPITI_VENV / "bin" / "wapiti"
    if not wapiti.exists():
        subprocess.run([sys.executable, "-m", "venv", str(WAPITI_VENV)], check=True)
        subprocess.run([str(WAPITI_VENV / "bin" / "pip"), "install", "-q", f"wapiti3=={WAPITI_VERSION}"], check=True)
    return wapiti


def wapiti_scan(url: str, workdir: Path) -> dict[str, Any]:
    """Wapiti against ``url``; wall time, the HTTP requests the app saw, findings mapped to Spyglass types."""
    from spyglass.scanner.imports import parse_import

    wapiti = ensure_wapiti()
    report = workdir / "wapiti.json"
    args = [
        str(wapiti),
        "-u",
        url,
        "--scope",
        "folder",
        "-m",
        WAPITI_MODULES,
        "-f",
        "json",
        "-o",
        str(report),
        "--flush-session",
        "--store-session",
        str(workdir / "session"),
        "--max-scan-time",
        "900",
        "-v",
        "0",
        "--tasks",
        "4",
    ]
    started = time.perf_counter()
    completed = subprocess.run(args, capture_output=True, text=True, timeout=1200, cwd=workdir)
    wall = time.perf_counter() - started
    if not report.exists():
        raise RuntimeError(f"wapiti wrote no report (exit {completed.returncode}): {completed.stderr[-2000:]}")
    found = parse_import(report.read_bytes(), "wapiti")
    return {
        "wall_seconds": round(wall, 2),
        "exit_code": completed.returncode,
        "findings": [_key(f.candidate.type_id, f.candidate.url, f.candidate.parameter) for f in found],
    }


def wapiti_vs_spyglass(wapiti: list[dict[str, Any]], spyglass: list[dict[str, Any]]) -> dict[str, Any]:
    """Each Wapiti finding (type, path) that Spyglass did not report; Wapiti-only types are listed apart."""
    ours = {(f["type"], f["path"]) for f in spyglass}
    ours_by_path = {(f["type"], f["path"], f["parameter"]) for f in spyglass}
    missed, unmapped = [], []
    for finding in wapiti:
        if finding["type"].startswith("wapiti:"):
            unmapped.append(finding)
        elif (finding["type"], finding["path"]) not in ours and (
            finding["type"],
            finding["path"],
            finding["parameter"],
        ) not in ours_by_path:
            missed.append(finding)
    return {
        "wapiti_findings": len(wapiti),
        "also_found_by_spyglass": len(wapiti) - len(missed) - len(unmapped),
        "missed_by_spyglass": missed,
        "wapiti_only_types": unmapped,
    }


# -- concurrency -----------------------------------------------------------------------------------
def passive_child(url: str, scans: int) -> None:
    """Child process: ``scans`` passive scans of ``url`` at once; prints one JSON line."""

    async def run() -> dict[str, Any]:
        from spyglass.core.fetch import Fetcher
        from spyglass.core.retry import RetryPolicy
        from spyglass.scanner.contract import ScanPlan
        from spyglass.scanner.pipeline import run_pipeline

        settings = _settings(http_per_host_concurrency=max(8, scans * 2))
        async with Fetcher(settings, retry=RetryPolicy(attempts=1)) as fetcher:
            before = _status_kb("VmRSS")
            started = time.perf_counter()
            plans = [ScanPlan(url, requests_per_second=0, concurrency=2, max_pages=200) for _ in range(scans)]
            collectors = [_Collector() for _ in plans]
            summaries = await asyncio.gather(
                *(run_pipeline(p, fetcher, c) for p, c in zip(plans, collectors, strict=True))
            )
            wall = time.perf_counter() - started
        return {
            "scans": scans,
            "wall_seconds": round(wall, 2),
            "rss_before_mb": round(before / 1024, 1),
            "peak_rss_mb": round(_status_kb("VmHWM") / 1024, 1),
            "completed": sum(1 for s in summaries if s.stopped_reason is None and not s.errors),
            "pages_per_scan": summaries[0].pages_crawled,
            "requests_total": sum(s.requests_sent for s in summaries),
            "findings_per_scan": len(collectors[0].findings),
        }

    print(json.dumps(asyncio.run(run())), flush=True)


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def passive_concurrency(url: str, scans: int) -> dict[str, Any]:
    completed = subprocess.run(
        [sys.executable, __file__, "--passive-child", url, "--passive-scans", str(scans)],
        capture_output=True,
        text=True,
        timeout=1800,
        cwd=ROOT,
    )
    if completed.returncode != 0:
        raise RuntimeError(completed.stderr[-2000:])
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


# -- main ------------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip-wapiti", action="store_true")
    parser.add_argument("--passive-scans", type=int, default=100)
    parser.add_argument("--serve-app", choices=["vulnerable", "clean"], help=argparse.SUPPRESS)
    parser.add_argument("--tls", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--passive-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_app:
        serve_app(args.serve_app, args.tls)
        return
    if args.passive_child:
        passive_child(args.passive_child, args.passive_scans)
        return

    from tests.scanner.apps.certs import make_certificates

    results: dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]}}
    with tempfile.TemporaryDirectory(prefix="spyglass-bench-") as tmp:
        workdir = Path(tmp)
        with AppProcess("vulnerable") as app:
            active = asyncio.run(spyglass_scan(app.url))
            active["ground_truth"] = compare_with_ground_truth(active["findings"])
            results["spyglass_active"] = active
        (workdir / "certs").mkdir()
        certs = make_certificates(workdir / "certs")
        with AppProcess("clean", certs.valid) as app:
            clean = asyncio.run(spyglass_scan(app.url, verify=certs.client_context(), trust=certs.client_context()))
            serious = _serious(clean["findings"])
            results["spyglass_clean"] = {**clean, "medium_or_worse": serious}
        if not args.skip_wapiti:
            with AppProcess("vulnerable") as app:
                wapiti = wapiti_scan(app.url, workdir)
            wapiti["comparison"] = wapiti_vs_spyglass(wapiti["findings"], active["findings"])
            results["wapiti"] = wapiti
        with AppProcess("vulnerable") as app:
            results["passive_concurrency"] = passive_concurrency(app.url, args.passive_scans)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "scanner.json").write_text(json.dumps(results, indent=2) + "\n")
    print_table(results)


def _serious(findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from spyglass.scanner.catalogue import get_finding_type

    return [f for f in findings if get_finding_type(f["type"]).severity in ("critical", "high", "medium")]


def print_table(results: dict[str, Any]) -> None:
    active, clean = results["spyglass_active"], results["spyglass_clean"]
    truth = active["ground_truth"]
    print(
        f"Spyglass active scan, vulnerable app: {active['wall_seconds']} s, {active['requests']} requests, "
        f"{truth['found']}/{truth['expected']} expected findings, missed {len(truth['missed'])}, "
        f"unexpected {len(truth['unexpected'])}"
    )
    print(
        f"Spyglass active scan, clean app: {clean['wall_seconds']} s, {clean['requests']} requests, "
        f"{len(clean['findings'])} findings, {len(clean['medium_or_worse'])} medium or worse"
    )
    if "wapiti" in results:
        wapiti = results["wapiti"]
        comparison = wapiti["comparison"]
        ratio = active["wall_seconds"] / wapiti["wall_seconds"] if wapiti["wall_seconds"] else 0
        print(
            f"Wapiti {WAPITI_VERSION}, vulnerable app: {wapiti['wall_seconds']} s (Spyglass/Wapiti {ratio:.2f}), "
            f"{comparison['wapiti_findings']} findings, {comparison['also_found_by_spyglass']} also found by "
            f"Spyglass, {len(comparison['missed_by_spyglass'])} missed by Spyglass, "
            f"{len(comparison['wapiti_only_types'])} of types Spyglass does not report"
        )
    concurrency = results["passive_concurrency"]
    print(
        f"{concurrency['scans']} concurrent passive scans: {concurrency['wall_seconds']} s, "
        f"{concurrency['completed']} completed, peak RSS {concurrency['peak_rss_mb']} MB "
        f"(before: {concurrency['rss_before_mb']} MB), {concurrency['requests_total']} requests"
    )


if __name__ == "__main__":
    main()
