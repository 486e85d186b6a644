"""``scripts/cluster-test`` end to end: the loopback cluster behind nginx, the scenario and every fault (workers, the
scheduler leader, Redis, the PostgreSQL primary, a web process, nginx, the read replica) must pass, the workers'
metrics must be scraped, and the script must leave no process behind."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.cluster.conftest import wants_postgresql

pytestmark = pytest.mark.slow
SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "cluster-test"


def _processes_under(folder: Path) -> list[str]:
    """Command lines of running processes that mention ``folder`` (the cluster's own temp folder)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if str(folder) in command:
                found.append(command)
    return found


def test_the_cluster_passes_the_scenario_and_the_chaos(request: pytest.FixtureRequest) -> None:
    if not wants_postgresql(request.config):
        pytest.skip("the cluster runs on PostgreSQL (not chosen with --db)")
    if not shutil.which("nginx") and not Path("/usr/sbin/nginx").exists():
        pytest.skip("nginx is not installed (apt-get install nginx)")
    # Not under pytest's tmp_path: PostgreSQL runs as the postgres user, who cannot enter pytest's private folders.
    folder = Path(tempfile.mkdtemp(prefix="spyglass-cluster-test-"))
    env = {name: value for name, value in os.environ.items() if not name.startswith("SPYGLASS_")}
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--dir", str(folder)],
        env=env,
        capture_output=True,
        text=True,
        timeout=480,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    assert "\nPASS: " in result.stdout
    faults = (
        "SIGKILL a worker in the middle of runs",
        "restart Redis",
        "restart the PostgreSQL primary",
        "SIGKILL the scheduler leader",
        "SIGKILL a web process while requests flow",
        "reload nginx with a changed configuration",
        "restart nginx",
        "stop the streaming replica",
    )
    for fault in faults:
        assert f"[PASS] {fault}: answering again" in result.stdout, f"{fault} was not dealt:\n{output[-4000:]}"
    passed = [line for line in result.stdout.splitlines() if "[PASS] " in line]
    for verdict in (
        "every read through nginx answered 200 while it was down",
        "the restarted web process serves through nginx again",
        "reload nginx with a changed configuration: every read answered",
        "the sessions survive the nginx restart",
        "replica stopped: reads that opted in fall back to the primary without errors",
        "replica started again: reads go back to it",
        "worker metrics: exactly one worker reports leading, the holder of the scheduler lock",
        "worker metrics: every heartbeat is fresh",
    ):
        assert any(verdict in line for line in passed), f"{verdict!r} was not checked:\n{output[-4000:]}"
    assert "[FAIL]" not in result.stdout
    assert _processes_under(folder) == []
    assert not folder.exists(), "a passing run removes its folder"
    shutil.rmtree(folder, ignore_errors=True)
