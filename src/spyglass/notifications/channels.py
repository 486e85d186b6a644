"""Channel kinds: one ``ChannelSender`` Protocol, one registry keyed by ``ChannelKind``.

- ``email``: the platform ``Mailer`` (SMTP set by the admin, or ``.eml`` files in development).
- ``apprise``: any Apprise URL (Slack, Discord, Telegram, ntfy, Pushover, Matrix, webhooks, Twilio, ...).
  Apprise opens its own connections, so the URL policy cannot pin them: services whose server the user
  chooses (webhooks, ntfy, Gotify, Matrix, ...) have their host checked against the policy when the
  channel is saved and again before every send (no private addresses unless allow-listed); services
  with a fixed public API host are taken as they are; anything else is refused.

Targets can hold secrets (tokens, passwords in URLs): they are never logged, errors are scrubbed of
them, and pages show only Apprise's privacy form of the URL.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol
from urllib.parse import quote

import apprise

from spyglass.accounts.schemas import check_email
from spyglass.core.errors import InvalidInput
from spyglass.core.mail import Mail, MailError
from spyglass.core.urlpolicy import UrlPolicy, UrlRefused
from spyglass.notifications.models import ChannelKind
from spyglass.notifications.rendering import Message

if TYPE_CHECKING:
    from spyglass.core.services import Services

logger = logging.getLogger("spyglass.notifications")

MAX_TARGET_LENGTH = 2000


def mask_path_tokens(url: str) -> str:
    """``url`` with every long path segment shortened: webhooks carry their secret in the path
    (``json://host/hooks/<token>``), which Apprise's privacy URL keeps in full."""
    scheme, separator, rest = url.partition("://")
    host, slash, path = rest.partition("/")
    if not separator or not slash:
        return url
    segments = [segment if len(segment) <= 8 else f"{segment[:2]}…" for segment in path.split("/")]
    return f"{scheme}://{host}/{'/'.join(segments)}"


#: Apprise schemes whose server the user picks: the host must pass the URL policy.
CUSTOM_HOST_SCHEMES = frozenset(
    {
        "json", "jsons", "xml", "xmls", "form", "forms", "ntfy", "ntfys", "gotify", "gotifys", "matrix",
        "matrixs", "mmost", "mmosts", "rocket", "rockets", "apprise", "apprises", "nctalk", "nctalks",
    }
)  # fmt: skip
#: Apprise schemes that always talk to the vendor's public API.
FIXED_HOST_SCHEMES = frozenset(
    {
        "discord", "slack", "tgram", "pover", "pbul", "twilio", "msteams", "opsgenie", "pagerduty",
        "signl4", "pushed", "line", "zulip", "join", "spush", "ifttt", "sns", "ses", "mailgun", "sendgrid",
    }
)  # fmt: skip
#: Schemes that add our idempotency header to the request (receivers can drop a redelivery).
HEADER_SCHEMES = frozenset({"json", "jsons", "xml", "xmls", "form", "forms"})


class DeliveryError(Exception):
    """A channel could not deliver. ``permanent``: retrying will not help (bad address, refused URL)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True)
class ValidTarget:
    """A target that passed validation: the value to store and what pages may show of it."""

    target: str
    hint: str


@dataclass(frozen=True)
class Envelope:
    """What a send needs besides the message: the notification's key (a stable Message-ID or header,
    so a redelivery can be recognised) and the unsubscribe link (emails)."""

    key: str
    unsubscribe_url: str | None


class ChannelSender(Protocol):
    """One way of delivering a rendered message."""

    kind: ChannelKind

    async def validate(self, target: str, *, policy: UrlPolicy) -> ValidTarget:
        """Check a target entered by a user; raises InvalidInput with a message for people."""
        ...

    async def send(self, services: Services, target: str, message: Message, envelope: Envelope) -> None:
        """Deliver ``message``; raises DeliveryError."""
        ...


def _scrub(text: str, secret: str) -> str:
    return text.replace(secret, "[target]") if secret else text


class EmailSender:
    """Email through the platform mailer, with List-Unsubscribe headers (RFC 8058 one-click)."""

    kind = ChannelKind.EMAIL

    async def validate(self, target: str, *, policy: UrlPolicy) -> ValidTarget:
        address, problem = check_email(target)
        if problem:
            raise InvalidInput("That is not an email address.", detail={"target": problem})
        return ValidTarget(target=address, hint=address)

    async def send(self, services: Services, target: str, message: Message, envelope: Envelope) -> None:
        headers = [("Message-ID", message_id(envelope.key)), ("X-Spyglass-Notification", envelope.key[:200])]
        if envelope.unsubscribe_url:
            headers += [
                ("List-Unsubscribe", f"<{envelope.unsubscribe_url}>"),
                ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
            ]
        mail = Mail(to=target, subject=message.subject, text=message.text, html=message.html, headers=tuple(headers))
        try:
            await services.mailer.send(mail)
        except MailError as exc:
            raise DeliveryError(_scrub(str(exc), target)) from exc


def message_id(key: str) -> str:
    """A Message-ID derived from the notification key: every (re)delivery of it carries the same one."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "-", key)[:120]
    return f"<{safe}@spyglass.notifications>"


class AppriseSender:
    """Any Apprise URL; the body goes as plain text (Apprise escapes it for services that read HTML)."""

    kind = ChannelKind.APPRISE

    async def validate(self, target: str, *, policy: UrlPolicy) -> ValidTarget:
        url = target.strip()
        if not url or len(url) > MAX_TARGET_LENGTH or any(ch.isspace() for ch in url):
            raise InvalidInput(
                "That is not an Apprise URL.",
                detail={"target": f"Enter one URL without spaces, at most {MAX_TARGET_LENGTH} characters."},
            )
        plugin = apprise.Apprise.instantiate(url)
        if plugin is None:
            raise InvalidInput(
                "Apprise does not understand that URL.",
                detail={"target": "Check the service's URL format, e.g. ntfy://topic or json://host/path."},
            )
        scheme = url.split("://", 1)[0].lower()
        if scheme in ("mailto", "mailtos"):
            raise InvalidInput(
                "Use an email channel for email.", detail={"target": "Add an email channel instead of mailto://."}
            )
        if scheme not in CUSTOM_HOST_SCHEMES and scheme not in FIXED_HOST_SCHEMES:
            raise InvalidInput(
                f"{scheme}:// URLs are not supported here.",
                detail={
                    "target": "Supported: webhooks (json://, xml://, form://), ntfy, Gotify, Matrix, Mattermost, "
                    "Rocket.Chat, Discord, Slack, Telegram, Pushover, Pushbullet, Twilio, Teams and more."
                },
            )
        await check_host(plugin, scheme, policy)
        hint = mask_path_tokens(str(plugin.url(privacy=True)).split("?", 1)[0])[:200]
        return ValidTarget(target=url, hint=hint)

    async def send(self, services: Services, target: str, message: Message, envelope: Envelope) -> None:
        scheme = target.split("://", 1)[0].lower()
        url = target
        if scheme in HEADER_SCHEMES:
            joiner = "&" if "?" in url else "?"
            url = f"{url}{joiner}{quote('+X-Spyglass-Notification')}={quote(envelope.key[:200], safe='')}"
        # No redirects: a hop would go wherever the server says, past the host check below.
        plugin = apprise.Apprise.instantiate(url, asset=apprise.AppriseAsset(http_redirects=False))
        if plugin is None:
            raise DeliveryError("Apprise no longer understands this URL.", permanent=True)
        try:
            await check_host(plugin, scheme, UrlPolicy.from_settings(services.settings))
        except InvalidInput as exc:
            raise DeliveryError(str(exc), permanent=True) from exc
        notifier = apprise.Apprise(asset=apprise.AppriseAsset(http_redirects=False))
        notifier.add(plugin)
        ok = await asyncio.to_thread(
            notifier.notify, body=message.short, title=message.subject, body_format=apprise.NotifyFormat.TEXT
        )
        if not ok:
            # Apprise reports details only through its log, shared by every send in flight (other users'
            # too), so the user sees a plain reason and the operator reads Apprise's log.
            raise DeliveryError(f"{plugin.service_name or scheme} did not accept the notification.")


async def check_host(plugin: apprise.plugins.NotifyBase, scheme: str, policy: UrlPolicy) -> None:
    """Refuse a self-chosen server that is private (or does not resolve) unless the admin allows it."""
    if scheme not in CUSTOM_HOST_SCHEMES:
        return
    host = getattr(plugin, "host", None)
    if not host:  # e.g. ntfy://topic goes to the public ntfy.sh
        return
    port = getattr(plugin, "port", None)
    secure = bool(getattr(plugin, "secure", False))
    netloc = f"[{host}]" if ":" in str(host) else str(host)
    probe = f"{'https' if secure else 'http'}://{netloc}{f':{port}' if port else ''}/"
    try:
        await policy.check(probe)
    except UrlRefused as exc:
        raise InvalidInput(f"Notifications cannot be sent there: {exc.reason}", detail={"target": exc.reason}) from exc


SENDERS: dict[ChannelKind, ChannelSender] = {ChannelKind.EMAIL: EmailSender(), ChannelKind.APPRISE: AppriseSender()}


def sender_for(kind: str) -> ChannelSender:
    """The sender of a channel kind (raises InvalidInput for an unknown one)."""
    try:
        return SENDERS[ChannelKind(kind)]
    except ValueError:
        raise InvalidInput("Unknown channel kind.", detail={"kind": "Choose email or apprise."}) from None
