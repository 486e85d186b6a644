"""Apprise URLs hold secrets (bot tokens, passwords), so they are stored encrypted (Fernet).

The key is derived from the app secret with HKDF and a purpose label, so it differs from every other key
made from that secret. Stored values carry a prefix; a value without it is a row written before
encryption and is read as it is (:func:`open_target`), then sealed the next time the channel is saved.
Changing the app secret makes sealed targets unreadable: those channels fail with a clear reason.
"""

from __future__ import annotations

import base64
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

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


def open_target(secret: str, stored: str) -> str:
    """The target as written by the user: decrypted, or as it is for a row stored in clear."""
    if not is_sealed(stored):
        return stored
    try:
        return _fernet(secret).decrypt(stored[len(PREFIX) :].encode("ascii")).decode()
    except (InvalidToken, ValueError) as exc:
        raise UnreadableTarget("The channel's address cannot be read (the app secret changed); add it again.") from exc
