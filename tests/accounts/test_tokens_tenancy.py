"""User B can neither see nor revoke user A's API tokens, through the pages or the API."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient

from spyglass.accounts.models import ApiToken
from spyglass.core.services import Services
from tests.api.helpers import bearer, issue_token, sign_in
from tests.support.factories import create_user
from tests.support.tenancy import assert_isolated, assert_not_listed

Client = AsyncTestClient[Litestar]


async def test_another_users_tokens_are_invisible_and_untouchable(client: Client, services: Services) -> None:
    alice = await create_user(services, username="alice")
    bob = await create_user(services, username="bob")
    alice_secret, alice_token = await issue_token(services, alice, name="alice private deploy key")
    bob_secret, _ = await issue_token(services, bob, name="bob's token")
    await sign_in(client, bob)

    async def alice_token_untouched() -> None:
        async with services.db.session() as session:
            row = await session.get(ApiToken, alice_token)
            assert row is not None and row.revoked_at is None and row.user_id == alice.id
        still_works = await client.get("/api/v1/tokens", headers=bearer(alice_secret))
        assert still_works.status_code == 200 and "alice private deploy key" in still_works.text

    requests = [
        ("DELETE", f"/api/v1/tokens/{alice_token}", None),
        ("POST", f"/account/tokens/{alice_token}/revoke", {}),
    ]
    await assert_isolated(
        client, requests, unchanged=alice_token_untouched, secrets=["alice private deploy key", alice_secret[:10]]
    )
    for url in ("/api/v1/tokens", "/account/tokens"):
        await assert_not_listed(client, url, ["alice private deploy key", alice_secret[:10]])

    client.headers.update(bearer(bob_secret))  # now Bob calls the API with his token (the cookie is ignored)
    await assert_isolated(client, requests[:1], unchanged=alice_token_untouched)
    listed = await assert_not_listed(client, "/api/v1/tokens", ["alice private deploy key"])
    assert [item["name"] for item in listed.json()["items"]] == ["bob's token"]
