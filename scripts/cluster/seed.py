"""Data for the load test: users who can sign in, each with saved searches that matched listings and a target of
their own on the vulnerable app (vouched for by ``SPYGLASS_VERIFIED_TARGETS``). Written straight to the database in
a few bulk statements (a thousand registrations through the app would measure argon2, not the load test)."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select

from spyglass.accounts.models import Role, User, UserSettings
from spyglass.core.db import create_engine, utcnow
from spyglass.core.security import hash_password
from spyglass.market.models import Listing, ListingMatch, SavedSearch
from spyglass.market.simulator.catalogue import _CATEGORIES
from spyglass.scanner.models import ScanTarget
from spyglass.scanner.verification import new_token as new_verification_token

PASSWORD = "Load-Test-Password-42"
LISTINGS = 400
MATCHES_PER_SEARCH = 60


def username(number: int) -> str:
    return f"load{number:05d}"


async def seed(database_url: str, *, users: int, simulator_url: str, vulnerable_url: str) -> dict[str, Any]:
    """Create ``users`` users (``load00000``… with ``PASSWORD``), two searches each matching listings, one target
    each; returns counts."""
    rng = random.Random(42)
    titles = [title for names, *_rest in _CATEGORIES.values() for title in names]
    password_hash = hash_password(PASSWORD)
    now = utcnow()
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            user_rows = [
                {
                    "username": username(n),
                    "email": f"{username(n)}@example.com",
                    "password_hash": password_hash,
                    "role": Role.USER.value,
                    "is_active": True,
                    "email_verified_at": now,
                }
                for n in range(users)
            ]
            user_ids = list((await connection.execute(insert(User).returning(User.id), user_rows)).scalars())
            await connection.execute(insert(UserSettings), [{"user_id": user_id} for user_id in user_ids])
            listing_rows = [
                {
                    "marketplace": "ebay",
                    "external_id": f"load-{n}",
                    "url": f"{simulator_url}/ebay/itm/load-{n}",
                    "title": f"{rng.choice(titles)} #{n}",
                    "description": "Seeded for the load test.",
                    "price": Decimal(rng.randint(20, 2000)),
                    "currency": "USD",
                    "first_seen_at": now,
                    "last_seen_at": now,
                }
                for n in range(LISTINGS)
            ]
            listing_ids = list(
                (await connection.execute(insert(Listing).returning(Listing.id), listing_rows)).scalars()
            )
            search_rows = [
                {
                    "user_id": user_id,
                    "name": name,
                    "marketplaces": ["ebay"],
                    "keywords": keywords,
                    "interval_seconds": 3600,
                    "enabled": False,
                }
                for user_id in user_ids
                for name, keywords in (("Road bikes", "bike"), ("Cameras", "camera OR lens"))
            ]
            searches = (
                await connection.execute(
                    insert(SavedSearch).returning(SavedSearch.id, SavedSearch.user_id), search_rows
                )
            ).all()
            match_rows = [
                {"search_id": search_id, "listing_id": listing_id, "user_id": user_id}
                for search_id, user_id in searches
                for listing_id in rng.sample(listing_ids, MATCHES_PER_SEARCH)
            ]
            for start in range(0, len(match_rows), 20_000):
                await connection.execute(insert(ListingMatch), match_rows[start : start + 20_000])
            target_rows = [
                {
                    "user_id": user_id,
                    "name": "My site",
                    "base_url": vulnerable_url,
                    "host": "127.0.0.1",
                    "max_depth": 2,
                    "max_pages": 10,
                    "max_requests": 300,
                    "time_limit_seconds": 60,
                    "requests_per_second": 50,
                    "concurrency": 4,
                    "verification_token": new_verification_token(),
                }
                for user_id in user_ids
            ]
            await connection.execute(insert(ScanTarget), target_rows)
            count = (await connection.execute(select(User.id))).all()
    finally:
        await engine.dispose()
    return {"users": len(count), "listings": LISTINGS, "searches": len(searches), "matches": len(match_rows)}
