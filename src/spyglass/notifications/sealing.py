"""Apprise URLs hold secrets (bot tokens, passwords), so they are stored encrypted (Fernet).

The key is derived from the app secret with HKDF and a purpose label, so it differs from every other key
made from that secret. Stored values carry a prefix; a value without it is a row written before
encryption and is read as it is (:func:`open_target`), then sealed the next time the channel is saved.

Rotating the app secret: the earlier secrets go in ``SPYGLASS_NOTIFICATIONS_PREVIOUS_SECRET_KEYS``; targets
then open with any of the keys (MultiFernet, current first) and :func:`reseal` re-encrypts one with the
current key (``spyglass notifications rotate-key`` does every channel). A target no key opens fails its
deliveries with a clear reason.
"""

from __future__ import annotations

import base64
from functools import lru_cache
from typing import TYPE_CHECKING

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

if TYPE_CHECKING:
    from spyglass.config import Settings

PREFIX = "fernet:v1:"
PURPOSE = b"spyglass/notifications/channel-target"


class UnreadableTarget(Exception):
    """A sealed target that this secret cannot open (the app secret changed)."""


@lru_cache(maxsize=4)
def _fernet(secret: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=PURPOSE).derive(secret.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def is_sealed(stored: str) -> bool:
    """Whether ``stored`` is an encrypted target (not a row kept in clear from before)."""
    return stored.startswith(PREFIX)


def seal_target(secret: str, target: str) -> str:
    """The stored form of ``target``: encrypted and prefixed (sealing twice is a no-op)."""
    if is_sealed(target):
        return target
    return PREFIX + _fernet(secret).encrypt(target.encode()).decode("ascii")


@lru_cache(maxsize=4)
def _multi(secret: str, previous: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([_fernet(secret), *(_fernet(old) for old in previous if old != secret)])


def previous_secrets(settings: Settings) -> tuple[str, ...]:
    """The earlier app secrets sealed targets may still be encrypted with (empty when none is set)."""
    value = settings.notifications_previous_secret_keys
    if value is None:
        return ()
    return tuple(part.strip() for part in value.get_secret_value().split(",") if part.strip())


def open_target(secret: str, stored: str, *, previous: tuple[str, ...] = ()) -> str:
    """The target as written by the user: decrypted (with the current secret, else an earlier one), or as
    it is for a row stored in clear."""
    if not is_sealed(stored):
        return stored
    try:
        token = stored[len(PREFIX) :].encode("ascii")
        opener = _multi(secret, previous) if previous else _fernet(secret)
        return opener.decrypt(token).decode()
    except (InvalidToken, ValueError) as exc:
        raise UnreadableTarget("The channel's address cannot be read (the app secret changed); add it again.") from exc


def reseal(secret: str, stored: str, *, previous: tuple[str, ...] = ()) -> str | None:
    """``stored`` encrypted with the current secret, or None when it already is. A target kept in clear
    is sealed; one no key opens raises :class:`UnreadableTarget` (the secret it was sealed with is gone)."""
    if not is_sealed(stored):
        return seal_target(secret, stored)
    token = stored[len(PREFIX) :].encode("ascii")
    try:
        _fernet(secret).decrypt(token)
        return None
    except (InvalidToken, ValueError):
        pass
    try:
        return PREFIX + _multi(secret, previous).rotate(token).decode("ascii")
    except (InvalidToken, ValueError) as exc:
        raise UnreadableTarget("No configured secret opens this channel's address.") from exc
