"""Helpers for API tests: personal API tokens written straight to the database, bearer headers,
and a signed-in browser session for a test client."""

from __future__ import annotations

import secrets
from datetime import datetime

from litestar import Litestar
from litestar.serialization import encode_json
from litestar.testing import AsyncTestClient

from spyglass.accounts.auth import hash_token
from spyglass.accounts.models import ApiToken, User
from spyglass.accounts.token_service import DISPLAY_PREFIX_LENGTH, new_secret
from spyglass.core.services import Services
from spyglass.core.sessions import SESSION_COOKIE

Client = AsyncTestClient[Litestar]


async def issue_token(
    services: Services,
    user: User,
    *,
    name: str = "test token",
    expires_at: datetime | None = None,
    revoked_at: datetime | None = None,
) -> tuple[str, int]:
    """A personal API token for ``user`` stored the way the app stores it; returns (token, id)."""
    secret = new_secret()
    async with services.db.session(write=True) as session:
        token = ApiToken(
            user_id=user.id,
            name=name,
            token_hash=hash_token(secret),
            prefix=secret[:DISPLAY_PREFIX_LENGTH],
            expires_at=expires_at,
            revoked_at=revoked_at,
        )
        session.add(token)
        await session.flush()
        return secret, token.id


def bearer(token: str) -> dict[str, str]:
    """The ``Authorization`` header for an API token."""
    return {"Authorization": f"Bearer {token}"}


async def sign_in_session(client: Client, services: Services, user: User) -> None:
    """Give ``client`` a server-side session signed in as ``user`` (what a successful login stores)."""
    session_id = secrets.token_hex(16)
    data = {"uid": user.id, "epoch": user.session_epoch}
    await services.session_store.set(session_id, encode_json(data), expires_in=services.settings.session_idle_seconds)
    client.cookies.set(SESSION_COOKIE, session_id)
