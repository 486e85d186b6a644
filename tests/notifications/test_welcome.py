"""The welcome email goes out when a new account verifies its address: once, through real SMTP."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient

from spyglass.accounts import emails
from spyglass.core.services import Services
from tests.accounts.helpers import emailed_path, get_user, register, token_of
from tests.notifications.helpers import drain
from tests.support.smtp import SmtpServer, message_text
from tests.support.web import post_form

Client = AsyncTestClient[Litestar]


async def test_verifying_the_address_sends_the_welcome_email_once(
    client: Client, services: Services, smtp_server: SmtpServer
) -> None:
    assert (await register(client, "lena", "lena@example.com")).status_code == 201
    token = token_of(emailed_path(smtp_server, "lena@example.com"))
    assert len(smtp_server.messages_to("lena@example.com")) == 1  # registering alone does not welcome

    client.follow_redirects = False
    assert (await post_form(client, "/verify-email", {"token": token})).status_code == 303
    welcome = smtp_server.wait_for_message(to="lena@example.com", count=2)
    assert welcome["Subject"] == "Welcome to Spyglass"
    assert "lena" in message_text(welcome)

    # Queued again (a retried request, another verification): the account is welcomed only once.
    user = await get_user(services, "lena")
    async with services.db.session(write=True) as session:
        again = await emails.queue_welcome(session, services, user_id=user.id, to=user.email, username=user.username)
    await again()
    await drain(services)
    assert len(smtp_server.messages_to("lena@example.com")) == 2
