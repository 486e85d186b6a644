"""market: saved searches, listings, matches, price history, favorites, price alerts, triggered alerts

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 19:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import spyglass.core.db

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "market_listings",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("marketplace", sa.String(length=32), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("price", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("currency", sa.String(length=8), nullable=True),
        sa.Column("location", sa.String(length=255), nullable=True),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("posted_at", spyglass.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("images", sa.JSON(), nullable=False),
        sa.Column("seller", sa.String(length=255), nullable=True),
        sa.Column("condition", sa.String(length=32), nullable=True),
        sa.Column("first_seen_at", spyglass.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", spyglass.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("group_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("image_hash", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_listings")),
        sa.UniqueConstraint("marketplace", "external_id", name="uq_market_listings_marketplace_external_id"),
    )
    with op.batch_alter_table("market_listings", schema=None) as batch_op:
        batch_op.create_index("ix_market_listings_group", ["group_id"], unique=False)
        batch_op.create_index("ix_market_listings_price", ["price"], unique=False)
        batch_op.create_index("ix_market_listings_status_last_seen", ["status", "last_seen_at"], unique=False)

    op.create_table(
        "market_favorites",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("listing_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", spyglass.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["listing_id"],
            ["market_listings.id"],
            name=op.f("fk_market_favorites_listing_id_market_listings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_market_favorites_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_favorites")),
        sa.UniqueConstraint("user_id", "listing_id", name="uq_market_favorites_user_listing"),
    )
    with op.batch_alter_table("market_favorites", schema=None) as batch_op:
        batch_op.create_index("ix_market_favorites_listing", ["listing_id"], unique=False)
        batch_op.create_index("ix_market_favorites_user_created", ["user_id", "created_at"], unique=False)

    op.create_table(
        "market_price_alerts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("listing_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("target_price", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("drop_percent", sa.Float(), nullable=True),
        sa.Column("baseline_price", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("created_at", spyglass.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("triggered_at", spyglass.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["listing_id"],
            ["market_listings.id"],
            name=op.f("fk_market_price_alerts_listing_id_market_listings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_market_price_alerts_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_price_alerts")),
        sa.UniqueConstraint("user_id", "listing_id", name="uq_market_price_alerts_user_listing"),
    )
    with op.batch_alter_table("market_price_alerts", schema=None) as batch_op:
        batch_op.create_index("ix_market_price_alerts_listing", ["listing_id"], unique=False)
        batch_op.create_index("ix_market_price_alerts_user_created", ["user_id", "created_at"], unique=False)

    op.create_table(
        "market_price_history",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("listing_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("price", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("currency", sa.String(length=8), nullable=True),
        sa.Column("observed_at", spyglass.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["listing_id"],
            ["market_listings.id"],
            name=op.f("fk_market_price_history_listing_id_market_listings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_price_history")),
    )
    with op.batch_alter_table("market_price_history", schema=None) as batch_op:
        batch_op.create_index("ix_market_price_history_listing_observed", ["listing_id", "observed_at"], unique=False)

    op.create_table(
        "market_searches",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("marketplaces", sa.JSON(), nullable=False),
        sa.Column("keywords", sa.String(length=500), nullable=False),
        sa.Column("excluded_words", sa.JSON(), nullable=False),
        sa.Column("price_min", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("price_max", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("condition", sa.String(length=32), nullable=True),
        sa.Column("location_label", sa.String(length=120), nullable=True),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("radius_km", sa.Float(), nullable=True),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("use_browser", sa.Boolean(), nullable=False),
        sa.Column("interval_seconds", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("alert_mode", sa.String(length=16), nullable=False),
        sa.Column("last_run_at", spyglass.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("listings_found", sa.Integer(), nullable=False),
        sa.Column("runs_completed", sa.Integer(), nullable=False),
        sa.Column("created_at", spyglass.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", spyglass.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_market_searches_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_searches")),
    )
    with op.batch_alter_table("market_searches", schema=None) as batch_op:
        batch_op.create_index("ix_market_searches_user_created", ["user_id", "created_at"], unique=False)
        batch_op.create_index("ix_market_searches_user_enabled", ["user_id", "enabled"], unique=False)

    op.create_table(
        "market_alerts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("search_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("listing_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("message", sa.String(length=500), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", spyglass.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("read_at", spyglass.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["listing_id"],
            ["market_listings.id"],
            name=op.f("fk_market_alerts_listing_id_market_listings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["search_id"],
            ["market_searches.id"],
            name=op.f("fk_market_alerts_search_id_market_searches"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_market_alerts_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_alerts")),
        sa.UniqueConstraint("user_id", "key", name="uq_market_alerts_user_key"),
    )
    with op.batch_alter_table("market_alerts", schema=None) as batch_op:
        batch_op.create_index("ix_market_alerts_user_created", ["user_id", "created_at"], unique=False)

    op.create_table(
        "market_listing_matches",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("search_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("listing_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("first_matched_at", spyglass.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_matched_at", spyglass.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("seen", sa.Boolean(), nullable=False),
        sa.Column("missed_runs", sa.Integer(), nullable=False),
        sa.Column("deal_percent", sa.Float(), nullable=True),
        sa.Column("deal_percentile", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["listing_id"],
            ["market_listings.id"],
            name=op.f("fk_market_listing_matches_listing_id_market_listings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["search_id"],
            ["market_searches.id"],
            name=op.f("fk_market_listing_matches_search_id_market_searches"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_market_listing_matches_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_listing_matches")),
        sa.UniqueConstraint("search_id", "listing_id", name="uq_market_listing_matches_search_listing"),
    )
    with op.batch_alter_table("market_listing_matches", schema=None) as batch_op:
        batch_op.create_index("ix_market_listing_matches_listing", ["listing_id"], unique=False)
        batch_op.create_index("ix_market_listing_matches_search_first", ["search_id", "first_matched_at"], unique=False)
        batch_op.create_index("ix_market_listing_matches_user_deal", ["user_id", "deal_percent"], unique=False)
        batch_op.create_index("ix_market_listing_matches_user_first", ["user_id", "first_matched_at"], unique=False)
        batch_op.create_index("ix_market_listing_matches_user_listing", ["user_id", "listing_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("market_listing_matches", schema=None) as batch_op:
        batch_op.drop_index("ix_market_listing_matches_user_listing")
        batch_op.drop_index("ix_market_listing_matches_user_first")
        batch_op.drop_index("ix_market_listing_matches_user_deal")
        batch_op.drop_index("ix_market_listing_matches_search_first")
        batch_op.drop_index("ix_market_listing_matches_listing")

    op.drop_table("market_listing_matches")
    with op.batch_alter_table("market_alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_market_alerts_user_created")

    op.drop_table("market_alerts")
    with op.batch_alter_table("market_searches", schema=None) as batch_op:
        batch_op.drop_index("ix_market_searches_user_enabled")
        batch_op.drop_index("ix_market_searches_user_created")

    op.drop_table("market_searches")
    with op.batch_alter_table("market_price_history", schema=None) as batch_op:
        batch_op.drop_index("ix_market_price_history_listing_observed")

    op.drop_table("market_price_history")
    with op.batch_alter_table("market_price_alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_market_price_alerts_user_created")
        batch_op.drop_index("ix_market_price_alerts_listing")

    op.drop_table("market_price_alerts")
    with op.batch_alter_table("market_favorites", schema=None) as batch_op:
        batch_op.drop_index("ix_market_favorites_user_created")
        batch_op.drop_index("ix_market_favorites_listing")

    op.drop_table("market_favorites")
    with op.batch_alter_table("market_listings", schema=None) as batch_op:
        batch_op.drop_index("ix_market_listings_status_last_seen")
        batch_op.drop_index("ix_market_listings_price")
        batch_op.drop_index("ix_market_listings_group")

    op.drop_table("market_listings")
