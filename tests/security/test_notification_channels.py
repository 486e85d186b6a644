"""Notification channels: Apprise URLs hold secrets (never shown back) and may only reach public hosts
(no SSRF through a webhook host, in any notation); channels are private to their owner."""

from __future__ import annotations

from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from spyglass.config import Settings
from spyglass.core.services import Services
from spyglass.notifications.models import Channel
from tests.conftest import make_settings
from tests.support.client import app_client
from tests.support.factories import DEFAULT_PASSWORD, create_user
from tests.support.tenancy import assert_isolated
from tests.support.web import login, send_json

Client = AsyncTestClient[Litestar]
WEBHOOK_TOKEN = "whk9Q2xZr7TmLp4VbN8s"


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url, allow_private_targets="127.0.0.9/32")


async def _add(client: Client, target: str, label: str = "Hook") -> dict:
    response = await send_json(
        client, "POST", "/api/v1/notifications/channels", json={"kind": "apprise", "label": label, "target": target}
    )
    assert response.status_code == 201, response.text
    return response.json()


async def test_a_webhook_token_in_the_path_is_not_shown_back(client: Client, services: Services) -> None:
    user = await create_user(services)
    await login(client, user.username, DEFAULT_PASSWORD)

    created = await _add(client, f"json://127.0.0.9:9/hooks/{WEBHOOK_TOKEN}")
    listed = await client.get("/api/v1/notifications/channels")
    page = await client.get("/notifications")
    one = await client.get(f"/notifications/channels/{created['id']}")

    for shown in (str(created), listed.text, page.text, one.text):
        assert WEBHOOK_TOKEN not in shown


async def test_passwords_and_tokens_of_apprise_urls_are_masked(client: Client, services: Services) -> None:
    user = await create_user(services)
    await login(client, user.username, DEFAULT_PASSWORD)

    await _add(client, f"json://hook:{WEBHOOK_TOKEN}@127.0.0.9:9/path", "Basic auth")
    await _add(client, f"gotify://127.0.0.9:9/{WEBHOOK_TOKEN}", "Gotify")
    await _add(client, f"jsons://127.0.0.9:9/x?-Authorization=Bearer%20{WEBHOOK_TOKEN}", "Header")
    listed = await client.get("/api/v1/notifications/channels")
    page = await client.get("/notifications")

    assert listed.status_code == 200 and len(listed.json()["items"] if "items" in listed.json() else listed.json()) == 3
    assert WEBHOOK_TOKEN not in listed.text
    assert WEBHOOK_TOKEN not in page.text


PRIVATE_TARGETS = [
    "json://169.254.169.254/latest",
    "json://localhost/x",
    "json://[::1]/x",
    "json://0.0.0.0/x",
    "json://2130706433/x",
    "jsons://017700000001/x",
    "ntfy://10.0.0.1/topic",
    "gotify://192.168.1.1/token",
    "form://127.0.0.2/x",
    "xml://[::ffff:169.254.169.254]/x",
]


async def test_apprise_targets_on_private_hosts_are_refused(client: Client, services: Services) -> None:
    user = await create_user(services)
    await login(client, user.username, DEFAULT_PASSWORD)

    accepted = []
    for target in PRIVATE_TARGETS:
        body = {"kind": "apprise", "label": "x", "target": target}
        response = await send_json(client, "POST", "/api/v1/notifications/channels", json=body)
        if response.status_code not in (400, 422):
            accepted.append(f"{target} -> {response.status_code}")

    assert not accepted
    async with services.db.session() as session:
        assert await session.get(Channel, 1) is None


async def test_channels_are_private_to_their_owner(app: Litestar, client: Client, services: Services) -> None:
    alice = await create_user(services)
    bob = await create_user(services)
    async with app_client(app, lifespan=False) as owner:
        await login(owner, alice.username, DEFAULT_PASSWORD)  # type: ignore[arg-type]
        channel = await _add(owner, f"json://hook:{WEBHOOK_TOKEN}@127.0.0.9:9/path", "Alice's secret hook")  # type: ignore[arg-type]
        await login(client, bob.username, DEFAULT_PASSWORD)
        cid = channel["id"]

        async def untouched() -> None:
            async with services.db.session() as session:
                row = await session.get(Channel, cid)
                assert row is not None and row.label == "Alice's secret hook" and row.enabled

        await assert_isolated(
            client,
            [
                ("GET", f"/api/v1/notifications/channels/{cid}", None),
                ("PATCH", f"/api/v1/notifications/channels/{cid}", {"label": "Bob's now", "enabled": False}),
                ("POST", f"/api/v1/notifications/channels/{cid}/test", {}),
                ("DELETE", f"/api/v1/notifications/channels/{cid}", None),
                ("GET", f"/notifications/channels/{cid}", None),
                ("POST", f"/notifications/channels/{cid}", {"label": "Bob's now"}),
                ("POST", f"/notifications/channels/{cid}/test", {}),
                ("POST", f"/notifications/channels/{cid}/delete", {}),
            ],
            owner=owner,  # type: ignore[arg-type]
            unchanged=untouched,
            secrets=["Alice's secret hook", WEBHOOK_TOKEN],
        )
