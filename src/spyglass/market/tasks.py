"""The ``market.search`` job kind: run a saved search on its marketplaces and store what it finds.

Fetching happens outside any transaction; storing is one short write transaction (``store.store_run``)
keyed so that a re-executed run changes nothing twice. When every marketplace fails the run fails
with the sites named (transient failures are retried by the engine).
"""

from __future__ import annotations

from typing import Any

from spyglass.core.db import utcnow
from spyglass.core.view_cache import forget_views
from spyglass.engine.context import RunContext
from spyglass.engine.kinds import JobKind, PermanentError, RetryPolicy, TransientError, register_kind
from spyglass.market.listing_params import MARKET_AREAS
from spyglass.market.models import SavedSearch
from spyglass.market.query import QueryError
from spyglass.market.searching import Collected, ListingKey, collect, hash_images, listing_key
from spyglass.market.service import SEARCH_KIND
from spyglass.market.store import store_run, unknown_keys


async def run_search(ctx: RunContext) -> dict[str, Any]:
    """Search every marketplace of the saved search ``ctx.subject_id`` and store the results."""
    services = ctx.services
    started = utcnow()
    async with services.db.session() as session:
        search = await session.get(SavedSearch, ctx.subject_id) if ctx.subject_id else None
    if search is None:
        return {"skipped": "the search was deleted"}
    try:
        collected = await collect(search, settings=services.settings, fetcher=services.fetcher, progress=ctx.progress)
    except QueryError as exc:  # saved before a change of the query language: the user must edit it
        await _record_failure(ctx, f"the keywords are not valid any more: {exc}; edit the search")
        raise PermanentError(f"The search's keywords are not valid any more: {exc}") from exc
    failures = {name: failure.message for name, failure in collected.failures.items()}
    if not collected.results:
        await _record_failure(ctx, "; ".join(failures.values()) or "the search has no marketplace")
        message = "No marketplace answered: " + "; ".join(failures.values())
        if any(failure.transient for failure in collected.failures.values()):
            raise TransientError(message)
        raise PermanentError(message)
    hashes = await _hash_new_images(ctx, collected)
    await ctx.progress(90, "storing listings")
    async with services.db.session(write=True) as session:
        outcome = await store_run(
            session,
            search_id=search.id,
            run_id=ctx.run_id,
            results=collected.results,
            failures=failures,
            run_started=started,
            now=utcnow(),
            gone_after=services.settings.market_gone_after_runs,
            image_hashes=hashes,
        )
    # Watchers alerted of a price drop see it on their market pages at once, the unread count on the searches
    # page included (the owner's pages are refreshed by the engine with the run itself: the kind's view_areas).
    await forget_views(services, MARKET_AREAS, outcome.alerted_users)
    pages = sum(collected.pages.values())
    return {"fetched": collected.fetched, "kept": collected.kept, "pages": pages, **outcome.stats(), "errors": failures}


async def _hash_new_images(ctx: RunContext, collected: Collected) -> dict[ListingKey, str]:
    """Hash the first image of listings this search keeps that are not stored yet (capped per run)."""
    settings = ctx.services.settings
    kept = {listing_key(item): item for result in collected.results for item in result.kept if item.images}
    if not kept or settings.market_image_hashes_per_run <= 0:
        return {}
    async with ctx.services.db.session() as session:
        new = await unknown_keys(session, list(kept))
    await ctx.progress(85, "hashing images")
    return await hash_images(
        [item for key, item in kept.items() if key in new],
        settings=settings,
        fetcher=ctx.services.fetcher,
        limit=settings.market_image_hashes_per_run,
    )


async def _record_failure(ctx: RunContext, message: str) -> None:
    async with ctx.services.db.session(write=True) as session:
        search = await session.get(SavedSearch, ctx.subject_id)
        if search is not None:
            search.last_error = message[:2000]
            search.last_run_at = utcnow()


register_kind(
    JobKind(
        name=SEARCH_KIND,
        handler=run_search,
        timeout_seconds=600,
        retry=RetryPolicy(max_attempts=3, base_seconds=30, cap_seconds=600),
        description="Run a saved marketplace search and store new listings, price changes and alerts.",
        view_areas=MARKET_AREAS,
    )
)
