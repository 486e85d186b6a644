"""Tables of the market feature.

A :class:`Listing` is stored once per marketplace item (``marketplace`` + ``external_id``) however many
searches find it; a :class:`ListingMatch` ties it to each search (and so each user) that matched it.
Users only ever reach listings through their own matches, favorites and alerts.
"""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from spyglass.core.db import Base, BigIntPK, TimestampMixin, utcnow

#: Prices: up to 10 digits before the point, 2 after.
Money = Numeric(12, 2)


class AlertMode(enum.StrEnum):
    """How a search announces new listings."""

    INSTANT = "instant"
    DIGEST = "digest"
    OFF = "off"


class ListingStatus(enum.StrEnum):
    ACTIVE = "active"
    GONE = "gone"


class AlertKind(enum.StrEnum):
    NEW_LISTINGS = "new_listings"
    PRICE_DROP = "price_drop"


class SavedSearch(TimestampMixin, Base):
    """What a user wants to buy, asked of one or several marketplaces on a schedule."""

    __tablename__ = "market_searches"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    name: Mapped[str] = mapped_column(String(120), nullable=False)
    marketplaces: Mapped[list[str]] = mapped_column(JSON, default=list, nullable=False)
    keywords: Mapped[str] = mapped_column(String(500), nullable=False)
    excluded_words: Mapped[list[str]] = mapped_column(JSON, default=list, nullable=False)
    price_min: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    price_max: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    condition: Mapped[str | None] = mapped_column(String(32), nullable=True)
    location_label: Mapped[str | None] = mapped_column(String(120), nullable=True)
    latitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    longitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    radius_km: Mapped[float | None] = mapped_column(Float, nullable=True)
    #: Per-marketplace options: {"rss": {"feed_url": ...}, "recipe": {...}, "craigslist": {"site": ...}}.
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, nullable=False)
    use_browser: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    interval_seconds: Mapped[int] = mapped_column(Integer, nullable=False)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    alert_mode: Mapped[str] = mapped_column(String(16), default=AlertMode.INSTANT.value, nullable=False)
    last_run_at: Mapped[datetime | None] = mapped_column(nullable=True)
    last_run_id: Mapped[int | None] = mapped_column(BigIntPK, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    listings_found: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    #: Successful runs so far (a re-executed run does not count twice: see tasks.py).
    runs_completed: Mapped[int] = mapped_column(Integer, default=0, nullable=False)

    __table_args__ = (
        Index("ix_market_searches_user_created", "user_id", "created_at"),
        Index("ix_market_searches_user_enabled", "user_id", "enabled"),
    )


class Listing(Base):
    """One item on one marketplace, shared by every search that finds it."""

    __tablename__ = "market_listings"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    marketplace: Mapped[str] = mapped_column(String(32), nullable=False)
    external_id: Mapped[str] = mapped_column(String(255), nullable=False)
    url: Mapped[str] = mapped_column(String(2048), nullable=False)
    title: Mapped[str] = mapped_column(String(500), nullable=False)
    description: Mapped[str] = mapped_column(Text, default="", nullable=False)
    price: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    currency: Mapped[str | None] = mapped_column(String(8), nullable=True)
    location: Mapped[str | None] = mapped_column(String(255), nullable=True)
    latitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    longitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    posted_at: Mapped[datetime | None] = mapped_column(nullable=True)
    images: Mapped[list[str]] = mapped_column(JSON, default=list, nullable=False)
    seller: Mapped[str | None] = mapped_column(String(255), nullable=True)
    condition: Mapped[str | None] = mapped_column(String(32), nullable=True)
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow, nullable=False)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow, nullable=False)
    status: Mapped[str] = mapped_column(String(8), default=ListingStatus.ACTIVE.value, nullable=False)
    #: The id of the first listing of its cross-post group (itself when alone). Deleting that listing sets
    #: it to NULL (retention first moves the group to its oldest remaining member: ``regroup_before_delete``).
    group_id: Mapped[int | None] = mapped_column(
        BigIntPK, ForeignKey("market_listings.id", ondelete="SET NULL"), nullable=True
    )
    image_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)

    __table_args__ = (
        UniqueConstraint("marketplace", "external_id", name="uq_market_listings_marketplace_external_id"),
        Index("ix_market_listings_group", "group_id"),
        Index("ix_market_listings_price", "price"),
        Index("ix_market_listings_status_last_seen", "status", "last_seen_at"),
    )


class ListingMatch(Base):
    """A listing that one search matched; ``user_id`` is the search's owner (tenancy without a join)."""

    __tablename__ = "market_listing_matches"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    search_id: Mapped[int] = mapped_column(ForeignKey("market_searches.id", ondelete="CASCADE"), nullable=False)
    listing_id: Mapped[int] = mapped_column(ForeignKey("market_listings.id", ondelete="CASCADE"), nullable=False)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    first_matched_at: Mapped[datetime] = mapped_column(default=utcnow, nullable=False)
    last_matched_at: Mapped[datetime] = mapped_column(default=utcnow, nullable=False)
    seen: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    #: Successful runs of the search in a row that did not return this listing.
    missed_runs: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    #: Deal score against the search's other listings (negative: above the market), refreshed every run.
    deal_percent: Mapped[float | None] = mapped_column(Float, nullable=True)
    deal_percentile: Mapped[float | None] = mapped_column(Float, nullable=True)

    __table_args__ = (
        UniqueConstraint("search_id", "listing_id", name="uq_market_listing_matches_search_listing"),
        Index("ix_market_listing_matches_user_first", "user_id", "first_matched_at"),
        Index("ix_market_listing_matches_user_listing", "user_id", "listing_id"),
        Index("ix_market_listing_matches_user_deal", "user_id", "deal_percent"),
        Index("ix_market_listing_matches_listing", "listing_id"),
        Index("ix_market_listing_matches_search_first", "search_id", "first_matched_at"),
    )


class PriceHistory(Base):
    """Every price a listing has had, oldest first."""

    __tablename__ = "market_price_history"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    listing_id: Mapped[int] = mapped_column(ForeignKey("market_listings.id", ondelete="CASCADE"), nullable=False)
    price: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    currency: Mapped[str | None] = mapped_column(String(8), nullable=True)
    observed_at: Mapped[datetime] = mapped_column(default=utcnow, nullable=False)

    __table_args__ = (Index("ix_market_price_history_listing_observed", "listing_id", "observed_at"),)


class Favorite(Base):
    """A listing a user keeps an eye on, with a note."""

    __tablename__ = "market_favorites"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    listing_id: Mapped[int] = mapped_column(ForeignKey("market_listings.id", ondelete="CASCADE"), nullable=False)
    note: Mapped[str] = mapped_column(Text, default="", nullable=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, nullable=False)

    __table_args__ = (
        UniqueConstraint("user_id", "listing_id", name="uq_market_favorites_user_listing"),
        Index("ix_market_favorites_user_created", "user_id", "created_at"),
        Index("ix_market_favorites_listing", "listing_id"),
    )


class PriceAlert(Base):
    """Tell the user when a listing falls below ``target_price`` or by ``drop_percent`` from ``baseline_price``."""

    __tablename__ = "market_price_alerts"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    listing_id: Mapped[int] = mapped_column(ForeignKey("market_listings.id", ondelete="CASCADE"), nullable=False)
    target_price: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    drop_percent: Mapped[float | None] = mapped_column(Float, nullable=True)
    baseline_price: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, nullable=False)
    triggered_at: Mapped[datetime | None] = mapped_column(nullable=True)

    __table_args__ = (
        UniqueConstraint("user_id", "listing_id", name="uq_market_price_alerts_user_listing"),
        Index("ix_market_price_alerts_listing", "listing_id"),
        Index("ix_market_price_alerts_user_created", "user_id", "created_at"),
    )


class MarketAlert(Base):
    """A triggered alert (new listings, a price drop) as the user sees it in the alerts page.

    ``key`` is the same idempotency key given to the notification outbox, so a re-executed run
    neither shows nor sends an alert twice.
    """

    __tablename__ = "market_alerts"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    search_id: Mapped[int | None] = mapped_column(ForeignKey("market_searches.id", ondelete="SET NULL"), nullable=True)
    listing_id: Mapped[int | None] = mapped_column(ForeignKey("market_listings.id", ondelete="CASCADE"), nullable=True)
    key: Mapped[str] = mapped_column(String(200), nullable=False)
    message: Mapped[str] = mapped_column(String(500), nullable=False)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, nullable=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, nullable=False)
    read_at: Mapped[datetime | None] = mapped_column(nullable=True)

    __table_args__ = (
        UniqueConstraint("user_id", "key", name="uq_market_alerts_user_key"),
        Index("ix_market_alerts_user_created", "user_id", "created_at"),
    )


class MarketQuota(Base):
    """An admin's override of the market quotas for one user; a NULL field means "the global setting"."""

    __tablename__ = "market_user_quotas"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    #: Saved searches the user may have (``SPYGLASS_MARKET_MAX_SEARCHES_PER_USER`` when NULL).
    max_searches: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: Shortest interval of the user's searches (``SPYGLASS_MARKET_MIN_INTERVAL_SECONDS`` when NULL).
    min_interval_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow, nullable=False)
