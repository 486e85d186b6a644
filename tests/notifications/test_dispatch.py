"""The outbox and its dispatcher against a real SMTP server and a real webhook receiver."""

from __future__ import annotations

import asyncio
import json

from spyglass.core.services import Services
from spyglass.notifications import outbox
from spyglass.notifications.models import DeliveryStatus, NotificationStatus
from tests.notifications.helpers import deliveries, drain, emit, make_channel, notifications
from tests.support.factories import create_user
from tests.support.http_server import LocalHttpServer
from tests.support.smtp import SmtpServer, message_text

LISTING = {
    "search_id": 7,
    "search_name": "Road bikes",
    "listings": [
        {
            "id": 1,
            "title": "<script>alert('x')</script> Carbon road bike",
            "price": 950,
            "currency": "USD",
            "url": "https://shop.example/bike/1",
            "marketplace": "craigslist",
            "image": None,
        }
    ],
}


async def test_email_channel_receives_escaped_html_text_and_unsubscribe_headers(
    services: Services, smtp_server: SmtpServer
) -> None:
    ann = await create_user(services, username="ann", email="ann@example.com")
    await make_channel(services, ann, "email", ann.email, events={outbox.EVENT_NEW_LISTINGS: "instant"})
    await emit(services, ann.id, outbox.EVENT_NEW_LISTINGS, LISTING, key="search:7:run:1")

    assert await drain(services) == 1

    message = smtp_server.wait_for_message(to=ann.email)
    assert message["Subject"] == "1 new listing(s) for Road bikes"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["List-Unsubscribe"].startswith("<http://testserver.local/notifications/unsubscribe/")
    html_part = message.get_body(preferencelist=("html",))
    assert html_part is not None
    html = html_part.get_content()
    assert "&lt;script&gt;alert(" in html and "<script>" not in html
    assert 'style="' in html  # CSS inlined
    assert "950.00 USD" in message_text(message)
    [row] = await notifications(services)
    assert row.status == NotificationStatus.DELIVERED.value and row.delivered_at is not None
    [delivery] = await deliveries(services)
    assert delivery.status == DeliveryStatus.DELIVERED.value and delivery.attempt == 1


async def test_same_key_is_one_notification_and_one_message(services: Services, smtp_server: SmtpServer) -> None:
    ann = await create_user(services, username="ann", email="ann@example.com")
    await make_channel(services, ann, "email", ann.email, events={outbox.EVENT_PRICE_DROP: "instant"})
    payload = {"listing_id": 1, "title": "Lamp", "url": "https://shop.example/1", "old_price": 20, "new_price": 15}
    for _ in range(3):
        await emit(services, ann.id, outbox.EVENT_PRICE_DROP, payload, key="drop:1:15")
    await drain(services)
    await drain(services)
    assert len(await notifications(services)) == 1
    assert len(smtp_server.messages_to(ann.email)) == 1


async def test_apprise_webhook_gets_the_short_text_with_the_key_header(
    services: Services, webhook: LocalHttpServer
) -> None:
    bob = await create_user(services, username="bob", email="bob@example.com")
    url = f"json://127.0.0.1:{webhook.port}/hook"
    channel = await make_channel(services, bob, "apprise", url, events={outbox.EVENT_SCAN_COMPLETED: "instant"})
    payload = {
        "scan_id": 3,
        "target_id": 2,
        "target_url": "https://bob.example",
        "risk_score": 64,
        "counts": {"high": 1, "low": 2},
        "top_findings": [{"title": "Missing CSP <img src=x>", "priority": 80}],
    }
    await emit(services, bob.id, outbox.EVENT_SCAN_COMPLETED, payload, key="scan:3")
    await drain(services)

    [request] = [r for r in webhook.requests if r.path == "/hook"]
    body = json.loads(request.body)
    assert body["title"] == "Scan completed for https://bob.example: risk 64/100"
    assert "Missing CSP <img src=x>" in body["message"]  # plain text: the receiver gets the text as written
    assert request.headers["x-spyglass-notification"] == f"scan:3/channel:{channel.id}"
    [delivery] = await deliveries(services)
    assert delivery.status == DeliveryStatus.DELIVERED.value


async def test_failing_webhook_is_retried_with_backoff_then_failed_with_reason(
    services: Services, webhook: LocalHttpServer
) -> None:
    bob = await create_user(services, username="bob", email="bob@example.com")
    await make_channel(
        services, bob, "apprise", f"json://127.0.0.1:{webhook.port}/down", events={outbox.EVENT_PRICE_DROP: "instant"}
    )
    await emit(services, bob.id, outbox.EVENT_PRICE_DROP, {"title": "Lamp"}, key="drop:2")
    attempts = services.settings.notifications_max_attempts
    for _ in range(attempts + 2):
        await drain(services)
        [row] = await notifications(services)
        if row.status != NotificationStatus.PENDING.value:
            break
        await asyncio.sleep(0.12)  # the test settings cap the backoff at 0.1 s
    [row] = await notifications(services)
    assert row.status == NotificationStatus.FAILED.value
    assert row.attempts == attempts
    assert webhook.hits("/down") == attempts
    [delivery] = await deliveries(services)
    assert delivery.status == DeliveryStatus.FAILED.value
    assert "did not accept" in (delivery.error or "") and "gave up after" in (delivery.error or "")


async def test_webhook_redirects_are_not_followed(services: Services, webhook: LocalHttpServer) -> None:
    bob = await create_user(services, username="bob", email="bob@example.com")
    url = f"json://127.0.0.1:{webhook.port}/moved"
    await make_channel(services, bob, "apprise", url, events={outbox.EVENT_PRICE_DROP: "instant"})
    await emit(services, bob.id, outbox.EVENT_PRICE_DROP, {"title": "Lamp"}, key="drop:3")
    await drain(services)
    assert webhook.hits("/moved") >= 1
    assert webhook.hits("/hook") == 0
    [delivery] = await deliveries(services)
    assert delivery.status == DeliveryStatus.RETRYING.value and "did not accept" in (delivery.error or "")


async def test_scan_report_email_escapes_finding_payloads(services: Services, smtp_server: SmtpServer) -> None:
    ann = await create_user(services, username="ann", email="ann@example.com")
    await make_channel(
        services,
        ann,
        "email",
        ann.email,
        events={outbox.EVENT_SCAN_COMPLETED: "instant", outbox.EVENT_HIGH_RISK_FINDING: "instant"},
    )
    payload = {
        "scan_id": 9,
        "target_id": 4,
        "target_url": "https://ann.example",
        "risk_score": 88,
        "counts": {"critical": 1, "high": 2, "low": 5},
        "top_findings": [
            {"title": "Reflected XSS in q=<script>alert(document.cookie)</script>", "priority": 97},
            {"title": "Missing HSTS", "priority": 40},
        ],
    }
    await emit(services, ann.id, outbox.EVENT_SCAN_COMPLETED, payload, key="scan:9")
    finding = {"scan_id": 9, "finding_id": 31, "title": "<img src=x onerror=alert(1)>", "priority": 97,
               "url": "https://ann.example/?q=<script>", "target_url": "https://ann.example"}  # fmt: skip
    await emit(services, ann.id, outbox.EVENT_HIGH_RISK_FINDING, finding, key="finding:31")
    await drain(services)

    by_subject = {str(m["Subject"]): m for m in smtp_server.messages_to(ann.email)}
    report = by_subject["Scan completed for https://ann.example: risk 88/100"]
    html = str(report.get_body(preferencelist=("html",)).get_content())  # type: ignore[union-attr]
    assert "<script>" not in html and "q=&lt;script&gt;alert(document.cookie)&lt;/script&gt;" in html
    assert "88/100" in html and ">critical</span>" in html and "http://testserver.local/scanner/scans/9" in html
    text = message_text(report)
    assert "- critical: 1" in text and "[97] Reflected XSS" in text
    alert = by_subject["High-risk finding: <img src=x onerror=alert(1)>"]
    alert_html = str(alert.get_body(preferencelist=("html",)).get_content())  # type: ignore[union-attr]
    assert "<img src=x" not in alert_html and "&lt;img src=x onerror=alert(1)&gt;" in alert_html
