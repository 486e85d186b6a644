"""Fixtures of the operations tests: a real streaming replica of the throwaway PostgreSQL server, CLI settings."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.cli_env import cli_env  # noqa: F401 - fixture
from tests.support.databases import StreamingReplica, streaming_replica


@pytest.fixture(scope="session")
def replica(postgres_admin_url: str, postgres_url: str) -> Iterator[StreamingReplica]:
    """A hot standby cloned (pg_basebackup -R) after the test database exists, streaming from the primary."""
    del postgres_url  # requested so the migrated test database is part of the base backup
    with streaming_replica(postgres_admin_url) as standby:
        yield standby
