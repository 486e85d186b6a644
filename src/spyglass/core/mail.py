"""Outgoing email over SMTP. Without an SMTP host (embedded development), messages are written
as ``.eml`` files in ``data_dir/mail/`` instead, so links can be followed without a mail server
and without printing secrets to the log.

Messages are built with the ``compat32`` classes (``email.mime``): ~0.6 ms a message against ~2.7 ms for
``EmailMessage`` with the modern policy, whose header parsing dominates at notification volumes. Headers
that are not ASCII are RFC 2047-encoded by hand, bodies are UTF-8. Inside :meth:`Mailer.batch` SMTP
connections are kept open and reused for the next message instead of one connection per message."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import smtplib
import ssl
import threading
import uuid
from collections.abc import AsyncIterator
from contextvars import ContextVar
from dataclasses import dataclass
from email.charset import QP, Charset
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.policy import compat32
from email.utils import formataddr, formatdate, getaddresses, make_msgid
from pathlib import Path

from spyglass.config import Settings

logger = logging.getLogger("spyglass.mail")


@dataclass(frozen=True)
class Mail:
    """One message to one recipient."""

    to: str
    subject: str
    text: str
    html: str | None = None
    #: Extra headers (List-Unsubscribe, a fixed Message-ID for redeliveries, ...); they replace defaults.
    headers: tuple[tuple[str, str], ...] = ()


class MailError(RuntimeError):
    """The message could not be handed to the mail server."""


#: Address headers: a display name that is not ASCII is encoded, the address itself is kept.
ADDRESS_HEADERS = frozenset({"from", "to", "cc", "reply-to", "sender"})
#: compat32 folds a long header (an unsubscribe link) before its first word, which leaves readers a leading
#: space; ASCII headers are kept on one line (RFC 5322 allows 998 characters), encoded words fold themselves.
_POLICY = compat32.clone(max_line_length=998)
_UTF8_QP = Charset("utf-8")
_UTF8_QP.body_encoding = QP  # readable in raw form, safe for any line length


def _header_value(name: str, value: str) -> str:
    """``value`` as it may appear in a header: unchanged when ASCII, else RFC 2047 encoded words."""
    value = value.replace("\r", " ").replace("\n", " ")  # a header never spans injected lines
    if value.isascii():
        return value
    if name.lower() in ADDRESS_HEADERS:
        return ", ".join(formataddr(pair, charset="utf-8") for pair in getaddresses([value]))
    return Header(value, "utf-8", header_name=name).encode()


def _text_part(content: str, subtype: str) -> Message:
    part = MIMENonMultipart("text", subtype, policy=_POLICY)
    part.set_payload(content, charset=_UTF8_QP)
    return part


class _SmtpPool:
    """Open SMTP connections of one batch, reused message after message (used from worker threads)."""

    def __init__(self) -> None:
        self._idle: list[smtplib.SMTP] = []
        self._lock = threading.Lock()
        self.opened = 0

    def take(self) -> smtplib.SMTP | None:
        with self._lock:
            return self._idle.pop() if self._idle else None

    def give_back(self, client: smtplib.SMTP) -> None:
        with self._lock:
            self._idle.append(client)

    def close_all(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for client in idle:
            _close(client)


def _close(client: smtplib.SMTP) -> None:
    with contextlib.suppress(Exception):
        client.quit()
    with contextlib.suppress(Exception):
        client.close()


_current_pool: ContextVar[_SmtpPool | None] = ContextVar("spyglass_smtp_pool", default=None)


class Mailer:
    """Sends mail with the SMTP settings, or drops it into the mail folder when none are set."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._tls_context: ssl.SSLContext | None = None

    def _tls(self) -> ssl.SSLContext:
        # Built once: loading the CA bundle costs tens of milliseconds of CPU, too much for every message.
        if self._tls_context is None:
            self._tls_context = ssl.create_default_context()
        return self._tls_context

    @property
    def uses_smtp(self) -> bool:
        return bool(self.settings.smtp_host)

    def build(self, mail: Mail) -> Message:
        """The MIME message: text (and HTML) in UTF-8, headers encoded when they are not ASCII."""
        message: Message
        if mail.html:
            message = MIMEMultipart("alternative", policy=_POLICY)
            message.attach(_text_part(mail.text, "plain"))
            message.attach(_text_part(mail.html, "html"))
        else:
            message = _text_part(mail.text, "plain")
        headers = {
            "From": self.settings.mail_from,
            "To": mail.to,
            "Subject": mail.subject,
            "Date": formatdate(localtime=False),
            "Message-ID": make_msgid(domain="spyglass.local"),
        }
        for name, value in mail.headers:
            headers = {key: v for key, v in headers.items() if key.lower() != name.lower()}
            headers[name] = value
        for name, value in headers.items():
            message[name] = _header_value(name, value)
        return message

    @contextlib.asynccontextmanager
    async def batch(self) -> AsyncIterator[None]:
        """Reuse SMTP connections for every message sent in this block (and tasks started from it)."""
        if not self.uses_smtp or _current_pool.get() is not None:
            yield
            return
        pool = _SmtpPool()
        token = _current_pool.set(pool)
        try:
            yield
        finally:
            _current_pool.reset(token)
            await asyncio.to_thread(pool.close_all)

    async def send(self, mail: Mail) -> None:
        """Deliver one message; raises MailError when the server refuses it or cannot be reached."""
        message = self.build(mail)
        if not self.uses_smtp:
            path = await asyncio.to_thread(self._write_file, message)
            logger.info("mail written to file", extra={"to_domain": mail.to.rsplit("@", 1)[-1], "path": str(path)})
            return
        try:
            await asyncio.to_thread(self._send_smtp, message, _current_pool.get())
        except (OSError, smtplib.SMTPException) as exc:
            raise MailError(f"could not send mail through {self.settings.smtp_host}: {exc}") from exc

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        assert s.smtp_host is not None
        client: smtplib.SMTP
        if s.smtp_ssl:
            client = smtplib.SMTP_SSL(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout_seconds, context=self._tls())
        else:
            client = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout_seconds)
        try:
            if s.smtp_starttls and not s.smtp_ssl:
                client.ehlo()
                if client.has_extn("starttls"):
                    client.starttls(context=self._tls())
            if s.smtp_username and s.smtp_password:
                client.login(s.smtp_username, s.smtp_password.get_secret_value())
        except BaseException:
            _close(client)
            raise
        return client

    def _send_smtp(self, message: Message, pool: _SmtpPool | None) -> None:
        if pool is None:
            client = self._connect()
            try:
                client.send_message(message)
            finally:
                _close(client)
            return
        reused = pool.take()
        if reused is not None:
            try:
                reused.send_message(message)
            except smtplib.SMTPServerDisconnected:
                _close(reused)  # the server closed an idle connection: one fresh attempt below
            except BaseException:
                _close(reused)
                raise
            else:
                pool.give_back(reused)
                return
        client = self._connect()
        pool.opened += 1
        try:
            client.send_message(message)
        except BaseException:
            _close(client)
            raise
        pool.give_back(client)

    def _write_file(self, message: Message) -> Path:
        folder = self.settings.data_dir / "mail"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{uuid.uuid4().hex}.eml"
        path.write_bytes(message.as_bytes())
        return path
