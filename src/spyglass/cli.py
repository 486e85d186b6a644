"""The ``spyglass`` command line (also ``python -m spyglass``).

Every command reads the settings from ``SPYGLASS_*`` variables and ``.env``.
Failures print one line saying what went wrong and exit non-zero; no tracebacks.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal, NoReturn, cast

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from spyglass.config import ConfigurationError, Settings, get_settings
from spyglass.core.logging import configure_logging
from spyglass.core.migrations import MigrationError, current_revision, head_revision, migrate, run_coroutine_blocking

app = typer.Typer(
    help="Spyglass: bots that watch the web for you.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True, highlight=False, soft_wrap=True)
out = Console(highlight=False, soft_wrap=True)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print one error line and exit."""
    console.print(f"[red]Error:[/red] {escape(message)}")
    raise typer.Exit(code)


@contextmanager
def one_line_errors(action: str) -> Iterator[None]:
    """Turn any unexpected exception into a single error line (exit 1) instead of a traceback."""
    try:
        yield
    except (typer.Exit, typer.Abort, KeyboardInterrupt):
        raise
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        fail(f"{action} failed: {reason}")


def load_settings(*, exit_code: int = 2) -> Settings:
    """Settings from the environment, or exit with the configuration problem explained."""
    try:
        return get_settings()
    except (ConfigurationError, ValueError) as exc:
        reason = str(exc).strip()
        if hasattr(exc, "errors"):  # pydantic: name the fields, not the whole dump
            reason = "; ".join(
                f"SPYGLASS_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in exc.errors()
            )
        console.print(f"[red]Configuration error:[/red] {escape(reason)}")
        raise typer.Exit(exit_code) from exc


def require_migrated(settings: Settings) -> None:
    """Exit with a hint unless the database schema is at the newest revision."""
    with one_line_errors("Reading the database revision"):
        current = current_revision(settings.resolved_database_url)
    head = head_revision()
    if current != head:
        fail(f"the database is at revision {current or 'none'}, newest is {head}: run `spyglass migrate` first")


@app.command("migrate")
def migrate_command() -> None:
    """Bring the database schema up to date (SQLite: backed up first, verified after)."""
    settings = load_settings()
    configure_logging(settings.log_level, "console")
    try:
        report = migrate(settings.resolved_database_url)
    except MigrationError as exc:
        fail(f"Migration failed: {exc}")
    except Exception as exc:
        fail(f"Migration failed: {type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc) else ''}")
    if report.changed:
        out.print(f"Database migrated from {report.before or 'empty'} to {report.after}.")
        if report.backup:
            out.print(f"Backup taken first: {report.backup}")
    else:
        out.print(f"Database is up to date (revision {report.after}).")


LOOP_OPTION = typer.Option("auto", help="Event loop: auto (uvloop when installed), asyncio or uvloop.")


@app.command()
def serve(
    host: str | None = typer.Option(None, help="Address to listen on (default: SPYGLASS_HOST)."),
    port: int | None = typer.Option(None, help="Port to listen on (default: SPYGLASS_PORT)."),
    loop: str = LOOP_OPTION,
) -> None:
    """Run Spyglass in one process (the embedded mode): migrates, then serves the web app with the
    job worker and scheduler inside the same process."""
    import uvicorn

    from spyglass.app import create_app

    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    with one_line_errors("Migrating the database"):
        report = migrate(settings.resolved_database_url)
    if report.changed:
        console.print(f"Database migrated to {report.after}.")
    bind_host, bind_port = host or settings.host, port or settings.port
    console.print(f"Spyglass is starting on http://{bind_host}:{bind_port} ({settings.database_backend})")
    with one_line_errors("Starting the web server"):
        application = create_app(settings, run_engine=True)
    uvicorn.run(application, host=bind_host, port=bind_port, log_config=None, access_log=False, loop=_loop(loop))


@app.command()
def web(
    host: str | None = typer.Option(None, help="Address to listen on (default: SPYGLASS_HOST)."),
    port: int | None = typer.Option(None, help="Port to listen on (default: SPYGLASS_PORT)."),
    workers: int = typer.Option(1, min=1, max=64, help="Number of web processes (uvicorn workers)."),
    loop: str = LOOP_OPTION,
) -> None:
    """Run only the web processes (the distributed mode, behind a proxy; run `spyglass migrate` first).

    Several workers share sessions, cache and rate limits only through Redis, so
    `--workers` above 1 needs SPYGLASS_REDIS_URL.
    """
    import uvicorn

    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    if workers > 1 and not settings.redis_url:
        fail("--workers above 1 needs SPYGLASS_REDIS_URL: sessions, cache and rate limits must be shared")
    if workers > 1 and settings.database_backend == "sqlite":
        console.print("[yellow]Warning:[/yellow] several web processes on SQLite serialize every write.")
    require_migrated(settings)
    with one_line_errors("Checking the secret key"):
        settings.secret()  # generate it once here, not racing in N workers
    bind_host, bind_port = host or settings.host, port or settings.port
    console.print(f"Spyglass web is starting on http://{bind_host}:{bind_port} with {workers} process(es)")
    uvicorn.run(
        "spyglass.app:create_app_from_env",
        factory=True,
        host=bind_host,
        port=bind_port,
        workers=workers,
        log_config=None,
        access_log=False,
        proxy_headers=False,  # client IPs come from SPYGLASS_TRUSTED_PROXIES, not uvicorn
        loop=_loop(loop),
    )


def _loop(name: str) -> Literal["auto", "asyncio", "uvloop"]:
    if name not in ("auto", "asyncio", "uvloop"):
        fail(f"--loop must be auto, asyncio or uvloop, not {name!r}")
    return cast(Literal["auto", "asyncio", "uvloop"], name)


@app.command()
def worker(
    concurrency: int | None = typer.Option(
        None, min=1, max=5000, help="Runs at once in this process (default: SPYGLASS_WORKER_CONCURRENCY)."
    ),
    metrics_port: int | None = typer.Option(
        None, min=1, max=65535, help="Serve Prometheus /metrics on this port (default: SPYGLASS_WORKER_METRICS_PORT)."
    ),
) -> None:
    """Run a job worker (the distributed mode; needs SPYGLASS_REDIS_URL). Stops gracefully on SIGTERM."""
    from spyglass.engine.worker import run_worker

    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    if not settings.redis_url:
        fail("spyglass worker needs SPYGLASS_REDIS_URL; in the embedded mode `spyglass serve` runs the worker")
    require_migrated(settings)
    console.print(f"Spyglass worker is starting ({settings.database_backend}, Redis broker)")
    with one_line_errors("The worker"):
        run_coroutine_blocking(lambda: run_worker(settings, concurrency=concurrency, metrics_port=metrics_port))


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        line = sys.stdin.readline()
        if not line:
            fail("--password-stdin was given but nothing was read from standard input")
        return line.rstrip("\r\n")
    password: str = typer.prompt("Password", hide_input=True, confirmation_prompt="Repeat the password")
    return password


@app.command("create-admin")
def create_admin_command(
    username: str | None = typer.Option(None, help="Username of the new admin (prompted when missing)."),
    email: str | None = typer.Option(None, help="Email address of the new admin (prompted when missing)."),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from the first line of standard input."
    ),
) -> None:
    """Create an administrator account (verified and active). The password is never printed."""
    from spyglass.accounts.passwords import password_problems
    from spyglass.accounts.schemas import check_email, check_username

    settings = load_settings()
    configure_logging("WARNING", "console")
    username, problem = check_username(username or typer.prompt("Username"))
    if problem:
        fail(f"username {username!r}: {problem}")
    email, problem = check_email(email or typer.prompt("Email"))
    if problem:
        fail(f"email {email!r}: {problem}")
    require_migrated(settings)
    password = _read_password(password_stdin)
    problems = password_problems(password, settings=settings, username=username, email=email)
    if problems:
        fail("password refused: " + " ".join(problems))
    with one_line_errors("Creating the admin"):
        outcome = run_coroutine_blocking(lambda: _create_admin(settings, username, email, password))
    if outcome:
        fail(outcome)
    out.print(f"Admin [bold]{escape(username)}[/bold] <{escape(email)}> created. Sign in at {settings.base_url}/login")


async def _create_admin(settings: Settings, username: str, email: str, password: str) -> str | None:
    """Insert the admin with its settings and audit event; returns why not when the name or email is taken."""
    from spyglass.accounts import repository
    from spyglass.accounts.models import Role
    from spyglass.audit.service import AuditAction, record
    from spyglass.core.db import Database, utcnow
    from spyglass.core.security import hash_password

    database = Database(settings.resolved_database_url)
    try:
        async with database.session(write=True) as session:
            if await repository.username_taken(session, username):
                return f"the username {username!r} is already taken by another account"
            if await repository.email_taken(session, email):
                return f"the email address {email!r} is already taken by another account"
            user = await repository.add_user(
                session, username=username, email=email, password_hash=hash_password(password)
            )
            user.role = Role.ADMIN.value
            user.is_active = True
            user.email_verified_at = utcnow()
            record(session, AuditAction.ADMIN_CREATED, user_id=user.id, details={"via": "cli"})
    finally:
        await database.dispose()
    return None


@app.command()
def backup(
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Where to write the copy (default: data_dir/backups/spyglass-<UTC time>.db)."
    ),
) -> None:
    """Back up the database while Spyglass runs (SQLite: verified copy; PostgreSQL: the pg_dump command)."""
    from spyglass.core.backup import BackupError, backup_sqlite_database, pg_dump_command, pg_restore_command

    settings = load_settings()
    url = settings.resolved_database_url
    if settings.database_backend == "postgresql":
        out.print("PostgreSQL is backed up with pg_dump (custom format), from any machine that reaches it:\n")
        out.print(f"  {escape(pg_dump_command(url, output=str(output) if output else None))}\n")
        out.print("Give the password with PGPASSWORD or ~/.pgpass. To restore into an empty database:\n")
        out.print(f"  {escape(pg_restore_command(url))}")
        return
    try:
        result = backup_sqlite_database(settings, output=output)
    except BackupError as exc:
        fail(str(exc))
    size = result.size_bytes / 1024
    out.print(f"Backup written to {result.path} ({size:,.0f} KiB, {result.users} users); integrity check passed.")


@app.command()
def check() -> None:
    """Report on the configuration and every configured service; exit 1 if anything fails."""
    from spyglass.core.diagnostics import Status, failed, run_checks

    settings = load_settings(exit_code=1)
    configure_logging("ERROR", "console")
    with one_line_errors("The check"):
        results = run_coroutine_blocking(lambda: run_checks(settings))
    colours = {Status.OK: "green", Status.WARN: "yellow", Status.FAIL: "red", Status.SKIPPED: "dim"}
    table = Table(title="Spyglass check", show_lines=False)
    table.add_column("check")
    table.add_column("status")
    table.add_column("detail", overflow="fold")
    for result in results:
        colour = colours[result.status]
        table.add_row(result.name, f"[{colour}]{result.status.value}[/{colour}]", escape(result.detail))
    out.print(table)
    if failed(results):
        raise typer.Exit(1)


db_app = typer.Typer(help="Database upkeep.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("maintain")
def db_maintain_command() -> None:
    """VACUUM (ANALYZE) on PostgreSQL; PRAGMA optimize and a WAL checkpoint on SQLite. Safe while Spyglass runs."""
    from spyglass.core.maintenance import maintain
    from spyglass.core.migrations import sqlite_path

    settings = load_settings()
    url = settings.resolved_database_url
    path = sqlite_path(url) if settings.database_backend == "sqlite" else None
    if path is not None and not path.exists():
        fail(f"there is no database at {path} yet (run `spyglass migrate` first)")
    with one_line_errors("Maintenance"):
        report = run_coroutine_blocking(lambda: maintain(url))
    for step in report.steps:
        out.print(f"{report.backend}: {escape(step)}")


def _register_feature_commands() -> None:
    # Imported here, after the helpers above exist, because feature CLIs reuse them.
    from spyglass.market.cli import register as register_market
    from spyglass.notifications.cli import register as register_notifications
    from spyglass.scanner.cli import register as register_scanner

    register_market(app)
    register_notifications(app)
    register_scanner(app)


_register_feature_commands()


def main() -> None:
    """Console-script entry point."""
    app()
