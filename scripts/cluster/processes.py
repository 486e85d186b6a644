"""Child processes in their own process groups, logged to files, always killed on exit."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from tests.support.servers import free_port, wait_for_port

__all__ = ["Child", "Supervisor", "free_port", "wait_for_http", "wait_for_port"]


def wait_for_http(url: str, timeout: float = 60.0, process: subprocess.Popen[bytes] | None = None) -> float:
    """Wait until ``url`` answers 200; returns the seconds waited. Fails early if ``process`` exits."""
    started = time.monotonic()
    deadline = started + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the process serving {url} exited with code {process.returncode}")
        try:
            response = httpx.get(url, timeout=2.0)
            if response.status_code == 200:
                return time.monotonic() - started
            last = f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            last = type(exc).__name__
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer 200 within {timeout} s (last: {last})")


@dataclass
class Child:
    """One started process: its name, command and log file."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def signal_group(self, signum: int) -> None:
        """Send ``signum`` to the child's whole process group (uvicorn's workers included)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signum)

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class Supervisor:
    """Starts children in new sessions (so a kill reaches their own children) and stops them all on exit."""

    log_dir: Path
    children: list[Child] = field(default_factory=list)

    def start(self, name: str, command: Sequence[str], env: dict[str, str] | None = None) -> Child:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_dir / f"{name}.log"
        with log.open("ab") as handle:
            process = subprocess.Popen(  # noqa: S603 - our own commands
                list(command), env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
            )
        child = Child(name=name, process=process, log=log)
        self.children.append(child)
        return child

    def kill(self, child: Child, signum: int = signal.SIGKILL, timeout: float = 15.0) -> None:
        """Signal the child's process group and wait for the child to exit."""
        child.signal_group(signum)
        try:
            child.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            child.signal_group(signal.SIGKILL)
            child.process.wait(timeout=5)
        if child in self.children:
            self.children.remove(child)

    def stop_all(self, grace: float = 5.0) -> None:
        """SIGTERM every group, wait up to ``grace`` seconds, then SIGKILL whatever is left."""
        for child in self.children:
            child.signal_group(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for child in self.children:
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        for child in self.children:
            child.signal_group(signal.SIGKILL)  # the group may hold children of an exited leader
            if child.alive():
                child.process.wait(timeout=5)
        self.children.clear()
