"""Helpers for API tests: personal API tokens written straight to the database, bearer headers,
and signing a test client in through the login form."""

from __future__ import annotations

from datetime import datetime

from litestar import Litestar
from litestar.testing import AsyncTestClient

from spyglass.accounts.auth import hash_token
from spyglass.accounts.models import ApiToken, User
from spyglass.accounts.token_service import DISPLAY_PREFIX_LENGTH, new_secret
from spyglass.core.services import Services
from tests.support.factories import DEFAULT_PASSWORD
from tests.support.web import post_form

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


async def sign_in(client: Client, user: User, password: str = DEFAULT_PASSWORD) -> None:
    """Sign ``client`` in as ``user`` through the login form (a real browser session)."""
    response = await post_form(client, "/login", {"login": user.username, "password": password}, follow_redirects=False)
    assert response.status_code == 303, f"login failed: {response.status_code} {response.text[:300]}"
