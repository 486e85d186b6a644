"""Fixtures of the operations tests: a real streaming replica of the throwaway PostgreSQL server, CLI settings."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import TEST_SECRET
from tests.support.databases import StreamingReplica, streaming_replica


@pytest.fixture(scope="session")
def replica(postgres_admin_url: str, postgres_url: str) -> Iterator[StreamingReplica]:
    """A hot standby cloned (pg_basebackup -R) after the test database exists, streaming from the primary."""
    del postgres_url  # requested so the migrated test database is part of the base backup
    with streaming_replica(postgres_admin_url) as standby:
        yield standby


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[[str], Path]:
    """Point the CLI at a database URL with a private data folder (settings come from SPYGLASS_* variables)."""
    data_dir = tmp_path / "data"

    def configure(database_url: str) -> Path:
        monkeypatch.chdir(tmp_path)  # no stray .env from the developer's folder
        for name in ("SPYGLASS_REDIS_URL", "SPYGLASS_ENVIRONMENT", "SPYGLASS_DATABASE_REPLICA_URL"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("SPYGLASS_DATA_DIR", str(data_dir))
        monkeypatch.setenv("SPYGLASS_DATABASE_URL", database_url)
        monkeypatch.setenv("SPYGLASS_SECRET_KEY", TEST_SECRET)
        monkeypatch.setenv("SPYGLASS_LOG_FORMAT", "console")
        return data_dir

    return configure
