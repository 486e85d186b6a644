"""Command-line commands of the notifications feature, added to ``spyglass`` by :func:`register`.

``spyglass notifications rotate-key`` re-encrypts every stored Apprise URL with the current app secret
(see :mod:`spyglass.notifications.rotation`). Exit codes: 0 done, 1 some targets no configured key opens
(their ids are listed), 2 bad configuration or an unmigrated database.
"""

from __future__ import annotations

from typing import Annotated

import typer

EXIT_UNREADABLE = 1


def register(app: typer.Typer) -> None:
    """Add this feature's commands to the main CLI app."""
    notifications_app = typer.Typer(help="Notification channels: key rotation.", no_args_is_help=True)
    notifications_app.command("rotate-key")(rotate_key)
    app.add_typer(notifications_app, name="notifications")


def rotate_key(
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, max=10_000, help="Channels per transaction.")] = 200,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count what would change; write nothing.")] = False,
    after_id: Annotated[
        int, typer.Option("--after-id", min=0, help="Start after this channel id (resume from a printed position).")
    ] = 0,
) -> None:
    """Re-encrypt every stored Apprise URL with the current SPYGLASS_SECRET_KEY.

    Put the old secret(s) in SPYGLASS_NOTIFICATIONS_PREVIOUS_SECRET_KEYS first. Safe to interrupt and run
    again (targets already under the current key are skipped) and while Spyglass runs. Prints channel ids
    and counts, never a URL."""
    from spyglass.cli import console, load_settings, one_line_errors, out, require_migrated
    from spyglass.core.db import Database
    from spyglass.core.migrations import run_coroutine_blocking
    from spyglass.notifications.rotation import RotationReport, rotate_channel_keys
    from spyglass.notifications.sealing import previous_secrets

    settings = load_settings()
    require_migrated(settings)
    if not previous_secrets(settings):
        console.print(
            "No SPYGLASS_NOTIFICATIONS_PREVIOUS_SECRET_KEYS set: only targets kept in clear will be sealed; "
            "targets sealed with another secret will be reported as unreadable."
        )

    def progress(report: RotationReport, last_id: int) -> None:
        console.print(
            f"batch {report.batches}: up to channel {last_id}, {report.checked} checked, "
            f"{report.resealed} re-encrypted{' (dry run)' if dry_run else ''}"
        )

    async def rotate() -> RotationReport:
        db = Database(settings.resolved_database_url)
        try:
            return await rotate_channel_keys(
                db, settings, batch_size=batch_size, dry_run=dry_run, after_id=after_id, progress=progress
            )
        finally:
            await db.dispose()

    with one_line_errors("Key rotation"):
        report = run_coroutine_blocking(rotate)
    verb = "would be re-encrypted" if dry_run else "re-encrypted"
    out.print(
        f"{report.checked} Apprise channel(s) checked: {report.resealed} {verb}, {report.current} already "
        f"current, {report.changed_meanwhile} saved by their owner meanwhile, {len(report.unreadable)} unreadable"
    )
    if report.unreadable:
        shown = ", ".join(str(channel_id) for channel_id in report.unreadable[:50])
        more = f" and {len(report.unreadable) - 50} more" if len(report.unreadable) > 50 else ""
        console.print(
            f"No configured secret opens channel(s) {shown}{more}: add the secret they were sealed with to "
            "SPYGLASS_NOTIFICATIONS_PREVIOUS_SECRET_KEYS, or ask their owners to add them again."
        )
        raise typer.Exit(EXIT_UNREADABLE)
