"""Signed one-click unsubscribe links: they work without login, cannot be forged, and never expire
(an old email's link must still stop the mail)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass

ALL_EVENTS = "*"
_CONTEXT = b"spyglass.notifications.unsubscribe"


@dataclass(frozen=True)
class Unsubscribe:
    """What a link stops: one event on one channel, a whole channel (``event == "*"``), or every email
    channel of the user (``channel_id == 0``)."""

    user_id: int
    channel_id: int
    event: str


def _key(secret: str) -> bytes:
    return hmac.new(secret.encode(), _CONTEXT, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def make_token(secret: str, what: Unsubscribe) -> str:
    """A URL-safe token naming ``what``, signed with the site's secret."""
    body = _b64(json.dumps([what.user_id, what.channel_id, what.event], separators=(",", ":")).encode())
    signature = _b64(hmac.new(_key(secret), body.encode(), hashlib.sha256).digest()[:18])
    return f"{body}.{signature}"


def read_token(secret: str, token: str, *, previous: tuple[str, ...] = ()) -> Unsubscribe | None:
    """What a token stops, or None when it is malformed or its signature matches none of the secrets
    (the current one, or an earlier one still listed after a key rotation: links in mail already sent)."""
    if len(token) > 400 or token.count(".") != 1:
        return None
    body, signature = token.split(".")
    if not any(
        hmac.compare_digest(signature, _b64(hmac.new(_key(key), body.encode(), hashlib.sha256).digest()[:18]))
        for key in (secret, *previous)
    ):
        return None
    try:
        user_id, channel_id, event = json.loads(_unb64(body))
    except (ValueError, TypeError):
        return None
    if not (isinstance(user_id, int) and isinstance(channel_id, int) and isinstance(event, str)):
        return None
    return Unsubscribe(user_id=user_id, channel_id=channel_id, event=event)


def unsubscribe_url(base_url: str, secret: str, what: Unsubscribe) -> str:
    """The absolute link put in emails (page with a button; also the List-Unsubscribe POST target)."""
    return f"{base_url.rstrip('/')}/notifications/unsubscribe/{make_token(secret, what)}"
