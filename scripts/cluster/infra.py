"""The infrastructure of a loopback cluster: a PostgreSQL primary that can be restarted, a streaming replica that can
be stopped and started again, a persistent Redis that can be restarted on the same port, and nginx generated from a
template (upstream of the web processes, SSE unbuffered) that can be reloaded with a changed configuration."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

from scripts.cluster.processes import Child, Supervisor, free_port, wait_for_port
from tests.support.databases import StreamingReplica
from tests.support.servers import _as_postgres_user, postgres_bin_dir


@dataclass
class PostgresPrimary:
    """A private PostgreSQL cluster under ``root`` on a fixed loopback port (kept across restarts)."""

    root: Path
    port: int = 0

    def __post_init__(self) -> None:
        self.port = self.port or free_port()

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def admin_url(self) -> str:
        return f"postgresql+asyncpg://spyglass@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://spyglass@127.0.0.1:{self.port}/{database}"

    def _pg_ctl(self, *args: str) -> None:
        command = [str(postgres_bin_dir() / "pg_ctl"), "-D", str(self.data), *args]
        quiet = subprocess.DEVNULL
        subprocess.run(_as_postgres_user(command), check=True, stdout=quiet, stderr=quiet)  # noqa: S603

    def init(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        initdb = [
            str(postgres_bin_dir() / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "spyglass",
            "--auth=trust",
            "-E",
            "UTF8",
        ]
        subprocess.run(_as_postgres_user(initdb), check=True, stdout=subprocess.DEVNULL)  # noqa: S603
        # Replication from loopback for the streaming replica (pg_basebackup connects as spyglass).
        with (self.data / "pg_hba.conf").open("a") as hba:
            hba.write("host replication spyglass 127.0.0.1/32 trust\n")

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c max_connections=400 "
            "-c wal_level=replica -c max_wal_senders=5 -c shared_buffers=128MB -c synchronous_commit=off"
        )
        self._pg_ctl("-o", options, "-l", str(self.root / "log"), "-w", "start")
        wait_for_port(self.port)

    def stop(self, mode: str = "fast") -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._pg_ctl("-m", mode, "-w", "stop")

    def restart(self) -> None:
        """Stop the server (``fast``: every connection is cut) and start it again on the same port."""
        self.stop("fast")
        self.start()


def stop_replica(replica: StreamingReplica) -> None:
    """Stop the streaming replica (``fast``: its connections are cut), keeping its data folder."""
    command = [str(postgres_bin_dir() / "pg_ctl"), "-D", str(replica.root / "data"), "-m", "fast", "-w", "stop"]
    subprocess.run(_as_postgres_user(command), check=True, stdout=subprocess.DEVNULL)  # noqa: S603


def start_replica(replica: StreamingReplica) -> None:
    """Start a stopped replica again on its port: ``pg_ctl restart`` reuses the options of its last start (kept in
    ``postmaster.opts``); it reconnects to the primary and replays what it missed."""
    data = replica.root / "data"
    command = [str(postgres_bin_dir() / "pg_ctl"), "-D", str(data), "-l", str(replica.root / "log"), "-w", "restart"]
    quiet = subprocess.DEVNULL
    subprocess.run(_as_postgres_user(command), check=True, stdout=quiet, stderr=quiet)  # noqa: S603
    wait_for_port(replica.port)


@dataclass
class RedisServer:
    """``redis-server`` with an append-only file under ``root`` so a restart keeps sessions and queues."""

    supervisor: Supervisor
    root: Path
    port: int = 0
    child: Child | None = None

    def __post_init__(self) -> None:
        self.port = self.port or free_port()
        self.root.mkdir(parents=True, exist_ok=True)

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        binary = shutil.which("redis-server") or "redis-server"
        command = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.root)]
        command += ["--save", "", "--appendonly", "yes", "--appendfsync", "everysec", "--maxclients", "4000"]
        self.child = self.supervisor.start("redis", command)
        wait_for_port(self.port)

    def restart(self) -> None:
        """SIGTERM (Redis writes its append-only file and exits), then start again on the same port."""
        if self.child is not None:
            self.supervisor.kill(self.child, signal.SIGTERM)
        self.start()


NGINX_TEMPLATE = """
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
{user}
events {{ worker_connections 8192; }}
http {{
    access_log off;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    upstream spyglass {{
{servers}
        keepalive 128;
    }}
    server {{
        listen 127.0.0.1:{port};
        # Which configuration answered (the cluster test reloads nginx with a changed one).
        add_header X-Cluster-Config {generation} always;
        location / {{
            proxy_pass http://spyglass;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_next_upstream error timeout http_502 http_503;
            proxy_connect_timeout 2s;
            proxy_read_timeout 120s;
        }}
        # Live progress: server-sent events must not be buffered.
        location ~ ^/runs/[0-9]+/events$ {{
            proxy_pass http://spyglass;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_buffering off;
            proxy_cache off;
            proxy_read_timeout 1h;
        }}
    }}
}}
"""


def nginx_config(root: Path, port: int, upstream_ports: list[int], generation: int = 1) -> Path:
    """Write ``nginx.conf`` under ``root`` (proxying 127.0.0.1:``port`` to the web processes, answers marked
    ``X-Cluster-Config: <generation>``) and return its path."""
    root.mkdir(parents=True, exist_ok=True)
    servers = "\n".join(f"        server 127.0.0.1:{upstream} max_fails=0;" for upstream in upstream_ports)
    user = "user root;" if os.geteuid() == 0 else ""
    path = root / "nginx.conf"
    config = NGINX_TEMPLATE.format(root=root, port=port, servers=servers, user=user, generation=generation)
    path.write_text(config)
    return path


def start_nginx(supervisor: Supervisor, root: Path, port: int, upstream_ports: list[int], generation: int = 1) -> Child:
    """nginx in the foreground (its own process group) on 127.0.0.1:``port``."""
    config = nginx_config(root, port, upstream_ports, generation)
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    child = supervisor.start("nginx", [binary, "-p", str(root), "-c", str(config), "-g", "daemon off;"])
    wait_for_port(port)
    return child


def reload_nginx(nginx: Child, root: Path, port: int, upstream_ports: list[int], generation: int) -> None:
    """Rewrite the configuration and send SIGHUP to the master (what ``nginx -s reload`` does): new workers start
    with the new configuration, the old ones finish their requests and exit."""
    nginx_config(root, port, upstream_ports, generation)
    os.kill(nginx.pid, signal.SIGHUP)
