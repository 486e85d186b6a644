"""Kill the dispatcher mid-delivery (SIGKILL of a real process) and check every notification still
arrives, with the redelivery confined to the sends that were in flight."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from spyglass.config import Settings
from spyglass.core.services import Services
from spyglass.notifications import outbox
from spyglass.notifications.models import DeliveryStatus, NotificationStatus
from tests.conftest import BASE_URL, TEST_SECRET
from tests.notifications.helpers import deliveries, drain, emit, make_channel, notifications
from tests.support.factories import create_user
from tests.support.smtp import SmtpServer

ROOT = Path(__file__).resolve().parents[2]
COUNT = 30
SMTP_DELAY_SECONDS = 0.08


class _SlowHandler:
    """Takes a moment before accepting each message, like a busy mail server."""

    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        from email import message_from_bytes, policy

        await asyncio.sleep(SMTP_DELAY_SECONDS)
        message = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        self.server.add(message, list(envelope.rcpt_tos))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server._controller = Controller(_SlowHandler(server), hostname=server.host, port=server.port)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def start_dispatcher(settings: Settings, smtp: SmtpServer, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "SPYGLASS_DATABASE_URL": settings.resolved_database_url,
        "SPYGLASS_DATA_DIR": str(settings.data_dir),
        "SPYGLASS_SECRET_KEY": TEST_SECRET,
        "SPYGLASS_BASE_URL": BASE_URL,
        "SPYGLASS_ENVIRONMENT": "development",
        "SPYGLASS_SMTP_HOST": smtp.host,
        "SPYGLASS_SMTP_PORT": str(smtp.port),
        "SPYGLASS_SMTP_STARTTLS": "false",
        "SPYGLASS_NOTIFICATIONS_SEND_CONCURRENCY": "2",
        "SPYGLASS_NOTIFICATIONS_LEASE_SECONDS": "5",
        "SPYGLASS_LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "tests.notifications.dispatcher_main", "60"],
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )


@pytest.mark.slow
async def test_sigkilled_dispatcher_resumes_and_every_notification_arrives(
    services: Services, settings: Settings, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    # Started first: its start-up (imports) overlaps with writing the events, which it then polls for.
    process = start_dispatcher(settings, smtp_server, tmp_path / "dispatcher.log")
    try:
        ann = await create_user(services, username="ann", email="ann@example.com")
        await make_channel(services, ann, "email", "ann@example.com", events={outbox.EVENT_PRICE_DROP: "instant"})
        keys = [f"drop:{number}" for number in range(COUNT)]
        for number, key in enumerate(keys):
            await emit(services, ann.id, outbox.EVENT_PRICE_DROP, {"title": f"Lamp {number}"}, key)
        deadline = time.monotonic() + 60
        while len(smtp_server.messages) < COUNT // 3:
            assert process.poll() is None, (tmp_path / "dispatcher.log").read_text()
            assert time.monotonic() < deadline, "the dispatcher process delivered nothing"
            await asyncio.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
    at_kill = {d.destination + "@" + str(d.notification_id): d.status for d in await deliveries(services)}
    in_flight = {key for key, status in at_kill.items() if status == DeliveryStatus.SENDING.value}
    received_before = len(smtp_server.messages)
    assert received_before < COUNT, "killed too late to test anything"

    # A new dispatcher takes over once the dead one's claims expire (5 s), and finishes the rest.
    await asyncio.sleep(5.2)
    await drain(services)

    rows = await notifications(services)
    assert {row.status for row in rows} == {NotificationStatus.DELIVERED.value}
    final = await deliveries(services)
    assert len(final) == COUNT and {d.status for d in final} == {DeliveryStatus.DELIVERED.value}
    received = Counter(str(m["X-Spyglass-Notification"]).strip().split("/", 1)[0] for m in smtp_server.messages)
    assert set(received) == set(keys), "a notification was lost"
    # Sent twice only when the send was in flight at the kill (its outcome was never recorded) — and then
    # with the same Message-ID, so the mail client shows it once.
    resent = {f"{d.destination}@{d.notification_id}" for d in final if d.attempt > 1}
    assert resent == in_flight
    assert sum(received.values()) - COUNT <= len(in_flight)
    message_ids = {str(m["Message-ID"]) for m in smtp_server.messages}
    assert len(message_ids) == COUNT
