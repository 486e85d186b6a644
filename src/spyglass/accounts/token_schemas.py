"""JSON shapes of the personal API token endpoints (they also document the OpenAPI schema)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from spyglass.accounts.models import ApiToken
from spyglass.accounts.token_service import EXPIRY_MAX_DAYS, NAME_MAX_LENGTH, IssuedToken, token_status
from spyglass.core.pagination import Page

TokenName = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=NAME_MAX_LENGTH,
        description="What the token is for, e.g. the script or machine that uses it.",
        examples=["backup script"],
    ),
]
ExpiryDays = Annotated[
    int,
    msgspec.Meta(ge=1, le=EXPIRY_MAX_DAYS, description="Days until the token expires; omit or null for never."),
]


class TokenCreate(msgspec.Struct):
    """A request for a new personal API token."""

    name: TokenName
    expires_in_days: ExpiryDays | None = None


class TokenOut(msgspec.Struct):
    """A personal API token as listed: never the token itself, only its first characters."""

    id: int
    name: str
    prefix: str
    status: Literal["active", "expired", "revoked"]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, token: ApiToken) -> TokenOut:
        return cls(**_fields(token))


class TokenCreated(msgspec.Struct):
    """A token just created. ``token`` is shown this once; store it now, it cannot be read again."""

    id: int
    name: str
    prefix: str
    status: Literal["active", "expired", "revoked"]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None
    token: str

    @classmethod
    def of(cls, issued: IssuedToken) -> TokenCreated:
        return cls(**_fields(issued.token), token=issued.secret)


class TokenPage(msgspec.Struct):
    """One page of the caller's tokens, newest first."""

    items: list[TokenOut]
    page: int
    size: int
    total: int
    pages: int

    @classmethod
    def of(cls, page: Page[ApiToken]) -> TokenPage:
        return cls(**page.to_dict([TokenOut.of(token) for token in page.items]))


def _fields(token: ApiToken) -> dict[str, Any]:
    return {
        "id": token.id,
        "name": token.name,
        "prefix": token.prefix,
        "status": token_status(token).value,
        "created_at": token.created_at,
        "expires_at": token.expires_at,
        "last_used_at": token.last_used_at,
        "revoked_at": token.revoked_at,
    }
