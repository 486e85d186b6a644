"""``scripts/cluster-test``: start the loopback cluster, run the scenario and the chaos, print PASS/FAIL."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
import traceback
from pathlib import Path
from types import FrameType

from scripts.cluster.scenario import Report, run_scenario
from scripts.cluster.stack import Stack, StackOptions, describe


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")  # unwinds through Stack.__exit__, which kills every process group


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/cluster-test", description=__doc__)
    parser.add_argument("--keep", action="store_true", help="keep the cluster's folder (logs, data) afterwards")
    parser.add_argument("--dir", type=Path, default=None, help="folder for the cluster (default: a new temp folder)")
    parser.add_argument("--no-replica", action="store_true", help="no streaming replica")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    report = Report()
    started = time.monotonic()
    # A replica found down is tried again after 2 s (default 10 s), so the replica fault's recovery is quick to see.
    settings: dict[str, object] = {"database_replica_retry_seconds": 2}
    options = StackOptions(webs=2, workers=3, replica=not args.no_replica, keep=args.keep, settings=settings)
    stack = Stack(options, root=args.dir)
    try:
        print("* starting PostgreSQL (+ replica), Redis, SMTP sink, simulator, vulnerable app, 2 web, 3 workers, nginx")
        with stack:
            print(json.dumps(describe(stack), indent=2), flush=True)
            report.note(f"cluster up in {time.monotonic() - started:.1f} s")
            try:
                run_scenario(stack, report)
            except Exception:
                report.check("the scenario ran to the end", False, traceback.format_exc(limit=5))
            if not report.passed:
                stack.options.keep = True  # keep the logs of a failed run
    except Exception:
        report.check("the cluster started", False, traceback.format_exc(limit=5))
    except KeyboardInterrupt as stop:
        report.check("the run was not interrupted", False, str(stop))
    passed = [check for check in report.checks if check.passed]
    print(
        f"\n{'PASS' if report.passed else 'FAIL'}: {len(passed)}/{len(report.checks)} checks passed "
        f"in {time.monotonic() - started:.0f} s"
    )
    for check in report.checks:
        if not check.passed:
            print(f"  FAILED: {check.name}: {check.detail}")
    if not report.passed:
        print(f"  logs: {stack.root / 'logs'}")
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
