"""Re-encrypting every stored Apprise URL with the current app secret after a key rotation.

The operator sets the new ``SPYGLASS_SECRET_KEY``, lists the old one(s) in
``SPYGLASS_NOTIFICATIONS_PREVIOUS_SECRET_KEYS`` (deliveries keep working meanwhile: targets open with any
key) and runs ``spyglass notifications rotate-key``. Channels are walked by id in batches, one
transaction each, with an audit event naming the channels it re-sealed, so:

- **resumable**: an interrupted run loses at most its current batch; running it again skips every target
  already sealed with the current key (checking one is a local decryption, no write);
- **safe alongside users**: a target is replaced only if it still holds the value read, so a channel
  saved meanwhile keeps what its owner wrote;
- **secret-free**: reports and audit entries carry channel ids and counts, never a target.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from spyglass.audit.service import record
from spyglass.notifications import repository
from spyglass.notifications.sealing import UnreadableTarget, previous_secrets, reseal

if TYPE_CHECKING:
    from spyglass.config import Settings
    from spyglass.core.db import Database

logger = logging.getLogger("spyglass.notifications")

#: The audit action of one batch of re-sealed channel targets.
KEYS_ROTATED = "notifications.keys_rotated"
DEFAULT_BATCH_SIZE = 200


@dataclass
class RotationReport:
    """What a rotation did (channel ids and counts only)."""

    checked: int = 0
    resealed: int = 0
    current: int = 0
    #: Saved by their owner while the rotation ran (their new target is already current).
    changed_meanwhile: int = 0
    unreadable: list[int] = field(default_factory=list)
    batches: int = 0


async def rotate_channel_keys(
    db: Database,
    settings: Settings,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    dry_run: bool = False,
    after_id: int = 0,
    progress: Callable[[RotationReport, int], None] | None = None,
) -> RotationReport:
    """Re-seal every Apprise channel target not yet encrypted with the current secret (targets stored in
    clear are sealed too). ``dry_run`` counts without writing. ``progress(report, last_id)`` is called
    after each batch."""
    secret, previous = settings.secret(), previous_secrets(settings)
    report = RotationReport()
    last_id = after_id
    while True:
        async with db.session(write=not dry_run) as session:
            rows = await repository.apprise_channels_after(session, after_id=last_id, limit=batch_size)
            if not rows:
                break
            resealed: list[int] = []
            for channel_id, stored in rows:
                report.checked += 1
                try:
                    sealed = reseal(secret, stored, previous=previous)
                except UnreadableTarget:
                    report.unreadable.append(channel_id)
                    continue
                if sealed is None:
                    report.current += 1
                elif dry_run or await repository.replace_target(session, channel_id=channel_id, old=stored, new=sealed):
                    resealed.append(channel_id)
                else:
                    report.changed_meanwhile += 1
            if resealed and not dry_run:
                record(session, KEYS_ROTATED, details={"channels": resealed, "count": len(resealed)})
            report.resealed += len(resealed)
            report.batches += 1
            last_id = rows[-1][0]
        if progress is not None:
            progress(report, last_id)
    logger.info(
        "channel targets re-sealed" if not dry_run else "channel targets checked (dry run)",
        extra={"resealed": report.resealed, "current": report.current, "unreadable": len(report.unreadable)},
    )
    return report
