"""Password hashing (argon2id, OWASP parameters) and random tokens.

Hashes in werkzeug's ``pbkdf2:sha256:ITERATIONS$SALT$HASH`` format (Super Bot's
accounts) are verified too; ``needs_rehash`` tells the login to replace them
with argon2id.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# OWASP Password Storage Cheat Sheet: argon2id, m=19 MiB, t=2, p=1.
_HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1, hash_len=32, salt_len=16)
PBKDF2_PREFIX = "pbkdf2:"
MAX_PBKDF2_ITERATIONS = 5_000_000


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``."""
    return _HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches an argon2id or werkzeug PBKDF2 hash. Never raises on a malformed hash."""
    if password_hash.startswith(PBKDF2_PREFIX):
        return _verify_werkzeug_pbkdf2(password_hash, password)
    try:
        return _HASHER.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True for legacy PBKDF2 hashes and argon2 hashes made with weaker parameters."""
    if password_hash.startswith(PBKDF2_PREFIX):
        return True
    try:
        return _HASHER.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


def _verify_werkzeug_pbkdf2(password_hash: str, password: str) -> bool:
    # Format: pbkdf2:sha256:600000$salt$hexdigest (the iteration count may be omitted: werkzeug's old default).
    try:
        method, salt, expected = password_hash.split("$", 2)
        parts = method.split(":")
        if len(parts) not in (2, 3) or parts[0] != "pbkdf2":
            return False
        digest = parts[1]
        iterations = int(parts[2]) if len(parts) == 3 else 260_000
    except ValueError:
        return False
    if digest not in ("sha256", "sha512") or not 1 <= iterations <= MAX_PBKDF2_ITERATIONS:
        return False
    actual = hashlib.pbkdf2_hmac(digest, password.encode(), salt.encode(), iterations).hex()
    return hmac.compare_digest(actual, expected)


def new_token(prefix: str = "", nbytes: int = 32) -> str:
    """A URL-safe random token with an optional recognisable prefix."""
    return prefix + secrets.token_urlsafe(nbytes)
