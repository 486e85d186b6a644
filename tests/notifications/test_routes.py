"""Channel pages and API: validation with clear messages, send test, delivery logs, unsubscribe and
address confirmation links, admin log, and tenant isolation."""

from __future__ import annotations

import json
from email.message import EmailMessage

import httpx
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from spyglass.audit.service import AuditAction
from spyglass.core.services import Services
from spyglass.notifications import outbox
from spyglass.notifications.models import Channel
from tests.accounts.helpers import audit_actions
from tests.conftest import BASE_URL
from tests.notifications.helpers import drain, emit, make_channel
from tests.support.factories import DEFAULT_PASSWORD, create_user
from tests.support.http_server import LocalHttpServer
from tests.support.smtp import SmtpServer, first_link
from tests.support.tenancy import assert_isolated
from tests.support.web import login, post_form, send_json

Client = AsyncTestClient[Litestar]


def html_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None
    return str(part.get_content())


async def channel_row(services: Services, channel_id: int) -> Channel:
    async with services.db.session() as session:
        channel = await session.get(Channel, channel_id)
        assert channel is not None
        return channel


async def test_bad_channel_targets_are_refused_with_a_reason(client: Client, services: Services) -> None:
    await create_user(services, username="ann", email="ann@example.com")
    await login(client, "ann", DEFAULT_PASSWORD)
    cases = [
        ("apprise", "foo://bar", "Apprise does not understand that URL"),
        ("apprise", "json://10.1.2.3/hook", "private-network address"),
        ("apprise", "mailto://u:p@gmail.com", "Use an email channel"),
        ("apprise", "json://hook with space", "not an Apprise URL"),
        ("email", "not-an-address", "not an email address"),
        ("sms", "x", "Unknown channel kind"),
    ]
    for kind, target, message in cases:
        page = await post_form(client, "/notifications/channels", {"kind": kind, "label": "x", "target": target})
        assert page.status_code == 422, (target, page.status_code)
        assert message in page.text, (target, page.text[:500])
        api = await send_json(
            client, "POST", "/api/v1/notifications/channels", {"kind": "apprise", "label": "x", "target": target}
        )
        assert api.status_code in (400, 422) and api.json()["error"], (target, api.text)
    empty_label = await send_json(
        client, "POST", "/api/v1/notifications/channels", {"kind": "email", "label": "", "target": "a@example.com"}
    )
    assert empty_label.status_code == 400
    unknown_event = await send_json(
        client,
        "POST",
        "/api/v1/notifications/channels",
        {"kind": "email", "label": "x", "target": "ann@example.com", "subscriptions": {"admin.alert": "instant"}},
    )
    assert unknown_event.status_code == 422 and "Unknown event" in unknown_event.json()["error"]
    async with services.db.session() as session:
        assert (await session.scalars(select(Channel))).all() == []


async def test_secret_in_apprise_url_is_never_shown(
    client: Client, services: Services, webhook: LocalHttpServer
) -> None:
    await create_user(services, username="ann", email="ann@example.com")
    await login(client, "ann", DEFAULT_PASSWORD)
    url = f"json://hookuser:s3cret-pass@127.0.0.1:{webhook.port}/hook"
    created = await send_json(
        client, "POST", "/api/v1/notifications/channels", {"kind": "apprise", "label": "hook", "target": url}
    )
    assert created.status_code == 201, created.text
    assert "s3cret-pass" not in created.text and created.json()["target"].startswith("json://hookuser:")
    for path in ("/notifications", f"/notifications/channels/{created.json()['id']}", "/api/v1/notifications/channels"):
        response = await client.get(path)
        assert response.status_code == 200 and "s3cret-pass" not in response.text


async def test_send_test_button_delivers_and_the_log_shows_it(
    client: Client, services: Services, webhook: LocalHttpServer
) -> None:
    await create_user(services, username="ann", email="ann@example.com")
    await login(client, "ann", DEFAULT_PASSWORD)
    added = await post_form(
        client,
        "/notifications/channels",
        {"kind": "apprise", "label": "My hook", "target": f"json://127.0.0.1:{webhook.port}/hook"},
        follow_redirects=False,
    )
    assert added.status_code == 303
    channel_id = int(added.headers["location"].rsplit("/", 1)[-1])
    tested = await post_form(client, f"/notifications/channels/{channel_id}/test", follow_redirects=False)
    assert tested.status_code == 303
    [request] = [r for r in webhook.requests if r.path == "/hook"]
    assert json.loads(request.body)["title"] == "Spyglass test notification"
    log = await client.get("/api/v1/notifications/deliveries")
    [entry] = log.json()["items"]
    assert entry["status"] == "delivered" and entry["event"] == "channel.test" and entry["channel"] == "My hook"
    page = await client.get("/notifications/deliveries")
    assert 'data-status="delivered"' in page.text and "My hook" in page.text
    deleted = await post_form(client, f"/notifications/channels/{channel_id}/delete", follow_redirects=False)
    assert deleted.status_code == 303
    assert [a for a in await audit_actions(services) if a.startswith("notifications.")] == [
        AuditAction.CHANNEL_ADDED,
        AuditAction.CHANNEL_DELETED,
    ]
    [kept] = (await client.get("/api/v1/notifications/deliveries")).json()["items"]
    assert kept["channel_id"] is None and kept["channel"] == "My hook"  # the log outlives the channel


async def test_edit_subscriptions_quiet_hours_with_validation(client: Client, services: Services) -> None:
    ann = await create_user(services, username="ann", email="ann@example.com")
    await login(client, "ann", DEFAULT_PASSWORD)
    channel = await make_channel(services, ann, "email", "ann@example.com")
    form = {"label": "Inbox", "enabled": "true", f"event:{outbox.EVENT_PRICE_DROP}": "digest", "timezone": "UTC"}
    bad = await post_form(
        client, f"/notifications/channels/{channel.id}", {**form, "quiet_start": "25:00", "quiet_end": "07:00"}
    )
    assert bad.status_code == 422 and "between 00:00 and 23:59" in bad.text
    half = await post_form(client, f"/notifications/channels/{channel.id}", {**form, "quiet_start": "22:00"})
    assert half.status_code == 422 and "Fill in both times" in half.text
    zone = await post_form(client, f"/notifications/channels/{channel.id}", {**form, "timezone": "Mars/Olympus"})
    assert zone.status_code == 422 and "Unknown time zone" in zone.text
    mode = await post_form(
        client, f"/notifications/channels/{channel.id}", {**form, f"event:{outbox.EVENT_PRICE_DROP}": "loud"}
    )
    assert mode.status_code == 422
    good = await post_form(
        client,
        f"/notifications/channels/{channel.id}",
        {**form, "quiet_start": "22:00", "quiet_end": "07:00", "timezone": "Europe/Paris"},
        follow_redirects=False,
    )
    assert good.status_code == 303
    saved = await channel_row(services, channel.id)
    assert saved.label == "Inbox" and saved.subscriptions == {outbox.EVENT_PRICE_DROP: "digest"}
    assert (saved.quiet_start_minute, saved.quiet_end_minute, saved.timezone) == (1320, 420, "Europe/Paris")
    patched = await send_json(
        client,
        "PATCH",
        f"/api/v1/notifications/channels/{channel.id}",
        {"quiet_start": "", "quiet_end": "", "enabled": False},
    )
    assert patched.status_code == 200 and patched.json()["quiet_hours"]["start"] is None
    assert patched.json()["enabled"] is False


async def test_one_click_unsubscribe_from_the_email_works_without_login(
    client: Client, services: Services, smtp_server: SmtpServer, app: Litestar
) -> None:
    ann = await create_user(services, username="ann", email="ann@example.com")
    channel = await make_channel(
        services,
        ann,
        "email",
        "ann@example.com",
        events={outbox.EVENT_PRICE_DROP: "instant", outbox.EVENT_NEW_LISTINGS: "instant"},
    )
    await emit(services, ann.id, outbox.EVENT_PRICE_DROP, {"title": "Lamp", "old_price": 3, "new_price": 2}, "drop:1")
    await drain(services)
    message = smtp_server.wait_for_message(to="ann@example.com")
    link = message["List-Unsubscribe"].strip("<>")
    assert link.startswith(BASE_URL) and link in html_of(message)
    path = link.removeprefix(BASE_URL)
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as mail_client:
        forged = await mail_client.post(path[:-3] + "AAA", data={"List-Unsubscribe": "One-Click"})
        assert forged.status_code == 404
        assert (await channel_row(services, channel.id)).subscriptions[outbox.EVENT_PRICE_DROP] == "instant"
        page = await mail_client.get(path)
        assert page.status_code == 200 and "Stop these notifications?" in page.text
        assert outbox.EVENT_PRICE_DROP in (await channel_row(services, channel.id)).subscriptions  # GET changes nothing
        done = await mail_client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200 and "no longer receives price drops" in done.text
    assert AuditAction.UNSUBSCRIBED in await audit_actions(services, ann.id)
    assert (await channel_row(services, channel.id)).subscriptions == {outbox.EVENT_NEW_LISTINGS: "instant"}
    await emit(services, ann.id, outbox.EVENT_PRICE_DROP, {"title": "Lamp", "old_price": 2, "new_price": 1}, "drop:2")
    await drain(services)
    assert len(smtp_server.messages_to("ann@example.com")) == 1


async def test_other_address_must_be_confirmed_before_it_receives(
    client: Client, services: Services, smtp_server: SmtpServer
) -> None:
    await create_user(services, username="ann", email="ann@example.com")
    await login(client, "ann", DEFAULT_PASSWORD)
    added = await post_form(
        client, "/notifications/channels", {"kind": "email", "label": "Work", "target": "Ann.Work@Example.com"}
    )
    assert added.status_code == 200 and "confirmation link" in added.text
    confirmation = smtp_server.wait_for_message(to="ann.work@example.com")
    link = first_link(confirmation)
    async with services.db.session() as session:
        [channel] = (await session.scalars(select(Channel))).all()
    assert not channel.verified
    test = await post_form(client, f"/notifications/channels/{channel.id}/test")
    assert test.status_code == 409 and "Confirm this email address first" in test.text
    path = link.removeprefix(BASE_URL)
    assert (await post_form(client, path[:-4] + "0000")).status_code == 404
    confirmed = await post_form(client, path)
    assert confirmed.status_code == 200 and "is confirmed" in confirmed.text
    assert (await channel_row(services, channel.id)).verified


async def test_channels_are_isolated_between_users(client: Client, services: Services, app: Litestar) -> None:
    ann = await create_user(services, username="ann", email="ann@example.com")
    await create_user(services, username="bob", email="bob@example.com")
    channel = await make_channel(services, ann, "email", "ann@example.com")
    await emit(services, ann.id, outbox.EVENT_CHANNEL_TEST, {"channel_id": channel.id, "label": "x"}, "t:1")
    await drain(services)
    await login(client, "bob", DEFAULT_PASSWORD)

    async def untouched() -> None:
        row = await channel_row(services, channel.id)
        assert row.label == "email channel" and row.enabled

    await assert_isolated(
        client,
        [
            ("GET", f"/api/v1/notifications/channels/{channel.id}", None),
            ("PATCH", f"/api/v1/notifications/channels/{channel.id}", {"label": "mine", "enabled": False}),
            ("DELETE", f"/api/v1/notifications/channels/{channel.id}", None),
            ("POST", f"/api/v1/notifications/channels/{channel.id}/test", {}),
            ("GET", f"/notifications/channels/{channel.id}", None),
            ("POST", f"/notifications/channels/{channel.id}", {"label": "mine"}),
            ("POST", f"/notifications/channels/{channel.id}/test", {}),
            ("POST", f"/notifications/channels/{channel.id}/delete", {}),
        ],
        unchanged=untouched,
        secrets=["ann@example.com"],
    )
    assert (await client.get("/api/v1/notifications/channels")).json()["items"] == []
    assert (await client.get("/api/v1/notifications/deliveries")).json()["items"] == []
    assert "ann@example.com" not in (await client.get("/notifications")).text
    assert (await client.get("/admin/notifications")).status_code == 404
    assert (await client.get("/api/v1/admin/notifications/deliveries")).status_code in (403, 404)


async def test_admin_sees_every_delivery_and_filters_by_status(client: Client, services: Services) -> None:
    from spyglass.accounts.models import Role

    ann = await create_user(services, username="ann", email="ann@example.com")
    await create_user(services, username="root", email="root@example.com", role=Role.ADMIN)
    channel = await make_channel(services, ann, "email", "ann@example.com")
    await emit(services, ann.id, outbox.EVENT_CHANNEL_TEST, {"channel_id": channel.id, "label": "x"}, "t:1")
    await drain(services)
    await login(client, "root", DEFAULT_PASSWORD)
    page = await client.get("/admin/notifications")
    assert page.status_code == 200 and 'data-status="delivered"' in page.text
    api = await client.get("/api/v1/admin/notifications/deliveries", params={"status": "delivered"})
    assert [(e["user_id"], e["event"]) for e in api.json()["items"]] == [(ann.id, "channel.test")]
    assert (await client.get("/api/v1/admin/notifications/deliveries", params={"status": "failed"})).json()[
        "items"
    ] == []
    bad = await client.get("/api/v1/admin/notifications/deliveries", params={"status": "nope"})
    assert bad.status_code == 422
