"""The whole JSON API fuzzed from its OpenAPI schema: whatever schemathesis sends (schema examples,
boundary and invalid values from its coverage phase, random valid and invalid input), no answer is a
5xx or shows a traceback.

It runs schemathesis' engine (what ``schemathesis run`` uses: examples, coverage and fuzzing phases,
at most ``MAX_EXAMPLES`` generated cases per operation) against the ASGI app, signed in as an admin
so the admin API is exercised too. Every request gets a fresh API token: the fuzzer is free to revoke
whatever token it finds (``DELETE /api/v1/tokens/1``), and the run must keep testing past that.

SQLite only: schemathesis serves the app on its own event loop in a helper thread, and the tokens
are written with the synchronous ``sqlite3`` module outside that loop. What this test looks for
(validation and error rendering of every route) is the same code on both backends; the PostgreSQL
paths of each endpoint are covered by the feature tests, which run on both.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from schemathesis import AuthContext, Case, CheckContext
from schemathesis.engine import Status, events, from_schema
from schemathesis.python import asgi

from spyglass.accounts.auth import hash_token
from spyglass.accounts.models import Role
from spyglass.accounts.token_service import DISPLAY_PREFIX_LENGTH, new_secret
from spyglass.app import create_app
from spyglass.config import Settings
from spyglass.core.db import utcnow
from spyglass.core.services import Services
from tests.conftest import make_settings
from tests.support.databases import sqlite_copy
from tests.support.factories import create_user

pytestmark = pytest.mark.slow
MAX_EXAMPLES = 20


@schemathesis.check
def no_traceback_in_body(ctx: CheckContext, response: Any, case: Case) -> bool | None:
    """No answer shows Python internals."""
    text = response.text
    assert "Traceback (most recent call last)" not in text, "the response shows a Python traceback"
    assert 'File "/' not in text, "the response shows a source file path"
    return None


class FreshTokens:
    """Issues a new API token for the admin before every request, written straight to the database."""

    def __init__(self, database: Path, user_id: int) -> None:
        self.database = database
        self.user_id = user_id
        self.issued = 0

    def get(self, case: Case, ctx: AuthContext) -> str:
        secret = new_secret()
        with sqlite3.connect(self.database) as connection:
            connection.execute(
                "INSERT INTO api_tokens (user_id, name, token_hash, prefix, created_at) VALUES (?, ?, ?, ?, ?)",
                (
                    self.user_id,
                    f"schemathesis {self.issued}",
                    hash_token(secret),
                    secret[:DISPLAY_PREFIX_LENGTH],
                    utcnow().replace(tzinfo=None).isoformat(sep=" "),
                ),
            )
        self.issued += 1
        return secret

    def set(self, case: Case, data: str, ctx: AuthContext) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


async def _create_admin(settings: Settings) -> int:
    services = Services.build(settings)  # its own services: the app runs on schemathesis' event loop
    try:
        return (await create_user(services, username="fuzzer", role=Role.ADMIN)).id
    finally:
        await services.close()


@pytest.fixture
def fuzzed_app(tmp_path: Path, sqlite_template: Path) -> Iterator[tuple[Any, FreshTokens]]:
    """The app on a fresh SQLite database with an admin, and the token issuer for that admin."""
    database_url = sqlite_copy(sqlite_template, tmp_path)
    settings = make_settings(tmp_path, database_url, rate_limit_enabled=False, log_level="WARNING")
    tokens = FreshTokens(tmp_path / "spyglass.db", asyncio.run(_create_admin(settings)))
    app = create_app(settings, services=Services.build(settings))
    try:
        yield app, tokens
    finally:
        asgi.shutdown_lifespans()  # the app's shutdown: closes its database pool and cache


def test_no_operation_answers_5xx(fuzzed_app: tuple[Any, FreshTokens]) -> None:
    app, tokens = fuzzed_app
    schema = schemathesis.openapi.from_asgi("/api/docs/openapi.json", app)
    schema.config.checks.update(included_check_names=["not_a_server_error", "no_traceback_in_body"])
    schema.config.phases.update(phases=["examples", "coverage", "fuzzing"])
    schema.config.generation.update(max_examples=MAX_EXAMPLES, deterministic=True)

    class Provider(FreshTokens):  # schemathesis instantiates providers without arguments
        def __init__(self) -> None:
            super().__init__(tokens.database, tokens.user_id)

    schema.auth(refresh_interval=300)(Provider)  # a new token whenever the current one gets a 401

    statuses: Counter[int] = Counter()
    tested: set[str] = set()
    problems: list[str] = []
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished) and event.status != Status.SKIP:
            tested.add(event.recorder.label)
            statuses.update(i.response.status_code for i in event.recorder.interactions.values() if i.response)
            for checks in event.recorder.checks.values():
                problems.extend(
                    f"{event.recorder.label}: {check.name}: {check.failure_info.failure.title}\n"
                    f"  {check.failure_info.code_sample}"
                    for check in checks
                    if check.status == Status.FAILURE and check.failure_info is not None
                )
        elif isinstance(event, events.NonFatalError | events.FatalError):
            problems.append(f"schemathesis error: {event!r}"[:1000])
        elif isinstance(event, events.EngineFinished):
            assert event.stop_reason.value == "completed", event.stop_reason

    assert not problems, "\n".join(problems[:20])
    assert {"POST /api/v1/tokens", "GET /api/v1/tokens", "DELETE /api/v1/tokens/{token_id}"} <= tested
    assert not [code for code in statuses if code >= 500]
    # The run really exercised the API as a signed-in admin, not just its 401 answers.
    assert statuses[200] + statuses[201] + statuses[204] > 100, statuses
