"""The texts of account emails (plain text plus a simple, escaped HTML part), and sending them
after the request's transaction has committed."""

from __future__ import annotations

import logging
from html import escape

from litestar.background_tasks import BackgroundTask

from spyglass.core.mail import Mail
from spyglass.core.services import Services

logger = logging.getLogger("spyglass.accounts.mail")


def _mail(to: str, subject: str, greeting: str, paragraphs: list[str], link: str, button: str, footer: str) -> Mail:
    text = "\n\n".join([greeting, *paragraphs, link, footer, "— Spyglass"]) + "\n"
    body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    html = (
        f"<!doctype html><html><body><p>{escape(greeting)}</p>{body}"
        f'<p><a href="{escape(link, quote=True)}">{escape(button)}</a></p>'
        f"<p>{escape(footer)}</p><p>— Spyglass</p></body></html>"
    )
    return Mail(to=to, subject=subject, text=text, html=html)


def verification_mail(*, to: str, username: str, link: str, ttl_hours: int) -> Mail:
    """Asks a new user to confirm their email address."""
    return _mail(
        to,
        "Confirm your email address for Spyglass",
        f"Hello {username},",
        [
            "Thanks for creating a Spyglass account. Please confirm that this is your email address "
            "by opening the link below and pressing the button on the page.",
            f"The link works once and expires in {ttl_hours} hours.",
        ],
        link,
        "Confirm my email address",
        "If you did not create this account, you can ignore this message.",
    )


def password_reset_mail(*, to: str, username: str, link: str, ttl_minutes: int) -> Mail:
    """Carries a password reset link."""
    return _mail(
        to,
        "Reset your Spyglass password",
        f"Hello {username},",
        [
            "Somebody (hopefully you) asked to reset the password of your Spyglass account. "
            "Open the link below to choose a new password.",
            f"The link works once and expires in {ttl_minutes} minutes. "
            "Resetting the password signs you out everywhere.",
        ],
        link,
        "Choose a new password",
        "If you did not ask for this, ignore this message: your password stays as it is.",
    )


def email_change_mail(*, to: str, username: str, link: str, ttl_hours: int) -> Mail:
    """Asks the owner of a new address to confirm it before the account switches to it."""
    return _mail(
        to,
        "Confirm your new email address for Spyglass",
        f"Hello {username},",
        [
            "You asked to use this address for your Spyglass account. "
            "Open the link below and press the button on the page to confirm the change.",
            f"The link works once and expires in {ttl_hours} hours.",
        ],
        link,
        "Confirm my new email address",
        "If you did not ask for this, ignore this message: nothing changes.",
    )


async def deliver(services: Services, mail: Mail, kind: str) -> None:
    """Send one account email; a failure is logged (without the message body, which holds the link)."""
    try:
        await services.mailer.send(mail)
    except Exception as exc:
        logger.warning(
            "could not send account email",
            extra={"kind": kind, "to_domain": mail.to.rsplit("@", 1)[-1], "error": type(exc).__name__},
        )


def send_after_commit(services: Services, mail: Mail, kind: str) -> BackgroundTask:
    """A background task for the response: it runs after the request's transaction has committed."""
    return BackgroundTask(deliver, services, mail, kind)
