"""The whole loopback cluster behind nginx, started and stopped as one: PostgreSQL primary (and a streaming replica),
Redis, N ``spyglass web``, M ``spyglass worker`` (one of which wins the scheduler lock; each serves its metrics on a
port of its own), a local SMTP sink, the marketplace simulator and the deliberately vulnerable scanner test app.
The parts the cluster test deals faults to can be killed, stopped, restarted and reloaded from here."""

from __future__ import annotations

import json
import shutil
import signal
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from scripts.cluster.infra import (
    PostgresPrimary,
    RedisServer,
    reload_nginx,
    start_nginx,
    start_replica,
    stop_replica,
)
from scripts.cluster.processes import Child, Supervisor, free_port, wait_for_http, wait_for_port
from scripts.cluster.spyglass import launch_web, spyglass_env, start_worker, wait_for_web
from tests.support.databases import StreamingReplica, start_streaming_replica, stop_streaming_replica
from tests.support.smtp import SmtpServer

from spyglass.core.migrations import run_coroutine_blocking, upgrade
from spyglass.market.simulator import endpoints

DATABASE = "spyglass"


@dataclass
class StackOptions:
    """What to start and the settings every Spyglass process gets (``SPYGLASS_<NAME>``)."""

    webs: int = 2
    workers: int = 3
    web_processes: int = 1
    replica: bool = True
    worker_concurrency: int = 20
    simulator_step_seconds: float = 3.0
    settings: dict[str, object] = field(default_factory=dict)
    keep: bool = False


class Stack:
    """Start with ``with Stack(options) as stack:``; everything is stopped (process groups killed) on exit."""

    def __init__(self, options: StackOptions | None = None, root: Path | None = None) -> None:
        self.options = options or StackOptions()
        self.root = root or Path(tempfile.mkdtemp(prefix="spyglass-cluster-"))
        self.supervisor = Supervisor(self.root / "logs")
        self.postgres = PostgresPrimary(self.root / "pg")
        self.redis = RedisServer(self.supervisor, self.root / "redis")
        self.replica: StreamingReplica | None = None
        self.smtp = SmtpServer()
        self.nginx_port = free_port()
        self.web_ports: list[int] = []
        self.webs: list[Child] = []
        self.workers: list[Child] = []
        #: The metrics port of each worker, by the worker's name.
        self.worker_metrics_ports: dict[str, int] = {}
        self.nginx: Child | None = None
        self.nginx_generation = 1
        self.env: dict[str, str] = {}
        self.simulator_url = ""
        self.vulnerable_url = ""
        self._smtp_started = False
        self._postgres_started = False

    @property
    def url(self) -> str:
        """The cluster's public address (nginx)."""
        return f"http://127.0.0.1:{self.nginx_port}"

    @property
    def database_url(self) -> str:
        return self.postgres.url(DATABASE)

    def __enter__(self) -> Stack:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)  # the postgres user must reach its folders inside
        self.postgres.init()
        self.postgres.start()
        self._postgres_started = True
        run_coroutine_blocking(lambda: _create_database(self.postgres.admin_url, DATABASE))
        upgrade(self.database_url)
        if self.options.replica:
            self.replica = start_streaming_replica(self.postgres.admin_url, root=self.root / "replica")
        self.redis.start()
        self.smtp.start()
        self._smtp_started = True
        self.simulator_url = self._start_simulator()
        self.vulnerable_url = self._start_vulnerable_app()
        self.env = spyglass_env(self.database_url, self.redis.url(), self.root / "data", **self._settings())
        self.web_ports = [free_port() for _ in range(self.options.webs)]
        for number, port in enumerate(self.web_ports, start=1):
            self.webs.append(launch_web(self.supervisor, f"web-{number}", port, self.env, self.options.web_processes))
        for number in range(1, self.options.workers + 1):
            self.workers.append(self.start_worker(f"worker-{number}"))
        for web, port in zip(self.webs, self.web_ports, strict=True):
            wait_for_web(web, port)
        self.nginx = start_nginx(self.supervisor, self.root / "nginx", self.nginx_port, self.web_ports)
        wait_for_http(f"{self.url}/ready", timeout=30)

    def start_worker(self, name: str) -> Child:
        """Start a worker named ``name`` with a metrics port of its own (``worker_metrics_ports[name]``)."""
        port = self.worker_metrics_ports[name] = free_port()
        return start_worker(self.supervisor, name, self.env, self.options.worker_concurrency, metrics_port=port)

    def worker_metrics_url(self, worker: Child) -> str:
        return f"http://127.0.0.1:{self.worker_metrics_ports[worker.name]}/metrics"

    def web_url(self, index: int) -> str:
        """The address of one web process (not through nginx)."""
        return f"http://127.0.0.1:{self.web_ports[index]}"

    def kill_web(self, index: int) -> Child:
        """SIGKILL web process ``index`` (its whole process group)."""
        victim = self.webs[index]
        self.supervisor.kill(victim, signal.SIGKILL)
        return victim

    def restart_web(self, index: int) -> Child:
        """Start web process ``index`` again on its port, as a supervisor would, and wait until it answers."""
        name = self.webs[index].name.removesuffix("-restarted") + "-restarted"
        child = launch_web(self.supervisor, name, self.web_ports[index], self.env, self.options.web_processes)
        wait_for_web(child, self.web_ports[index])
        self.webs[index] = child
        return child

    def reload_nginx(self) -> int:
        """Reload nginx with a changed configuration (the next generation); returns the generation."""
        assert self.nginx is not None
        self.nginx_generation += 1
        reload_nginx(self.nginx, self.root / "nginx", self.nginx_port, self.web_ports, self.nginx_generation)
        return self.nginx_generation

    def restart_nginx(self) -> None:
        """Stop nginx gracefully (SIGQUIT, as ``nginx -s quit``) and start it again on the same port."""
        assert self.nginx is not None
        self.supervisor.kill(self.nginx, signal.SIGQUIT)
        self.nginx = start_nginx(
            self.supervisor, self.root / "nginx", self.nginx_port, self.web_ports, self.nginx_generation
        )

    def stop_replica(self) -> None:
        assert self.replica is not None
        stop_replica(self.replica)

    def start_replica(self) -> None:
        assert self.replica is not None
        start_replica(self.replica)

    def _settings(self) -> dict[str, object]:
        values: dict[str, object] = {
            "base_url": self.url,
            "trusted_proxies": "127.0.0.1/32",
            "allow_private_targets": "127.0.0.1/32,localhost",
            "verified_targets": "127.0.0.1/32",
            "market_endpoints": json.dumps(endpoints(self.simulator_url)),
            "market_min_interval_seconds": 1,
            "engine_min_interval_seconds": 1,
            "notifications_poll_seconds": 0.3,
            "notifications_lease_seconds": 10,
            "notifications_retry_base_seconds": 1,
            "notifications_retry_cap_seconds": 5,
            "smtp_host": self.smtp.host,
            "smtp_port": self.smtp.port,
            "smtp_starttls": False,
            "smtp_ssl": False,
            "http_timeout_seconds": 10,
        }
        if self.replica is not None:
            values["database_replica_url"] = self.replica.url_for(self.database_url)
        values.update(self.options.settings)
        return values

    def _start_simulator(self) -> str:
        port = free_port()
        command = [sys.executable, "-m", "spyglass", "demo-market", "--port", str(port)]
        command += ["--step-seconds", str(self.options.simulator_step_seconds)]
        self.supervisor.start("simulator", command, spyglass_env(self.database_url, "", self.root / "sim"))
        wait_for_port(port)
        return f"http://127.0.0.1:{port}"

    def _start_vulnerable_app(self) -> str:
        port = free_port()
        command = [sys.executable, "-m", "tests.scanner.apps", "vulnerable", "--port", str(port)]
        command += ["--certs", str(self.root / "apps")]
        self.supervisor.start("vulnerable-app", command)
        wait_for_port(port)
        return f"http://127.0.0.1:{port}/"

    def stop(self) -> None:
        self.supervisor.stop_all()
        if self._smtp_started:
            self._smtp_started = False
            self.smtp.stop()
        if self.replica is not None:
            stop_streaming_replica(self.replica, remove=False)
            self.replica = None
        if self._postgres_started:
            self._postgres_started = False
            self.postgres.stop("immediate")
        if not self.options.keep:
            shutil.rmtree(self.root, ignore_errors=True)


async def _create_database(admin_url: str, name: str) -> None:
    from sqlalchemy import text

    from spyglass.core.db import create_engine

    engine = create_engine(admin_url)
    async with engine.connect() as connection:
        connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    await engine.dispose()


def describe(stack: Stack) -> dict[str, Any]:
    """Addresses of the running parts (printed by the scripts)."""
    return {
        "nginx": stack.url,
        "webs": [f"http://127.0.0.1:{port}" for port in stack.web_ports],
        "workers": [worker.pid for worker in stack.workers],
        "worker_metrics": [stack.worker_metrics_url(worker) for worker in stack.workers],
        "database": stack.database_url,
        "replica": stack.replica.url_for(stack.database_url) if stack.replica else None,
        "redis": stack.redis.url(),
        "smtp": f"{stack.smtp.host}:{stack.smtp.port}",
        "simulator": stack.simulator_url,
        "vulnerable_app": stack.vulnerable_url,
        "root": str(stack.root),
    }
