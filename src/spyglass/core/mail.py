"""Outgoing email over SMTP. Without an SMTP host (embedded development), messages are written
as ``.eml`` files in ``data_dir/mail/`` instead, so links can be followed without a mail server
and without printing secrets to the log."""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
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

    def build(self, mail: Mail) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.settings.mail_from
        message["To"] = mail.to
        message["Subject"] = mail.subject
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(domain="spyglass.local")
        for name, value in mail.headers:
            del message[name]
            message[name] = value
        message.set_content(mail.text)
        if mail.html:
            message.add_alternative(mail.html, subtype="html")
        return message

    async def send(self, mail: Mail) -> None:
        """Deliver one message; raises MailError when the server refuses it or cannot be reached."""
        message = self.build(mail)
        if not self.uses_smtp:
            path = await asyncio.to_thread(self._write_file, message)
            logger.info("mail written to file", extra={"to_domain": mail.to.rsplit("@", 1)[-1], "path": str(path)})
            return
        try:
            await asyncio.to_thread(self._send_smtp, message)
        except (OSError, smtplib.SMTPException) as exc:
            raise MailError(f"could not send mail through {self.settings.smtp_host}: {exc}") from exc

    def _send_smtp(self, message: EmailMessage) -> None:
        s = self.settings
        assert s.smtp_host is not None
        client: smtplib.SMTP
        if s.smtp_ssl:
            client = smtplib.SMTP_SSL(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout_seconds, context=self._tls())
        else:
            client = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout_seconds)
        with client:
            if s.smtp_starttls and not s.smtp_ssl:
                client.ehlo()
                if client.has_extn("starttls"):
                    client.starttls(context=self._tls())
            if s.smtp_username and s.smtp_password:
                client.login(s.smtp_username, s.smtp_password.get_secret_value())
            client.send_message(message)

    def _write_file(self, message: EmailMessage) -> Path:
        folder = self.settings.data_dir / "mail"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{uuid.uuid4().hex}.eml"
        path.write_bytes(bytes(message))
        return path
