"""Small factories for test data, written straight to the database."""

from __future__ import annotations

import itertools
from functools import cache

from spyglass.accounts.models import Role, User, UserSettings
from spyglass.core.db import utcnow
from spyglass.core.security import hash_password
from spyglass.core.services import Services

DEFAULT_PASSWORD = "correct horse battery staple"
_counter = itertools.count(1)


@cache
def _hash(password: str) -> str:
    # argon2 is deliberately slow; tests reuse one hash per password.
    return hash_password(password)


async def create_user(
    services: Services,
    *,
    username: str | None = None,
    email: str | None = None,
    password: str = DEFAULT_PASSWORD,
    role: Role = Role.USER,
    verified: bool = True,
    active: bool = True,
    password_hash: str | None = None,
) -> User:
    """A user (with default settings) committed to the database."""
    number = next(_counter)
    username = username or f"user{number}"
    async with services.db.session(write=True) as session:
        user = User(
            username=username,
            email=email or f"{username}@example.test",
            password_hash=password_hash or _hash(password),
            role=role.value,
            is_active=active,
            email_verified_at=utcnow() if verified else None,
        )
        session.add(user)
        await session.flush()
        session.add(UserSettings(user_id=user.id))
    return user
