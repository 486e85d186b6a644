"""market: foreign key on market_listings.group_id (ON DELETE SET NULL), per-user market quotas

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 22:40:00

Group ids that name a listing which no longer exists are set to NULL first (the next run of a search
gives such a listing its own group again). SQLite cannot add a constraint to a table, and Alembic's
batch mode would copy, drop and rename ``market_listings``: with foreign keys on (Spyglass's connections
turn them on, and the pragma cannot change inside the migration's transaction), dropping it deletes every
match, price and favourite through their ON DELETE CASCADE. So on SQLite the constraint is written into the
table's stored definition instead, which keeps the table and its rows.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import spyglass.core.db

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
FK_NAME = "fk_market_listings_group_id_market_listings"
CONSTRAINT_SQL = f"CONSTRAINT {FK_NAME} FOREIGN KEY(group_id) REFERENCES market_listings (id) ON DELETE SET NULL"


def _null_orphans() -> None:
    op.execute(
        "UPDATE market_listings SET group_id = NULL WHERE group_id IS NOT NULL "
        "AND NOT EXISTS (SELECT 1 FROM market_listings AS anchor WHERE anchor.id = market_listings.group_id)"
    )


def _set_group_reference_sqlite(*, referencing: bool) -> None:
    """Add (or remove) the table-level foreign key in the table's stored definition.

    SQLite's documented way to change constraints that do not touch the stored rows (sqlite.org/lang_altertable,
    "making other kinds of table schema changes"): rewrite the CREATE TABLE text with ``writable_schema`` and
    bump ``schema_version``, all in this transaction. ``spyglass migrate`` then runs the integrity and
    foreign-key checks.
    """
    bind = op.get_bind()
    sql = bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'market_listings'"
    ).scalar()
    if not isinstance(sql, str):
        raise RuntimeError("market_listings is missing")
    if referencing:
        if CONSTRAINT_SQL in sql:
            return
        anchor = "CONSTRAINT pk_market_listings PRIMARY KEY"
        if anchor not in sql:
            raise RuntimeError("market_listings has an unexpected definition; cannot add the group foreign key")
        new_sql = sql.replace(anchor, f"{CONSTRAINT_SQL}, \n\t{anchor}", 1)
    else:
        new_sql = sql.replace(f"{CONSTRAINT_SQL}, \n\t", "", 1).replace(f", {CONSTRAINT_SQL}", "", 1)
    version = bind.exec_driver_sql("PRAGMA schema_version").scalar()
    bind.exec_driver_sql("PRAGMA writable_schema = ON")
    try:
        bind.exec_driver_sql(
            "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = 'market_listings'", (new_sql,)
        )
        bind.exec_driver_sql(f"PRAGMA schema_version = {int(version or 0) + 1}")
    finally:
        bind.exec_driver_sql("PRAGMA writable_schema = OFF")


def upgrade() -> None:
    _null_orphans()
    if op.get_bind().dialect.name == "sqlite":
        _set_group_reference_sqlite(referencing=True)
    else:
        op.create_foreign_key(FK_NAME, "market_listings", "market_listings", ["group_id"], ["id"], ondelete="SET NULL")

    op.create_table(
        "market_user_quotas",
        sa.Column("user_id", ID, nullable=False),
        sa.Column("max_searches", sa.Integer(), nullable=True),
        sa.Column("min_interval_seconds", sa.Integer(), nullable=True),
        sa.Column("updated_at", spyglass.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_market_user_quotas_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_market_user_quotas")),
    )


def downgrade() -> None:
    op.drop_table("market_user_quotas")
    if op.get_bind().dialect.name == "sqlite":
        _set_group_reference_sqlite(referencing=False)
    else:
        op.drop_constraint(FK_NAME, "market_listings", type_="foreignkey")
