"""deploy/: the nginx configuration passes the real `nginx -t`, the systemd units pass `systemd-analyze verify`,
and the compose file has the expected services wired to real CLI commands (no Docker engine here)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from spyglass.cli import app

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
SPYGLASS_BIN = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "spyglass"
runner = CliRunner()


def self_signed_certificate(folder: Path) -> None:
    folder.mkdir(parents=True)
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=spyglass.test"),
            *("-keyout", str(folder / "privkey.pem"), "-out", str(folder / "fullchain.pem")),
        ],
        check=True,
        capture_output=True,
    )


def nginx_config_in(prefix: Path, config: str) -> Path:
    """The shipped configuration with its machine paths moved under ``prefix``."""
    moves = {
        "/etc/spyglass/tls/": f"{prefix}/tls/",
        "/etc/nginx/spyglass-upstream.conf": f"{prefix}/spyglass-upstream.conf",
        "/var/log/nginx/": f"{prefix}/logs/",
        "/var/cache/nginx/": f"{prefix}/cache/",
        "/run/nginx.pid": f"{prefix}/nginx.pid",
    }
    for old, new in moves.items():
        assert old in config, old
        config = config.replace(old, new)
    (prefix / "logs").mkdir(exist_ok=True)
    (prefix / "cache").mkdir(exist_ok=True)  # as /var/cache/nginx exists where nginx is installed
    shutil.copyfile(DEPLOY / "nginx" / "spyglass-upstream.conf", prefix / "spyglass-upstream.conf")
    path = prefix / "nginx.conf"
    path.write_text(config)
    return path


def nginx_test(config: Path, prefix: Path) -> subprocess.CompletedProcess[str]:
    command = ["nginx", "-t", "-q", "-p", f"{prefix}/", "-e", f"{prefix}/logs/error.log", "-c", str(config)]
    return subprocess.run(command, capture_output=True, text=True, timeout=30)


@pytest.mark.skipif(not shutil.which("nginx") or not shutil.which("openssl"), reason="nginx and openssl needed")
def test_nginx_configuration_is_valid(tmp_path: Path) -> None:
    self_signed_certificate(tmp_path / "tls")
    source = (DEPLOY / "nginx" / "nginx.conf").read_text()
    config = nginx_config_in(tmp_path, source)

    result = nginx_test(config, tmp_path)

    assert result.returncode == 0, result.stderr
    # The same check fails on a broken file, so a pass above means something.
    config.write_text(source.replace("proxy_buffering off;", "proxy_buffering sometimes;"))
    nginx_config_in(tmp_path, config.read_text())
    broken = nginx_test(config, tmp_path)
    assert broken.returncode != 0 and "proxy_buffering" in broken.stderr


def test_nginx_configuration_does_what_operations_md_says() -> None:
    config = (DEPLOY / "nginx" / "nginx.conf").read_text()
    upstream = (DEPLOY / "nginx" / "spyglass-upstream.conf").read_text()
    events = config[config.index("location ~ ^/runs/[0-9]+/events$") :].split("}", 1)[0]
    assert "proxy_buffering off;" in events and "proxy_read_timeout 1h;" in events
    directives = [line.strip() for line in events.splitlines() if not line.strip().startswith("#")]
    assert not any(line.startswith("proxy_set_header") for line in directives)  # would drop the server's headers
    assert "listen 443 ssl http2;" in config and "return 301 https://$host$request_uri;" in config
    assert "proxy_cache spyglass_static;" in config
    assert "X-Forwarded-For $proxy_add_x_forwarded_for" in config
    assert upstream.count("server 127.0.0.1:") >= 2 and "max_fails=3" in upstream


def cli_accepts(command: list[str]) -> None:
    """``command`` (``spyglass ...``) parses with the real CLI (its options exist and take those values)."""
    assert command[0].endswith("spyglass"), command
    result = runner.invoke(app, [*command[1:], "--help"])
    assert result.exit_code == 0, f"{command}: {result.output}"


def test_compose_file_runs_every_part_of_the_distributed_mode() -> None:
    compose: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"postgres", "redis", "migrate", "web", "worker", "scheduler", "nginx"}
    for name in ("migrate", "web", "worker", "scheduler"):
        service = services[name]
        cli_accepts(service["command"])
        environment = service["environment"]
        assert environment["SPYGLASS_DATABASE_URL"].startswith("postgresql+asyncpg://")
        assert environment["SPYGLASS_REDIS_URL"] == "redis://redis:6379/0"
    for name in ("web", "worker", "scheduler"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["web"]["deploy"]["replicas"] >= 2 and services["worker"]["deploy"]["replicas"] >= 2
    assert (
        "8000" in services["web"]["command"]
        and "web:8000" in (DEPLOY / "nginx" / "spyglass-upstream-compose.conf").read_text()
    )
    assert "pg_stat_statements" in " ".join(services["postgres"]["command"])
    for volume in services["nginx"]["volumes"]:
        source = volume.split(":", 1)[0]
        if source.startswith("./") and source != "./tls":  # the certificate is the operator's
            assert (DEPLOY / source).exists(), source
    assert (DEPLOY / services["web"]["build"]["dockerfile"].removeprefix("deploy/")).exists()


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze needed")
def test_systemd_units_verify(tmp_path: Path) -> None:
    environment = tmp_path / "spyglass.env"
    environment.write_text((DEPLOY / "systemd" / "spyglass.env.example").read_text())
    for unit in (DEPLOY / "systemd").glob("spyglass*.*"):
        text = unit.read_text().replace("/opt/spyglass/.venv/bin/spyglass", str(SPYGLASS_BIN))
        (tmp_path / unit.name).write_text(text.replace("/etc/spyglass/spyglass.env", str(environment)))
        for line in text.splitlines():
            if line.startswith("ExecStart="):
                cli_accepts(line.removeprefix("ExecStart=").replace("%i", "8001").split())
    units = [
        "spyglass-migrate.service",
        "spyglass-web@8001.service",
        "spyglass-worker@1.service",
        "spyglass-maintain.service",
        "spyglass-maintain.timer",
        "spyglass.target",
    ]
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *units], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 and result.stderr == "", result.stderr
