"""``/api/v1/me`` and ``PATCH /api/v1/me/settings``: session or bearer, cached reads, invalidating writes."""

from __future__ import annotations

from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import update

from spyglass.accounts.auth import TOKEN_PREFIX, forget_user, hash_token
from spyglass.accounts.models import ApiToken, Role, User, UserSettings
from spyglass.app import create_app
from spyglass.audit.service import AuditAction
from spyglass.core.security import new_token
from spyglass.core.services import Services
from tests.accounts.helpers import audit_actions
from tests.conftest import make_settings
from tests.support.client import app_client
from tests.support.factories import DEFAULT_PASSWORD, create_user
from tests.support.web import login, send_json

Client = AsyncTestClient[Litestar]
pytestmark = pytest.mark.usefixtures("no_redirects")


async def _bearer(services: Services, user_id: int) -> dict[str, str]:
    raw = new_token(TOKEN_PREFIX)
    async with services.db.session(write=True) as session:
        session.add(ApiToken(user_id=user_id, name="test", token_hash=hash_token(raw), prefix=raw[:8]))
    return {"Authorization": f"Bearer {raw}"}


async def test_me_with_a_session(client: Client, services: Services) -> None:
    user = await create_user(services, username="amy", email="amy@example.test", role=Role.ADMIN, verified=False)
    await login(client, "amy", DEFAULT_PASSWORD)
    response = await client.get("/api/v1/me")
    assert response.status_code == 200
    assert response.json() == {
        "id": user.id,
        "username": "amy",
        "email": "amy@example.test",
        "role": "admin",
        "email_verified": False,
        "settings": {"display_name": "", "timezone": "UTC", "page_size": 25, "email_notifications": True},
    }


async def test_me_needs_authentication(client: Client) -> None:
    response = await client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.json()["error"]
    bogus = await client.get("/api/v1/me", headers={"Authorization": "Bearer sg_not-a-real-token"})
    assert bogus.status_code == 401


async def test_patch_with_a_bearer_token_is_visible_on_the_next_read(client: Client, services: Services) -> None:
    user = await create_user(services, username="ben")
    headers = await _bearer(services, user.id)
    assert (await client.get("/api/v1/me", headers=headers)).json()["settings"]["page_size"] == 25  # now cached
    response = await client.patch("/api/v1/me/settings", json={"page_size": 40}, headers=headers)
    assert response.status_code == 200
    assert response.json() == {"display_name": "", "timezone": "UTC", "page_size": 40, "email_notifications": True}
    assert (await client.get("/api/v1/me", headers=headers)).json()["settings"]["page_size"] == 40
    await client.patch("/api/v1/me/settings", json={"timezone": "Asia/Tokyo", "display_name": " Ben "}, headers=headers)
    settings = (await client.get("/api/v1/me", headers=headers)).json()["settings"]
    assert settings == {"display_name": "Ben", "timezone": "Asia/Tokyo", "page_size": 40, "email_notifications": True}
    events = await audit_actions(services, user.id)
    assert events.count(AuditAction.SETTINGS_CHANGED) == 2


async def test_reads_come_from_the_cache(client: Client, services: Services) -> None:
    user = await create_user(services, username="cleo")
    headers = await _bearer(services, user.id)
    await client.get("/api/v1/me", headers=headers)
    async with services.db.session(write=True) as session:  # behind the application's back
        await session.execute(update(UserSettings).where(UserSettings.user_id == user.id).values(page_size=99))
    assert (await client.get("/api/v1/me", headers=headers)).json()["settings"]["page_size"] == 25
    assert services.cache.stats["settings"].hits >= 1
    await client.patch("/api/v1/me/settings", json={"display_name": "Cleo"}, headers=headers)
    assert (await client.get("/api/v1/me", headers=headers)).json()["settings"] == {
        "display_name": "Cleo",
        "timezone": "UTC",
        "page_size": 99,
        "email_notifications": True,
    }


async def test_patch_with_a_session_needs_the_csrf_header(client: Client, services: Services) -> None:
    await create_user(services, username="dora")
    await login(client, "dora", DEFAULT_PASSWORD)
    refused = await client.patch("/api/v1/me/settings", json={"page_size": 30})
    assert refused.status_code == 403
    accepted = await send_json(client, "PATCH", "/api/v1/me/settings", {"page_size": 30})
    assert accepted.status_code == 200 and accepted.json()["page_size"] == 30


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"page_size": 9}, 422, "page_size"),
        ({"page_size": 101}, 422, "page_size"),
        ({"page_size": "abc"}, 400, "page_size"),
        ({"page_size": True}, 400, "page_size"),
        ({"timezone": "Not/AZone"}, 422, "timezone"),
        ({"display_name": "x" * 81}, 422, "display_name"),
        ({"display_name": "nul\x00byte"}, 422, "display_name"),
        ({"timezone": "UTC\x00"}, 422, "timezone"),
        ({"page_size": 10**30}, 422, "page_size"),
        ({"email_notifications": "yes"}, 400, "email_notifications"),
        ({"colour": "blue"}, 400, None),
        ([1, 2], 400, None),
    ],
)
async def test_patch_validation(
    client: Client, services: Services, body: object, status: int, field: str | None
) -> None:
    user = await create_user(services, username="eve")
    headers = await _bearer(services, user.id)
    response = await client.patch("/api/v1/me/settings", json=body, headers=headers)
    assert response.status_code == status, response.text
    payload = response.json()
    assert payload["error"]
    if field is not None:
        assert field in payload["detail"], payload
    assert (await client.get("/api/v1/me", headers=headers)).json()["settings"]["page_size"] == 25
    assert AuditAction.SETTINGS_CHANGED not in await audit_actions(services, user.id)


async def test_patch_is_rate_limited_by_the_settings_category(
    tmp_path: Path, database_url: str, services: Services
) -> None:
    settings = make_settings(tmp_path, database_url, rate_limit_settings="2/minute")
    limited = Services.build(settings)
    try:
        async with app_client(create_app(settings, services=limited)) as client:
            user = await create_user(limited, username="finn")
            headers = await _bearer(limited, user.id)
            for size in (20, 30):
                assert (await client.patch("/api/v1/me/settings", json={"page_size": size}, headers=headers)).is_success
            refused = await client.patch("/api/v1/me/settings", json={"page_size": 40}, headers=headers)
            assert refused.status_code == 429
            assert refused.json()["detail"]["category"] == "settings"
            assert "Retry-After" in refused.headers and refused.headers["RateLimit-Limit"] == "2"
            assert (await client.get("/api/v1/me", headers=headers)).json()["settings"]["page_size"] == 30
    finally:
        await limited.close()


async def test_deactivated_token_owner_is_refused(client: Client, services: Services) -> None:
    user = await create_user(services, username="gus")
    headers = await _bearer(services, user.id)
    assert (await client.get("/api/v1/me", headers=headers)).status_code == 200
    async with services.db.session(write=True) as session:
        await session.execute(update(User).where(User.id == user.id).values(is_active=False))
    await forget_user(services, user.id)
    assert (await client.get("/api/v1/me", headers=headers)).status_code == 401
    patch = await client.patch("/api/v1/me/settings", json={"page_size": 30}, headers=headers)
    assert patch.status_code == 401


async def test_openapi_documents_the_schemas(client: Client) -> None:
    schema = (await client.get("/api/docs/openapi.json")).json()
    assert "/api/v1/me" in schema["paths"] and "/api/v1/me/settings" in schema["paths"]
    components = schema["components"]["schemas"]
    assert {"MeOut", "UserSettingsOut", "UserSettingsPatch"} <= set(components)
    page_size = components["UserSettingsPatch"]["properties"]["page_size"]
    assert "10 to 100" in str(page_size)
