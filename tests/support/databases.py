"""Migrated databases for tests: a fresh SQLite file per test, one PostgreSQL database per worker
emptied after each test; a streaming hot standby of the test server for the read replica tests."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from spyglass.core.db import create_engine
from spyglass.core.migrations import upgrade
from spyglass.models import Base
from tests.support.servers import _as_postgres_user, free_port, postgres_bin_dir


def migrated_sqlite_template(folder: Path) -> Path:
    """Migrate an empty SQLite database once; tests copy the file."""
    path = folder / "template.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


def sqlite_copy(template: Path, folder: Path) -> str:
    target = folder / "spyglass.db"
    shutil.copyfile(template, target)
    return f"sqlite+aiosqlite:///{target}"


async def create_postgres_database(admin_url: str, name: str) -> str:
    """Create (or re-create) database ``name`` on the server and return its URL, migrated to head."""
    engine = create_engine(admin_url)
    async with engine.connect() as connection:
        connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
        await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    await engine.dispose()
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    await asyncio.to_thread(upgrade, url)
    return url


async def truncate_all(url: str) -> None:
    """Empty every table (keeping the schema and alembic's version)."""
    tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    engine = create_engine(url)
    async with engine.begin() as connection:
        await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    await engine.dispose()


# --- Streaming replica (read replica tests; scripts/pg-replica for the cluster scripts) ---

#: Settings a hot standby must have at least as high as its primary, or it refuses to start.
_STANDBY_MINIMUMS = (
    "max_connections",
    "max_worker_processes",
    "max_wal_senders",
    "max_prepared_transactions",
    "max_locks_per_transaction",
)


@dataclass
class StreamingReplica:
    """A hot standby started by ``start_streaming_replica``: its folder, port and admin URL."""

    root: Path
    port: int
    url: str

    def url_for(self, database_url: str) -> str:
        """``database_url`` (a database on the primary) pointed at this replica instead."""
        return make_url(database_url).set(host="127.0.0.1", port=self.port).render_as_string(hide_password=False)


def _psql_value(primary_url: str, setting: str) -> str:
    url = make_url(primary_url)
    command = [str(postgres_bin_dir() / "psql"), "-h", url.host or "127.0.0.1", "-p", str(url.port or 5432)]
    command += ["-U", url.username or "postgres", "-d", url.database or "postgres", "-Atc", f"SHOW {setting}"]
    result = subprocess.run(command, check=True, capture_output=True, text=True, env=_pg_env(url.password))
    return result.stdout.strip()


def _pg_env(password: str | None) -> dict[str, str]:
    env = dict(os.environ)
    if password:
        env["PGPASSWORD"] = password
    return env


def start_streaming_replica(primary_url: str, root: Path | None = None, port: int | None = None) -> StreamingReplica:
    """Clone the PostgreSQL server of ``primary_url`` with ``pg_basebackup -R`` and start it as a streaming hot
    standby on another loopback port (as the ``postgres`` OS user when run as root)."""
    url = make_url(primary_url)
    bin_dir = postgres_bin_dir()
    root = root or Path(tempfile.mkdtemp(prefix="spyglass-pg-replica-"))
    root.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    data = root / "data"
    port = port or free_port()
    minimums = " ".join(f"-c {name}={_psql_value(primary_url, name)}" for name in _STANDBY_MINIMUMS)
    basebackup = [str(bin_dir / "pg_basebackup"), "-h", url.host or "127.0.0.1", "-p", str(url.port or 5432)]
    basebackup += ["-U", url.username or "postgres", "-D", str(data), "-R", "-X", "stream", "--checkpoint=fast"]
    subprocess.run(_as_postgres_user(basebackup), check=True, capture_output=True, env=_pg_env(url.password))
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c hot_standby=on -c fsync=off {minimums}"
    start = [str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "log"), "-w", "start"]
    subprocess.run(_as_postgres_user(start), check=True, stdout=subprocess.DEVNULL)
    admin = url.set(host="127.0.0.1", port=port, database="postgres").render_as_string(hide_password=False)
    return StreamingReplica(root=root, port=port, url=admin)


def stop_streaming_replica(replica: StreamingReplica, *, remove: bool = True) -> None:
    """Stop the standby immediately and (by default) delete its folder."""
    stop = [str(postgres_bin_dir() / "pg_ctl"), "-D", str(replica.root / "data"), "-m", "immediate", "stop"]
    subprocess.run(_as_postgres_user(stop), check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if remove:
        shutil.rmtree(replica.root, ignore_errors=True)


@contextmanager
def streaming_replica(primary_url: str) -> Iterator[StreamingReplica]:
    """A streaming hot standby of ``primary_url``'s server for the duration of the block."""
    replica = start_streaming_replica(primary_url)
    try:
        yield replica
    finally:
        stop_streaming_replica(replica)


async def wait_for_replay(primary_url: str, replica_url: str, timeout: float = 30.0) -> None:
    """Wait until the replica has replayed everything the primary had written when this was called."""
    primary = create_engine(primary_url)
    replica = create_engine(replica_url)
    try:
        async with primary.connect() as connection:
            target = (await connection.execute(text("SELECT pg_current_wal_lsn()"))).scalar_one()
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            async with replica.connect() as connection:
                query = text("SELECT pg_last_wal_replay_lsn() >= CAST(:target AS pg_lsn)")
                if (await connection.execute(query, {"target": target})).scalar_one():
                    return
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"the replica did not replay up to {target} within {timeout} s")
            await asyncio.sleep(0.05)
    finally:
        await primary.dispose()
        await replica.dispose()
