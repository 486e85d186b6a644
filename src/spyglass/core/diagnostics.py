"""``spyglass check``: is the configuration usable and does every configured service answer?

Each check returns a :class:`CheckResult`; nothing here prints, sends mail or
changes data (the database is only asked ``SELECT 1`` and its revision, Redis
``PING``, the SMTP server ``EHLO``). Secrets are never part of a result.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
import stat
import tempfile
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit

from sqlalchemy import text
from sqlalchemy.engine import make_url

from spyglass.config import Settings, secret_problem
from spyglass.core.db import create_engine
from spyglass.core.migrations import head_revision, sqlite_path

CONNECT_TIMEOUT_SECONDS = 5.0


class Status(StrEnum):
    """Outcome of one check; only ``fail`` makes ``spyglass check`` exit 1."""

    OK = "ok"
    WARN = "warn"
    FAIL = "fail"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class CheckResult:
    """One line of the report."""

    name: str
    status: Status
    detail: str


def check_environment(settings: Settings) -> CheckResult:
    """Which mode runs, and whether cookies will be Secure."""
    scheme = "HTTPS (Secure cookies, HSTS)" if settings.cookies_secure else "plain HTTP"
    status = Status.WARN if settings.is_production and not settings.cookies_secure else Status.OK
    return CheckResult("environment", status, f"{settings.environment}; base URL {settings.base_url} ({scheme})")


def check_data_dir(settings: Settings) -> CheckResult:
    """The data folder exists (or can be made) and accepts files."""
    folder = settings.data_dir.resolve()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".check-", delete=True) as probe:
            probe.write(b"ok")
    except OSError as exc:
        return CheckResult("data folder", Status.FAIL, f"{folder} is not writable: {exc.strerror or exc}")
    return CheckResult("data folder", Status.OK, f"{folder} is writable")


def check_secret(settings: Settings) -> CheckResult:
    """The secret key is present and strong (its value is never shown)."""
    if settings.secret_key is not None:
        problem = secret_problem(settings.secret_key.get_secret_value())
        if problem:
            return CheckResult("secret key", Status.FAIL, f"SPYGLASS_SECRET_KEY {problem}")
        return CheckResult("secret key", Status.OK, "set by SPYGLASS_SECRET_KEY")
    if settings.is_production:
        return CheckResult("secret key", Status.FAIL, "SPYGLASS_SECRET_KEY is required in production")
    path = settings.data_dir.resolve() / "secret_key"
    if not path.exists():
        return CheckResult("secret key", Status.OK, f"will be generated at first start in {path}")
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        return CheckResult("secret key", Status.WARN, f"{path} is readable by others (mode {mode:o}); chmod 600 it")
    try:
        problem = secret_problem(path.read_text().strip())
    except OSError as exc:
        return CheckResult("secret key", Status.FAIL, f"{path} cannot be read: {exc.strerror or exc}")
    if problem:
        return CheckResult("secret key", Status.FAIL, f"the key in {path} {problem}")
    return CheckResult("secret key", Status.OK, f"generated, kept in {path} (mode {mode:o})")


def describe_database(url: str) -> str:
    """The database location without its password."""
    if url.startswith("sqlite"):
        return f"SQLite at {sqlite_path(url) or 'memory'}"
    parsed = make_url(url)
    return f"PostgreSQL {parsed.username or ''}@{parsed.host or 'localhost'}:{parsed.port or 5432}/{parsed.database}"


async def check_database(settings: Settings) -> list[CheckResult]:
    """Connects, runs ``SELECT 1`` and compares the schema revision with the newest shipped one."""
    url = settings.resolved_database_url
    where = describe_database(url)
    path = sqlite_path(url) if url.startswith("sqlite") else None
    if url.startswith("sqlite") and path is not None and not path.exists():
        return [CheckResult("database", Status.FAIL, f"{where}: no database yet (run `spyglass migrate`)")]
    engine = create_engine(url)
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT_SECONDS), engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
            current = await connection.run_sync(_revision)
    except Exception as exc:
        return [CheckResult("database", Status.FAIL, f"{where}: cannot connect ({_reason(exc)})")]
    finally:
        await engine.dispose()
    results = [CheckResult("database", Status.OK, f"{where}: connected")]
    head = head_revision()
    if current == head:
        results.append(CheckResult("schema", Status.OK, f"at revision {current} (newest)"))
    else:
        results.append(
            CheckResult(
                "schema", Status.FAIL, f"at revision {current or 'none'}, newest is {head}: run `spyglass migrate`"
            )
        )
    return results


def _revision(sync_connection: object) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(sync_connection).get_current_revision()  # type: ignore[arg-type]


async def check_redis(settings: Settings) -> CheckResult:
    """``PING`` the configured Redis."""
    if not settings.redis_url:
        return CheckResult("redis", Status.SKIPPED, "not configured (memory cache, sessions and rate limits)")
    from redis.asyncio import Redis

    parsed = urlsplit(settings.redis_url)
    where = f"{parsed.hostname or 'localhost'}:{parsed.port or 6379}"
    client = Redis.from_url(settings.redis_url, socket_connect_timeout=CONNECT_TIMEOUT_SECONDS)
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT_SECONDS):
            answered = await client.ping()
    except Exception as exc:
        return CheckResult("redis", Status.FAIL, f"{where}: no answer ({_reason(exc)})")
    finally:
        await client.aclose()
    if not answered:
        return CheckResult("redis", Status.FAIL, f"{where}: PING was not answered")
    return CheckResult("redis", Status.OK, f"{where}: PING answered")


def check_smtp(settings: Settings) -> CheckResult:
    """Connect to the SMTP server and say EHLO (no mail is sent, no login attempted)."""
    if not settings.smtp_host:
        return CheckResult("smtp", Status.SKIPPED, f"not configured (mail is written to {settings.data_dir / 'mail'})")
    where = f"{settings.smtp_host}:{settings.smtp_port}"
    timeout = min(settings.smtp_timeout_seconds, CONNECT_TIMEOUT_SECONDS)
    try:
        client: smtplib.SMTP
        if settings.smtp_ssl:
            context = ssl.create_default_context()
            client = smtplib.SMTP_SSL(settings.smtp_host, settings.smtp_port, timeout=timeout, context=context)
        else:
            client = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout)
        with client:
            code, _ = client.ehlo()
            starttls = client.has_extn("starttls")
    except (OSError, smtplib.SMTPException) as exc:
        return CheckResult("smtp", Status.FAIL, f"{where}: {_reason(exc)}")
    if code != 250:
        return CheckResult("smtp", Status.FAIL, f"{where}: EHLO answered {code}")
    if settings.smtp_starttls and not settings.smtp_ssl and not starttls:
        return CheckResult("smtp", Status.WARN, f"{where}: answered EHLO but offers no STARTTLS; mail goes unencrypted")
    return CheckResult("smtp", Status.OK, f"{where}: answered EHLO")


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return f"timed out after {CONNECT_TIMEOUT_SECONDS:g} s"
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {message}"[:200] if message else type(exc).__name__


async def run_checks(settings: Settings) -> list[CheckResult]:
    """Every check, in report order."""
    results = [check_environment(settings), check_data_dir(settings), check_secret(settings)]
    results.extend(await check_database(settings))
    results.append(await check_redis(settings))
    results.append(await asyncio.to_thread(check_smtp, settings))
    return results


def failed(results: list[CheckResult]) -> bool:
    """Whether any check failed."""
    return any(result.status is Status.FAIL for result in results)
