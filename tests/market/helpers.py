"""Helpers for market tests: API clients per user, searches, running the market.search job for real."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select

from spyglass.accounts.auth import hash_token
from spyglass.accounts.models import ApiToken, User
from spyglass.config import Settings
from spyglass.core.security import new_token
from spyglass.core.services import Services
from spyglass.engine import service as engine
from spyglass.engine.models import Run
from spyglass.engine.runner import Runner
from spyglass.market.models import Listing, ListingMatch, SavedSearch
from spyglass.market.service import SEARCH_KIND
from spyglass.market.simulator import Simulator
from tests.conftest import make_settings

#: The simulator's seed in these tests: its catalogue (titles, prices, site ids) is the same on every run.
SEED = 7


def market_settings(tmp_path: Path, database_url: str, **overrides: Any) -> Settings:
    """Test settings for searches of local servers: the URL policy lets them reach 127.0.0.1 (which it
    refuses unless allowed), with no politeness delay and no rate limits."""
    values: dict[str, Any] = {
        "allow_private_targets": "127.0.0.1/32,localhost",
        "http_per_host_delay_seconds": 0,
        "rate_limit_enabled": False,
    }
    return make_settings(tmp_path, database_url, **{**values, **overrides})


def simulated_market(step: int = 0, **options: Any) -> Simulator:
    """The marketplace simulator of ``SEED`` at ``step``, on a fixed epoch (``options``: e.g. ``page_size``)."""
    simulator = Simulator(SEED, epoch=1_764_547_200, **options)
    simulator.set_step(step)
    return simulator


async def bearer(services: Services, user: User) -> dict[str, str]:
    """An Authorization header with a fresh API token of ``user``."""
    raw = new_token("sg_")
    async with services.db.session(write=True) as session:
        session.add(ApiToken(user_id=user.id, name="test", token_hash=hash_token(raw), prefix=raw[:8]))
    return {"Authorization": f"Bearer {raw}"}


def search_body(url: str, **overrides: Any) -> dict[str, Any]:
    """A valid API body for a search of the test shop page at ``url`` with the jsonld adapter."""
    body: dict[str, Any] = {
        "name": "Road bikes",
        "marketplaces": ["jsonld"],
        "keywords": "bike",
        "options": {"jsonld": {"url": url}},
        "interval_seconds": 600,
    }
    body.update(overrides)
    return body


async def execute_search(services: Services, search_id: int, user_id: int) -> Run:
    """Queue a market.search run and execute it with the engine's real runner (claim, handler, finish)."""
    async with services.db.session(write=True) as session:
        run = await engine.enqueue_run(session, kind=SEARCH_KIND, user_id=user_id, subject_id=search_id)
        run_id = run.id
    runner = Runner(services, concurrency=1, mode="embedded")
    await runner.execute(run_id)
    async with services.db.session() as session:
        finished = await session.get(Run, run_id)
        assert finished is not None
        return finished


async def listings_by_sku(services: Services) -> dict[str, Listing]:
    async with services.db.session() as session:
        rows = (await session.scalars(select(Listing))).all()
        return {listing.external_id: listing for listing in rows}


async def matched_skus(services: Services, search_id: int) -> set[str]:
    async with services.db.session() as session:
        rows = await session.scalars(
            select(Listing.external_id)
            .join(ListingMatch, ListingMatch.listing_id == Listing.id)
            .where(ListingMatch.search_id == search_id)
        )
        return set(rows.all())


async def get_search(services: Services, search_id: int) -> SavedSearch:
    async with services.db.session() as session:
        search = await session.get(SavedSearch, search_id)
        assert search is not None
        return search
