"""The ``feedback`` rate limit: only accepted messages count, and past it the page and the API answer 429."""

from __future__ import annotations

from pathlib import Path

import pytest

from spyglass.config import Settings
from spyglass.core.services import Services
from tests.conftest import make_settings
from tests.feedback.conftest import Client, all_feedback
from tests.support.web import post_form, send_json

GOOD = {"kind": "bug", "message": "It broke.", "rating": "3"}


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url, rate_limit_feedback="2/hour")


async def test_only_accepted_feedback_counts_and_each_user_has_their_own_window(
    services: Services, alice_client: Client, bob_client: Client
) -> None:
    assert (await post_form(alice_client, "/feedback", {"kind": "bug", "message": ""})).status_code == 422
    for _ in range(2):
        assert (await post_form(alice_client, "/feedback", GOOD)).status_code == 303
    refused = await post_form(alice_client, "/feedback", GOOD)
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) > 0
    assert "You have sent 2 messages recently" in refused.text and "try again in 60 minutes" in refused.text
    assert "It broke.</textarea>" in refused.text  # the form comes back with what was typed
    api = await send_json(alice_client, "POST", "/api/v1/feedback", {"kind": "bug", "message": "again"})
    assert api.status_code == 429 and api.json()["detail"]["category"] == "feedback"
    assert (await post_form(bob_client, "/feedback", GOOD)).status_code == 303
    assert len(await all_feedback(services)) == 3
