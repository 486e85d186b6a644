"""Test harness: real SQLite and PostgreSQL (a throwaway cluster), real Redis, the real app.

Tests that use the ``database_url`` fixture (directly or through ``settings``,
``services``, ``app`` or ``client``) run once per backend chosen with
``--db`` (default ``sqlite,postgresql``; or ``SPYGLASS_TEST_DBS``).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from spyglass.app import create_app
from spyglass.config import Settings
from spyglass.core.migrations import run_coroutine_blocking
from spyglass.core.services import Services
from tests.support.client import app_client
from tests.support.databases import create_postgres_database, migrated_sqlite_template, sqlite_copy, truncate_all
from tests.support.servers import postgres_server, redis_server

pytest_plugins = ["tests.support.smtp", "tests.support.people"]

TEST_SECRET = "test-secret-key-0123456789-abcdefghijklmnop"
BASE_URL = "http://testserver.local"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db",
        default=os.environ.get("SPYGLASS_TEST_DBS", "sqlite,postgresql"),
        help="comma-separated database backends to run database tests on",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "db_backend" in metafunc.fixturenames:
        backends = [b.strip() for b in metafunc.config.getoption("--db").split(",") if b.strip()]
        only = metafunc.definition.get_closest_marker("backends")
        if only is not None:  # @pytest.mark.backends("postgresql"): a test that needs one backend
            backends = [backend for backend in backends if backend in only.args]
        metafunc.parametrize("db_backend", backends, scope="function")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return migrated_sqlite_template(tmp_path_factory.mktemp("sqlite-template"))


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture(scope="session")
def postgres_url(postgres_admin_url: str, worker_id: str) -> str:
    name = f"spyglass_test_{worker_id}"
    return run_coroutine_blocking(lambda: create_postgres_database(postgres_admin_url, name))


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    with redis_server() as url:
        yield url


@pytest.fixture
async def database_url(db_backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """A migrated, empty database of the parametrized backend."""
    if db_backend == "sqlite":
        yield sqlite_copy(request.getfixturevalue("sqlite_template"), tmp_path)
        return
    url = request.getfixturevalue("postgres_url")
    try:
        yield url
    finally:
        await truncate_all(url)


def make_settings(tmp_path: Path, database_url: str, **overrides: object) -> Settings:
    """Settings for a test app: its own data folder and database, a fixed secret."""
    values: dict[str, object] = {
        "environment": "development",
        "data_dir": tmp_path,
        "database_url": database_url,
        "secret_key": TEST_SECRET,
        "base_url": BASE_URL,
        "log_format": "console",
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url)


@pytest.fixture
async def services(settings: Settings) -> AsyncIterator[Services]:
    built = Services.build(settings)
    try:
        yield built
    finally:
        await built.close()


@pytest.fixture
def app(settings: Settings, services: Services) -> Litestar:
    return create_app(settings, services=services)


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """An httpx client calling the app in this event loop (see tests/support/client.py); typed as
    Litestar's test client for the tests' annotations, which use only the httpx API."""
    async with app_client(app, base_url=BASE_URL) as test_client:
        yield test_client  # type: ignore[misc]
