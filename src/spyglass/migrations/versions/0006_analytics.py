"""analytics: indexes for the dashboards' aggregates on market, scanner tables

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 19:50:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("market_listings", schema=None) as batch_op:
        batch_op.create_index("ix_market_listings_first_seen", ["first_seen_at", "marketplace"], unique=False)
    with op.batch_alter_table("scans", schema=None) as batch_op:
        batch_op.create_index("ix_scans_created", ["created_at"], unique=False)
    with op.batch_alter_table("scan_findings", schema=None) as batch_op:
        batch_op.create_index("ix_scan_findings_created", ["created_at", "severity"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("scan_findings", schema=None) as batch_op:
        batch_op.drop_index("ix_scan_findings_created")
    with op.batch_alter_table("scans", schema=None) as batch_op:
        batch_op.drop_index("ix_scans_created")
    with op.batch_alter_table("market_listings", schema=None) as batch_op:
        batch_op.drop_index("ix_market_listings_first_seen")
