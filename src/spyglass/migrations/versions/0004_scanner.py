"""scanner: targets, scans, findings

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 19:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import spyglass.core.db

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _when(name: str, nullable: bool) -> sa.Column:
    return sa.Column(name, spyglass.core.db.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "scan_targets",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("base_url", sa.String(length=2048), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("include_paths", sa.JSON(), nullable=False),
        sa.Column("exclude_paths", sa.JSON(), nullable=False),
        sa.Column("max_depth", sa.Integer(), nullable=False),
        sa.Column("max_pages", sa.Integer(), nullable=False),
        sa.Column("max_requests", sa.Integer(), nullable=False),
        sa.Column("time_limit_seconds", sa.Integer(), nullable=False),
        sa.Column("requests_per_second", sa.Float(), nullable=False),
        sa.Column("concurrency", sa.Integer(), nullable=False),
        sa.Column("auth", sa.JSON(), nullable=True),
        sa.Column("verification_token", sa.String(length=64), nullable=False),
        _when("verified_at", True),
        sa.Column("verification_method", sa.String(length=16), nullable=True),
        _when("last_check_at", True),
        sa.Column("last_check_result", sa.Text(), nullable=True),
        _when("created_at", False),
        _when("updated_at", False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_scan_targets_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scan_targets")),
        sa.UniqueConstraint("user_id", "base_url", name="uq_scan_targets_user_base_url"),
    )
    with op.batch_alter_table("scan_targets", schema=None) as batch_op:
        batch_op.create_index("ix_scan_targets_user_created", ["user_id", "created_at"], unique=False)

    op.create_table(
        "scans",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("target_id", ID, nullable=False),
        sa.Column("run_id", ID, nullable=True),
        sa.Column("profile", sa.String(length=16), nullable=False),
        sa.Column("families", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        _when("created_at", False),
        _when("started_at", True),
        _when("finished_at", True),
        sa.Column("pages_crawled", sa.Integer(), nullable=False),
        sa.Column("requests_sent", sa.Integer(), nullable=False),
        sa.Column("findings_count", sa.Integer(), nullable=False),
        sa.Column("severity_counts", sa.JSON(), nullable=False),
        sa.Column("risk_score", sa.Integer(), nullable=True),
        sa.Column("stopped_reason", sa.String(length=32), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_scans_run_id_runs"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(
            ["target_id"], ["scan_targets.id"], name=op.f("fk_scans_target_id_scan_targets"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_scans_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scans")),
    )
    with op.batch_alter_table("scans", schema=None) as batch_op:
        batch_op.create_index("ix_scans_run", ["run_id"], unique=True)
        batch_op.create_index("ix_scans_target_created", ["target_id", "created_at"], unique=False)
        batch_op.create_index("ix_scans_user_created", ["user_id", "created_at"], unique=False)

    op.create_table(
        "scan_findings",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("scan_id", ID, nullable=False),
        sa.Column("target_id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("type_id", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("family", sa.String(length=32), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("parameter", sa.String(length=255), nullable=True),
        sa.Column("payload", sa.Text(), nullable=True),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("request_excerpt", sa.Text(), nullable=False),
        sa.Column("response_excerpt", sa.Text(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("confidence", sa.String(length=16), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("cwe", sa.Integer(), nullable=False),
        sa.Column("owasp", sa.String(length=64), nullable=False),
        sa.Column("cvss_vector", sa.String(length=128), nullable=False),
        sa.Column("cvss_score", sa.Float(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("threat_class", sa.String(length=16), nullable=False),
        sa.Column("priority_why", sa.JSON(), nullable=False),
        sa.Column("first_seen_scan_id", ID, nullable=True),
        _when("first_seen_at", False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("status_note", sa.String(length=500), nullable=False),
        _when("accepted_until", True),
        _when("fixed_at", True),
        sa.Column("fixed_by_scan_id", ID, nullable=True),
        sa.Column("regression", sa.Boolean(), server_default=sa.false(), nullable=False),
        _when("created_at", False),
        _when("updated_at", False),
        sa.ForeignKeyConstraint(
            ["scan_id"], ["scans.id"], name=op.f("fk_scan_findings_scan_id_scans"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["target_id"], ["scan_targets.id"], name=op.f("fk_scan_findings_target_id_scan_targets"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_scan_findings_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scan_findings")),
        sa.UniqueConstraint("scan_id", "fingerprint", name="uq_scan_findings_scan_fingerprint"),
    )
    with op.batch_alter_table("scan_findings", schema=None) as batch_op:
        batch_op.create_index("ix_scan_findings_scan_priority", ["scan_id", "priority"], unique=False)
        batch_op.create_index("ix_scan_findings_scan_severity", ["scan_id", "severity"], unique=False)
        batch_op.create_index("ix_scan_findings_scan_status", ["scan_id", "status"], unique=False)
        batch_op.create_index("ix_scan_findings_scan_type", ["scan_id", "type_id"], unique=False)
        batch_op.create_index("ix_scan_findings_target_fingerprint", ["target_id", "fingerprint"], unique=False)
        batch_op.create_index("ix_scan_findings_user", ["user_id"], unique=False)
        batch_op.create_index("ix_scan_findings_user_fixed", ["user_id", "fixed_at"], unique=False)
        batch_op.create_index("ix_scan_findings_fixed_by_scan", ["fixed_by_scan_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("scan_findings", schema=None) as batch_op:
        for name in (
            "ix_scan_findings_fixed_by_scan",
            "ix_scan_findings_user_fixed",
            "ix_scan_findings_user",
            "ix_scan_findings_target_fingerprint",
            "ix_scan_findings_scan_type",
            "ix_scan_findings_scan_status",
            "ix_scan_findings_scan_severity",
            "ix_scan_findings_scan_priority",
        ):
            batch_op.drop_index(name)
    op.drop_table("scan_findings")
    with op.batch_alter_table("scans", schema=None) as batch_op:
        batch_op.drop_index("ix_scans_user_created")
        batch_op.drop_index("ix_scans_target_created")
        batch_op.drop_index("ix_scans_run")
    op.drop_table("scans")
    with op.batch_alter_table("scan_targets", schema=None) as batch_op:
        batch_op.drop_index("ix_scan_targets_user_created")
    op.drop_table("scan_targets")
