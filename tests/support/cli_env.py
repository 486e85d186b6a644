"""The ``cli_env`` fixture: the CLI's settings come from ``SPYGLASS_*`` variables, as they do for a person
at a shell. Import it into a conftest that runs ``spyglass`` commands (tests/cli, tests/ops)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import TEST_SECRET

#: Variables of the developer's shell that would point a command elsewhere (another Redis, a replica, SMTP).
UNSET = ("SPYGLASS_REDIS_URL", "SPYGLASS_SMTP_HOST", "SPYGLASS_ENVIRONMENT", "SPYGLASS_DATABASE_REPLICA_URL")


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[[str], Path]:
    """Point the CLI at a database URL with a private data folder; returns the data folder."""
    data_dir = tmp_path / "data"

    def configure(database_url: str) -> Path:
        monkeypatch.chdir(tmp_path)  # no stray .env from the developer's folder
        for name in UNSET:
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("SPYGLASS_DATA_DIR", str(data_dir))
        monkeypatch.setenv("SPYGLASS_DATABASE_URL", database_url)
        monkeypatch.setenv("SPYGLASS_SECRET_KEY", TEST_SECRET)
        monkeypatch.setenv("SPYGLASS_LOG_FORMAT", "console")
        return data_dir

    return configure
