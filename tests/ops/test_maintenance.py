"""``spyglass db maintain`` on both backends, and the retention jobs (old runs, gone listings) run by the engine."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from spyglass.cli import app
from spyglass.core.db import utcnow
from spyglass.core.retention import LISTINGS_KIND, RUNS_KIND
from spyglass.core.services import Services
from spyglass.engine import service as engine
from spyglass.engine.kinds import SYSTEM_SCHEDULES
from spyglass.engine.models import Run, RunStatus
from spyglass.engine.runner import Runner
from spyglass.market.models import Favorite, Listing, ListingStatus, PriceHistory
from tests.conftest import make_settings
from tests.support.factories import create_user

runner = CliRunner()


async def test_maintain_vacuums_and_analyzes_or_checkpoints(
    services: Services, cli_env: Callable[[str], Path], database_url: str
) -> None:
    for number in range(30):
        await create_user(services, username=f"maint{number}")
    async with services.db.session(write=True) as session:  # dead rows (PostgreSQL) / WAL frames (SQLite)
        await session.execute(text("DELETE FROM user_settings"))
        await session.execute(text("DELETE FROM users WHERE username LIKE 'maint1%'"))
    await services.db.dispose()
    cli_env(database_url)

    result = runner.invoke(app, ["db", "maintain"])

    assert result.exit_code == 0, result.output
    if services.db.backend == "sqlite":
        assert "PRAGMA optimize" in result.stdout
        assert "WAL checkpoint: complete, WAL truncated" in result.stdout
        wal = Path(f"{make_url(database_url).database}-wal")
        assert not wal.exists() or wal.stat().st_size == 0
    else:
        assert "VACUUM (ANALYZE)" in result.stdout
        async with services.db.session() as session:
            vacuumed, analyzed, dead = (
                await session.execute(
                    text(
                        "SELECT last_vacuum, last_analyze, n_dead_tup FROM pg_stat_user_tables WHERE relname = 'users'"
                    )
                )
            ).one()
        assert vacuumed is not None and analyzed is not None
        assert dead == 0


def test_maintain_without_a_database_says_so(cli_env: Callable[[str], Path], tmp_path: Path) -> None:
    cli_env(f"sqlite+aiosqlite:///{tmp_path / 'missing.db'}")
    result = runner.invoke(app, ["db", "maintain"])
    assert result.exit_code == 1
    assert "no database at" in result.stderr
    assert "Traceback" not in result.output


async def execute(services: Services, kind: str) -> Run:
    """Queue a system run of ``kind`` and execute it with the engine's real runner."""
    async with services.db.session(write=True) as session:
        run_id = (await engine.enqueue_run(session, kind=kind, user_id=None)).id
    await Runner(services, concurrency=1, mode="embedded").execute(run_id)
    async with services.db.session() as session:
        run = await session.get(Run, run_id)
    assert run is not None and run.status == RunStatus.SUCCEEDED.value, run and run.error
    return run


async def test_run_retention_deletes_old_finished_runs_in_batches(tmp_path: Path, database_url: str) -> None:
    services = Services.build(make_settings(tmp_path, database_url, retention_runs_days=90, retention_batch_size=2))
    try:
        now = utcnow()
        long_ago, recently = now - timedelta(days=91), now - timedelta(days=89)
        async with services.db.session(write=True) as session:
            for status in (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED, RunStatus.SUCCEEDED):
                session.add(Run(kind="engine.probe", status=status.value, created_at=long_ago, finished_at=long_ago))
            session.add(Run(kind="engine.probe", status="succeeded", created_at=long_ago, finished_at=recently))
            session.add(Run(kind="engine.probe", status="running", created_at=long_ago, started_at=long_ago))
            session.add(Run(kind="engine.probe", status="queued", created_at=long_ago))

        first = await execute(services, RUNS_KIND)
        again = await execute(services, RUNS_KIND)  # nothing left to delete: a rerun is harmless

        async with services.db.session() as session:
            left = sorted((await session.execute(select(Run.kind, Run.status))).tuples().all())
        assert first.stats == {"deleted": 4}
        assert again.stats == {"deleted": 0}
        # The recent run, the unfinished ones and the two retention runs themselves remain.
        assert left == [
            ("engine.probe", "queued"),
            ("engine.probe", "running"),
            ("engine.probe", "succeeded"),
            (RUNS_KIND, "succeeded"),
            (RUNS_KIND, "succeeded"),
        ]
    finally:
        await services.close()


async def test_listing_retention_deletes_long_gone_listings_with_their_rows(tmp_path: Path, database_url: str) -> None:
    services = Services.build(
        make_settings(tmp_path, database_url, retention_gone_listings_days=30, retention_batch_size=2)
    )
    try:
        user = await create_user(services)
        now = utcnow()
        cases = {
            "gone-long-ago-1": (ListingStatus.GONE, now - timedelta(days=31)),
            "gone-long-ago-2": (ListingStatus.GONE, now - timedelta(days=40)),
            "gone-long-ago-3": (ListingStatus.GONE, now - timedelta(days=400)),
            "gone-lately": (ListingStatus.GONE, now - timedelta(days=29)),
            "active-old": (ListingStatus.ACTIVE, now - timedelta(days=400)),
        }
        async with services.db.session(write=True) as session:
            for external_id, (status, seen) in cases.items():
                listing = Listing(
                    marketplace="jsonld",
                    external_id=external_id,
                    url=f"https://shop.example.test/{external_id}",
                    title=external_id,
                    status=status.value,
                    first_seen_at=seen,
                    last_seen_at=seen,
                )
                session.add(listing)
                await session.flush()
                session.add(PriceHistory(listing_id=listing.id, observed_at=seen))
                session.add(Favorite(user_id=user.id, listing_id=listing.id))

        first = await execute(services, LISTINGS_KIND)
        again = await execute(services, LISTINGS_KIND)

        async with services.db.session() as session:
            kept = sorted((await session.scalars(select(Listing.external_id))).all())
            history = await session.scalar(select(func.count()).select_from(PriceHistory))
            favorites = await session.scalar(select(func.count()).select_from(Favorite))
        assert first.stats == {"deleted": 3} and again.stats == {"deleted": 0}
        assert kept == ["active-old", "gone-lately"]
        assert history == 2 and favorites == 2  # the foreign keys cascade
    finally:
        await services.close()


def test_retention_jobs_run_every_hour() -> None:
    assert SYSTEM_SCHEDULES[RUNS_KIND] == 3600
    assert SYSTEM_SCHEDULES[LISTINGS_KIND] == 3600
