"""The ``spyglass`` command line (also ``python -m spyglass``)."""

from __future__ import annotations

import typer
from rich.console import Console

from spyglass.config import ConfigurationError, Settings, get_settings
from spyglass.core.logging import configure_logging
from spyglass.core.migrations import MigrationError, migrate

app = typer.Typer(help="Spyglass: bots that watch the web for you.", no_args_is_help=True, add_completion=False)
console = Console(stderr=True)


def load_settings() -> Settings:
    """Settings from the environment, or exit with the configuration problem explained."""
    try:
        return get_settings()
    except (ConfigurationError, ValueError) as exc:
        console.print(f"[red]Configuration error:[/red] {exc}")
        raise typer.Exit(2) from exc


@app.command("migrate")
def migrate_command() -> None:
    """Bring the database schema up to date (SQLite: backed up first, verified after)."""
    settings = load_settings()
    configure_logging(settings.log_level, "console")
    try:
        report = migrate(settings.resolved_database_url)
    except MigrationError as exc:
        console.print(f"[red]Migration failed:[/red] {exc}")
        raise typer.Exit(1) from exc
    if report.changed:
        console.print(f"Database migrated from {report.before or 'empty'} to {report.after}.")
        if report.backup:
            console.print(f"Backup taken first: {report.backup}")
    else:
        console.print(f"Database is up to date (revision {report.after}).")


@app.command()
def serve(
    host: str | None = typer.Option(None, help="Address to listen on (default: SPYGLASS_HOST)."),
    port: int | None = typer.Option(None, help="Port to listen on (default: SPYGLASS_PORT)."),
) -> None:
    """Run Spyglass in one process: web server, worker and scheduler (the embedded mode)."""
    import uvicorn

    from spyglass.app import create_app

    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    report = migrate(settings.resolved_database_url)
    if report.changed:
        console.print(f"Database migrated to {report.after}.")
    bind_host, bind_port = host or settings.host, port or settings.port
    console.print(f"Spyglass is starting on http://{bind_host}:{bind_port} ({settings.database_backend})")
    uvicorn.run(create_app(settings), host=bind_host, port=bind_port, log_config=None, access_log=False)


def main() -> None:
    app()
