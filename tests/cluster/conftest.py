"""A cluster of real Spyglass processes for the shared-state tests: four ``spyglass web`` processes on distinct
loopback ports and one ``spyglass worker``, sharing a throwaway PostgreSQL database and a Redis database."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from redis import Redis
from scripts.cluster.processes import Supervisor, free_port
from scripts.cluster.spyglass import CLUSTER_SECRET, launch_web, spyglass_env, start_worker, wait_for_web

from spyglass.config import Settings
from spyglass.core.migrations import run_coroutine_blocking
from spyglass.core.services import Services
from tests.conftest import make_settings
from tests.support.databases import create_postgres_database

#: The API limit every web process enforces; small, so the tests reach it quickly.
API_LIMIT = 12
#: A Redis database of its own, emptied before the cluster starts.
CLUSTER_REDIS_DB = 7


@dataclass
class Cluster:
    """The running processes' addresses and the URLs of what they share."""

    web_urls: list[str]
    database_url: str
    redis_url: str
    supervisor: Supervisor


def wants_postgresql(config: pytest.Config) -> bool:
    return "postgresql" in [name.strip() for name in str(config.getoption("--db")).split(",")]


@pytest.fixture(scope="module")
def cluster(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, worker_id: str
) -> Iterator[Cluster]:
    if not wants_postgresql(request.config):
        pytest.skip("the cluster runs on PostgreSQL (not chosen with --db)")
    admin_url = request.getfixturevalue("postgres_admin_url")
    redis_url = request.getfixturevalue("redis_url").rsplit("/", 1)[0] + f"/{CLUSTER_REDIS_DB}"
    database_url = run_coroutine_blocking(lambda: create_postgres_database(admin_url, f"spyglass_cluster_{worker_id}"))
    Redis.from_url(redis_url).flushdb()
    root = tmp_path_factory.mktemp("cluster")
    env = spyglass_env(
        database_url,
        redis_url,
        root / "data",
        rate_limit_api=f"{API_LIMIT}/minute",
        rate_limit_login="200/minute",
        rate_limit_settings="200/minute",
    )
    supervisor = Supervisor(root / "logs")
    try:
        ports = [free_port() for _ in range(4)]
        webs = [launch_web(supervisor, f"web-{number}", port, env) for number, port in enumerate(ports, start=1)]
        start_worker(supervisor, "worker-1", env)
        for web, port in zip(webs, ports, strict=True):
            wait_for_web(web, port)
        yield Cluster([f"http://127.0.0.1:{port}" for port in ports], database_url, redis_url, supervisor)
    finally:
        supervisor.stop_all()


@pytest.fixture
def settings(tmp_path: Path, cluster: Cluster) -> Settings:
    """Settings of this test process, on the cluster's database and Redis (to create users, enqueue runs)."""
    return make_settings(tmp_path, cluster.database_url, redis_url=cluster.redis_url, secret_key=CLUSTER_SECRET)


@pytest.fixture
async def services(settings: Settings) -> AsyncIterator[Services]:
    built = Services.build(settings)
    try:
        yield built
    finally:
        await built.close()
