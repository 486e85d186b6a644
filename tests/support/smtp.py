"""A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps every message it receives.

Use the ``smtp_server`` fixture and point the app at it::

    settings = make_settings(tmp_path, database_url, **smtp_server.settings_overrides())
    ...
    message = smtp_server.wait_for_message(to="ann@example.test")
    link = first_link(message)
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any, cast

import pytest
from aiosmtpd.controller import Controller

from tests.support.servers import free_port

LINK_PATTERN = re.compile(r"https?://[^\s<>\"']+")


class _CollectingHandler:
    """aiosmtpd handler that parses each message and keeps it."""

    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        content = envelope.original_content or envelope.content
        raw = content if isinstance(content, bytes) else str(content).encode()
        message = cast(EmailMessage, message_from_bytes(raw, policy=policy.default))
        self.server.add(message, list(envelope.rcpt_tos))
        return "250 Message accepted for delivery"


class SmtpServer:
    """A running SMTP server: ``host``, ``port`` and the ``messages`` received so far."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = free_port()
        self.messages: list[EmailMessage] = []
        self.recipients: list[list[str]] = []
        self._lock = threading.Condition()
        self._controller = Controller(_CollectingHandler(self), hostname=host, port=self.port)

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    def add(self, message: EmailMessage, recipients: list[str]) -> None:
        with self._lock:
            self.messages.append(message)
            self.recipients.append(recipients)
            self._lock.notify_all()

    def clear(self) -> None:
        with self._lock:
            self.messages.clear()
            self.recipients.clear()

    def settings_overrides(self) -> dict[str, object]:
        """Settings that send the app's mail to this server (plain SMTP, no TLS, no login)."""
        return {"smtp_host": self.host, "smtp_port": self.port, "smtp_starttls": False, "smtp_ssl": False}

    @staticmethod
    def first_link(message: EmailMessage) -> str:
        """The first http(s) link in a message's plain-text body (same as the module's ``first_link``)."""
        return first_link(message)

    def messages_to(self, address: str) -> list[EmailMessage]:
        """Messages whose ``To`` header names ``address`` (case-insensitive)."""
        with self._lock:
            return [m for m in self.messages if address.lower() in str(m["To"]).lower()]

    def wait_for_message(self, *, to: str | None = None, count: int = 1, timeout: float = 10.0) -> EmailMessage:
        """The newest message (to ``to``) once at least ``count`` have arrived; fails after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                matching = [m for m in self.messages if to is None or to.lower() in str(m["To"]).lower()]
                if len(matching) >= count:
                    return matching[-1]
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"expected {count} message(s) to {to or 'anyone'}, got {len(matching)}")
                self._lock.wait(remaining)


def message_text(message: EmailMessage) -> str:
    """The plain-text body of a message (the HTML part when there is no plain one)."""
    part = message.get_body(preferencelist=("plain", "html"))
    assert part is not None, "the message has no body"
    return cast(EmailMessage, part).get_content()


def first_link(message: EmailMessage) -> str:
    """The first http(s) link in the message's plain-text body."""
    match = LINK_PATTERN.search(message_text(message))
    assert match, "the message contains no link"
    return match.group(0)


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A fresh SMTP server on a free loopback port, stopped after the test."""
    server = SmtpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
