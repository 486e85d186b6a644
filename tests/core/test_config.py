"""Settings: production refuses weak secrets, development makes one secret and keeps it, every
setting is documented."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from spyglass.config import MIN_SECRET_LENGTH, ConfigurationError, Settings

DOCS = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
GOOD_SECRET = "Zq4n8Xb2Lr7Kp0Vw3Ts9Ym6Hd1Gf5JcA7e"  # 34 varied characters


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Only the variables a test sets count: no developer .env, no SPYGLASS_* from the shell."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("SPYGLASS_"):
            monkeypatch.delenv(name)


@pytest.mark.parametrize(
    ("secret", "reason"),
    [
        (None, "is missing"),
        ("", "is missing"),
        ("changeme", "is a placeholder value"),
        ("CHANGE-ME", "is a placeholder value"),
        ("a1b2c3d4e5", f"is shorter than {MIN_SECRET_LENGTH} characters"),
        ("ab" * 30, "is too repetitive to be secret"),
    ],
)
def test_production_refuses_a_missing_or_weak_secret(
    monkeypatch: pytest.MonkeyPatch, secret: str | None, reason: str
) -> None:
    monkeypatch.setenv("SPYGLASS_ENVIRONMENT", "production")
    if secret is not None:
        monkeypatch.setenv("SPYGLASS_SECRET_KEY", secret)

    with pytest.raises(ConfigurationError) as caught:
        Settings()

    assert str(caught.value) == f"SPYGLASS_SECRET_KEY {reason}; production mode refuses to start."
    if secret:
        assert secret not in str(caught.value)


def test_production_accepts_a_strong_secret(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SPYGLASS_ENVIRONMENT", "production")
    monkeypatch.setenv("SPYGLASS_SECRET_KEY", GOOD_SECRET)
    monkeypatch.setenv("SPYGLASS_DATA_DIR", str(tmp_path / "data"))

    settings = Settings()

    assert settings.is_production
    assert settings.secret() == GOOD_SECRET
    assert not (tmp_path / "data" / "secret_key").exists(), "a configured secret is never written to disk"
    assert GOOD_SECRET not in repr(settings)


def test_development_generates_the_secret_once_and_keeps_it_private(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SPYGLASS_DATA_DIR", str(tmp_path / "data"))
    path = tmp_path / "data" / "secret_key"
    assert not path.exists()

    first = Settings().secret()
    second = Settings().secret()

    assert first == second
    assert len(first) >= MIN_SECRET_LENGTH
    assert path.read_text() == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_development_refuses_a_weak_configured_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPYGLASS_SECRET_KEY", "secret")

    with pytest.raises(ConfigurationError, match="SPYGLASS_SECRET_KEY is a placeholder value"):
        Settings().secret()


def test_settings_come_from_the_environment_and_the_dotenv_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text("SPYGLASS_PORT=9100\nSPYGLASS_SESSION_IDLE_SECONDS=600\n")
    monkeypatch.setenv("SPYGLASS_PORT", "9200")  # the environment wins over .env
    monkeypatch.setenv("SPYGLASS_TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1")

    settings = Settings()

    assert settings.port == 9200
    assert settings.session_idle_seconds == 600
    assert settings.trusted_proxies == ["10.0.0.0/8", "127.0.0.1"]


def test_embedded_default_is_sqlite_in_the_data_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SPYGLASS_DATA_DIR", str(tmp_path / "data"))

    settings = Settings()

    assert settings.database_backend == "sqlite"
    assert settings.resolved_database_url == f"sqlite+aiosqlite:///{tmp_path / 'data' / 'spyglass.db'}"
    assert settings.redis_url is None
    assert not settings.cookies_secure


def test_bad_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPYGLASS_BASE_URL", "example.com")
    with pytest.raises(ValueError, match="base_url must start with http"):
        Settings()


def test_every_setting_is_documented() -> None:
    text = DOCS.read_text()
    documented = set(re.findall(r"SPYGLASS_[A-Z0-9_]+", text))

    expected = {f"SPYGLASS_{name.upper()}" for name in Settings.model_fields}

    assert expected - documented == set(), "add these to docs/configuration.md"
    assert (
        documented - expected - {"SPYGLASS_TEST_DBS", "SPYGLASS_TEST_POSTGRES_URL", "SPYGLASS_TEST_REDIS_URL"} == set()
    )


def test_configuration_docs_are_generated_from_the_current_settings() -> None:
    """Types and defaults in docs/configuration.md match the code (run the script after changing a setting)."""
    script = DOCS.parents[1] / "scripts" / "gen_config_docs.py"
    result = subprocess.run([sys.executable, str(script), "--check"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
