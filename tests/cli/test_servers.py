"""``spyglass serve`` and ``spyglass web`` start real servers; ``python -m spyglass`` is the same CLI."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from typer.testing import CliRunner

from spyglass.cli import app
from tests.conftest import TEST_SECRET
from tests.support.servers import free_port

SPYGLASS = str(Path(sys.executable).parent / "spyglass")


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("SPYGLASS_")}
    env.update({"SPYGLASS_DATA_DIR": str(tmp_path / "data"), "SPYGLASS_LOG_LEVEL": "WARNING", **extra})
    return env


@contextmanager
def _running(args: list[str], env: dict[str, str], cwd: Path) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(args, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(port: int, process: subprocess.Popen[bytes], timeout: float = 60.0) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read().decode() if process.stdout else ""
            raise AssertionError(f"server exited with {process.returncode}:\n{output}")
        try:
            response = httpx.get(f"http://127.0.0.1:{port}/ready", timeout=2)
            if response.status_code == 200:
                return response
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("server did not become ready")


def test_serve_migrates_a_fresh_data_folder_and_answers(tmp_path: Path) -> None:
    port = free_port()
    env = _env(tmp_path)

    with _running([SPYGLASS, "serve", "--port", str(port)], env, tmp_path) as process:
        ready = _wait_ready(port, process)
        health = httpx.get(f"http://127.0.0.1:{port}/health")

    assert ready.json()["checks"]["database"] == "ok"
    assert health.json() == {"status": "ok"}
    assert (tmp_path / "data" / "spyglass.db").exists()
    secret = tmp_path / "data" / "secret_key"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600


def test_web_runs_several_processes_sharing_redis(tmp_path: Path, sqlite_url: str, redis_url: str) -> None:
    port = free_port()
    env = _env(
        tmp_path, SPYGLASS_DATABASE_URL=sqlite_url, SPYGLASS_REDIS_URL=redis_url, SPYGLASS_SECRET_KEY=TEST_SECRET
    )

    with _running([SPYGLASS, "web", "--port", str(port), "--workers", "2"], env, tmp_path) as process:
        ready = _wait_ready(port, process)
        answers = [httpx.get(f"http://127.0.0.1:{port}/ready").json() for _ in range(6)]
        workers = subprocess.run(["pgrep", "-P", str(process.pid)], capture_output=True, text=True).stdout.split()

    assert ready.json()["checks"] == {"database": "ok", "redis": "ok"}
    assert all(answer["status"] == "ok" for answer in answers)
    assert len(workers) >= 2, "uvicorn should run one child per worker"


def test_web_refuses_several_processes_without_redis(
    runner: CliRunner, cli_env: Callable[[str], Path], sqlite_url: str
) -> None:
    cli_env(sqlite_url)

    result = runner.invoke(app, ["web", "--workers", "3"])

    assert result.exit_code == 1
    assert "needs SPYGLASS_REDIS_URL" in result.stderr


def test_web_refuses_an_unmigrated_database(runner: CliRunner, cli_env: Callable[[str], Path], tmp_path: Path) -> None:
    cli_env(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")

    result = runner.invoke(app, ["web"])

    assert result.exit_code == 1
    assert "run `spyglass migrate` first" in result.stderr


def test_python_dash_m_is_the_same_cli(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "spyglass", "--help"], env=_env(tmp_path), capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 0, result.stderr
    for command in ("serve", "web", "migrate", "create-admin", "backup", "check"):
        assert command in result.stdout
