"""``spyglass check``: a table of what works; exit 1 as soon as one configured service does not answer."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from spyglass.cli import app
from tests.conftest import TEST_SECRET
from tests.support.servers import free_port
from tests.support.smtp import SmtpServer


def _rows(output: str) -> dict[str, tuple[str, str]]:
    """The rendered table as ``{check: (status, detail)}``, with wrapped cells joined again."""
    rows: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in output.splitlines():
        if not line.startswith("│"):
            continue
        cells = [cell.strip() for cell in line.strip("│").split("│")]
        if cells[0]:
            current = rows.setdefault(cells[0], ["", ""])
        if current is not None:
            current[0] = (current[0] + " " + cells[1]).strip()
            current[1] = (current[1] + " " + cells[2]).strip()
    return {name: (status, detail) for name, (status, detail) in rows.items()}


def _status_of(output: str, check: str) -> str:
    rows = _rows(output)
    assert check in rows, f"no row {check!r} in:\n{output}"
    return rows[check][0]


def _detail_of(output: str, check: str) -> str:
    return _rows(output)[check][1]


def test_check_passes_with_every_service_reachable(
    runner: CliRunner,
    cli_env: Callable[[str], Path],
    database_url: str,
    redis_url: str,
    smtp_server: SmtpServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cli_env(database_url)
    monkeypatch.setenv("SPYGLASS_REDIS_URL", redis_url)
    monkeypatch.setenv("SPYGLASS_SMTP_HOST", smtp_server.host)
    monkeypatch.setenv("SPYGLASS_SMTP_PORT", str(smtp_server.port))
    monkeypatch.setenv("SPYGLASS_SMTP_STARTTLS", "false")

    result = runner.invoke(app, ["check"])

    assert result.exit_code == 0, result.output
    for check in ("environment", "data folder", "secret key", "database", "schema", "redis", "smtp"):
        assert _status_of(result.stdout, check) == "ok", check
    assert "PING answered" in _detail_of(result.stdout, "redis")
    assert "answered EHLO" in _detail_of(result.stdout, "smtp")
    assert TEST_SECRET not in result.output
    assert smtp_server.messages == [], "check must not send mail"


def test_check_fails_when_redis_does_not_answer(
    runner: CliRunner, cli_env: Callable[[str], Path], database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli_env(database_url)
    monkeypatch.setenv("SPYGLASS_REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")

    result = runner.invoke(app, ["check"])

    assert result.exit_code == 1
    assert _status_of(result.stdout, "redis") == "fail"
    assert _status_of(result.stdout, "database") == "ok"
    assert "Traceback" not in result.output


def test_check_fails_when_postgresql_does_not_answer(runner: CliRunner, cli_env: Callable[[str], Path]) -> None:
    cli_env(f"postgresql+asyncpg://spyglass:pw-not-shown@127.0.0.1:{free_port()}/spyglass")

    result = runner.invoke(app, ["check"])

    assert result.exit_code == 1
    assert _status_of(result.stdout, "database") == "fail"
    assert "cannot connect" in _detail_of(result.stdout, "database")
    assert "pw-not-shown" not in result.output


def test_check_fails_when_smtp_does_not_answer(
    runner: CliRunner, cli_env: Callable[[str], Path], database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli_env(database_url)
    monkeypatch.setenv("SPYGLASS_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SPYGLASS_SMTP_PORT", str(free_port()))

    result = runner.invoke(app, ["check"])

    assert result.exit_code == 1
    assert _status_of(result.stdout, "smtp") == "fail"


def test_check_fails_on_an_unmigrated_database(
    runner: CliRunner, cli_env: Callable[[str], Path], tmp_path: Path
) -> None:
    cli_env(f"sqlite+aiosqlite:///{tmp_path / 'data' / 'spyglass.db'}")

    result = runner.invoke(app, ["check"])

    assert result.exit_code == 1
    assert _status_of(result.stdout, "database") == "fail"
    assert "run `spyglass migrate`" in _detail_of(result.stdout, "database")


def test_check_refuses_a_weak_production_secret_in_one_line(
    runner: CliRunner, cli_env: Callable[[str], Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli_env(f"sqlite+aiosqlite:///{tmp_path / 'spyglass.db'}")
    monkeypatch.setenv("SPYGLASS_ENVIRONMENT", "production")
    monkeypatch.setenv("SPYGLASS_SECRET_KEY", "changeme")

    result = runner.invoke(app, ["check"])

    assert result.exit_code == 1
    assert "SPYGLASS_SECRET_KEY is a placeholder value" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_check_warns_about_a_secret_file_others_can_read(
    runner: CliRunner, cli_env: Callable[[str], Path], database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = cli_env(database_url)
    monkeypatch.delenv("SPYGLASS_SECRET_KEY")
    data_dir.mkdir(parents=True, exist_ok=True)
    secret = data_dir / "secret_key"
    secret.write_text("k" * 10 + "abcdefghijklmnopqrstuvwxyz0123456789")
    secret.chmod(0o644)

    result = runner.invoke(app, ["check"])

    assert result.exit_code == 0, result.output
    assert _status_of(result.stdout, "secret key") == "warn"
    assert "chmod 600" in _detail_of(result.stdout, "secret key")
    assert "abcdefghijklmnop" not in result.output
