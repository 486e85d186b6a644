"""Tables of the scanner feature: targets (with their ownership proof), scans and findings.

A finding belongs to one scan; the same issue found again by a later scan of the same target is a
new row with the same ``fingerprint``, which carries its status (false positive, accepted risk…)
and its first sighting forward.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from spyglass.core.db import Base, BigIntPK, TimestampMixin, utcnow


class VerificationMethod(enum.StrEnum):
    """How a target's ownership was proven."""

    FILE = "file"
    META = "meta"
    DNS = "dns"
    ALLOW_LIST = "allow_list"
    #: An administrator vouches for the target (``scanner.vouching``); it stands until withdrawn.
    ADMIN = "admin"


class ScanStatus(enum.StrEnum):
    """A scan's state, mirrored from its engine run."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in (ScanStatus.SUCCEEDED, ScanStatus.FAILED, ScanStatus.CANCELLED)


class FindingStatus(enum.StrEnum):
    """What the owner decided about a finding; carried to the same finding in later scans."""

    OPEN = "open"
    FIXED = "fixed"
    FALSE_POSITIVE = "false_positive"
    ACCEPTED_RISK = "accepted_risk"


class ScanTarget(TimestampMixin, Base):
    """A website a user scans: where it is, what is in scope, how to log in, and its ownership proof.

    ``auth`` holds the login secrets (cookie, header value, form password); they are never logged
    and pages and the API show them masked.
    """

    __tablename__ = "scan_targets"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    base_url: Mapped[str] = mapped_column(String(2048), nullable=False)
    host: Mapped[str] = mapped_column(String(255), nullable=False)
    include_paths: Mapped[list[str]] = mapped_column(JSON, default=list, nullable=False)
    exclude_paths: Mapped[list[str]] = mapped_column(JSON, default=list, nullable=False)
    max_depth: Mapped[int] = mapped_column(Integer, default=5, nullable=False)
    max_pages: Mapped[int] = mapped_column(Integer, default=200, nullable=False)
    max_requests: Mapped[int] = mapped_column(Integer, default=5000, nullable=False)
    time_limit_seconds: Mapped[int] = mapped_column(Integer, default=1800, nullable=False)
    requests_per_second: Mapped[float] = mapped_column(Float, default=10.0, nullable=False)
    concurrency: Mapped[int] = mapped_column(Integer, default=4, nullable=False)
    auth: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    verification_token: Mapped[str] = mapped_column(String(64), nullable=False)
    verified_at: Mapped[datetime | None] = mapped_column(nullable=True)
    verification_method: Mapped[str | None] = mapped_column(String(16), nullable=True)
    last_check_at: Mapped[datetime | None] = mapped_column(nullable=True)
    last_check_result: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (
        UniqueConstraint("user_id", "base_url", name="uq_scan_targets_user_base_url"),
        Index("ix_scan_targets_user_created", "user_id", "created_at"),
    )


class Scan(Base):
    """One scan of a target, executed as an engine run (``run_id``); counts are kept up to date."""

    __tablename__ = "scans"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    target_id: Mapped[int] = mapped_column(ForeignKey("scan_targets.id", ondelete="CASCADE"), nullable=False)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"), nullable=True)
    profile: Mapped[str] = mapped_column(String(16), nullable=False)
    families: Mapped[list[str]] = mapped_column(JSON, default=list, nullable=False)
    status: Mapped[str] = mapped_column(String(16), default=ScanStatus.QUEUED.value, nullable=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, nullable=False)
    started_at: Mapped[datetime | None] = mapped_column(nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(nullable=True)
    pages_crawled: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    requests_sent: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    findings_count: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    severity_counts: Mapped[dict[str, int]] = mapped_column(JSON, default=dict, nullable=False)
    risk_score: Mapped[int | None] = mapped_column(Integer, nullable=True)
    stopped_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (
        Index("ix_scans_user_created", "user_id", "created_at"),
        Index("ix_scans_target_created", "target_id", "created_at"),
        Index("ix_scans_run", "run_id", unique=True),  # a scheduled run makes its scan once
    )


class Finding(TimestampMixin, Base):
    """One issue found by one scan, with its evidence, classification and explained priority.

    Unique per scan by ``fingerprint`` (check, normalised path, parameter): a re-run of the same
    scan updates the row instead of adding another.
    """

    __tablename__ = "scan_findings"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    scan_id: Mapped[int] = mapped_column(ForeignKey("scans.id", ondelete="CASCADE"), nullable=False)
    target_id: Mapped[int] = mapped_column(ForeignKey("scan_targets.id", ondelete="CASCADE"), nullable=False)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    type_id: Mapped[str] = mapped_column(String(64), nullable=False)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    family: Mapped[str] = mapped_column(String(32), nullable=False)
    fingerprint: Mapped[str] = mapped_column(String(64), nullable=False)
    url: Mapped[str] = mapped_column(String(2048), nullable=False)
    method: Mapped[str] = mapped_column(String(16), nullable=False)
    parameter: Mapped[str | None] = mapped_column(String(255), nullable=True)
    payload: Mapped[str | None] = mapped_column(Text, nullable=True)
    evidence: Mapped[str] = mapped_column(Text, default="", nullable=False)
    request_excerpt: Mapped[str] = mapped_column(Text, default="", nullable=False)
    response_excerpt: Mapped[str] = mapped_column(Text, default="", nullable=False)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, nullable=False)
    confidence: Mapped[str] = mapped_column(String(16), nullable=False)
    severity: Mapped[str] = mapped_column(String(16), nullable=False)
    cwe: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    owasp: Mapped[str] = mapped_column(String(64), default="", nullable=False)
    cvss_vector: Mapped[str] = mapped_column(String(128), default="", nullable=False)
    cvss_score: Mapped[float] = mapped_column(Float, default=0.0, nullable=False)
    priority: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    threat_class: Mapped[str] = mapped_column(String(16), default="Informational", nullable=False)
    priority_why: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list, nullable=False)
    first_seen_scan_id: Mapped[int | None] = mapped_column(BigIntPK, nullable=True)
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow, nullable=False)
    status: Mapped[str] = mapped_column(String(20), default=FindingStatus.OPEN.value, nullable=False)
    status_note: Mapped[str] = mapped_column(String(500), default="", nullable=False)
    accepted_until: Mapped[datetime | None] = mapped_column(nullable=True)
    #: When the finding was found gone (a later complete scan that runs its check did not report it) or
    #: marked fixed by hand; ``fixed_by_scan_id`` is that scan (None when marked by hand).
    fixed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    fixed_by_scan_id: Mapped[int | None] = mapped_column(BigIntPK, nullable=True)
    #: The same fingerprint had been fixed before and came back.
    regression: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false(), nullable=False)

    __table_args__ = (
        UniqueConstraint("scan_id", "fingerprint", name="uq_scan_findings_scan_fingerprint"),
        Index("ix_scan_findings_scan_priority", "scan_id", "priority"),
        Index("ix_scan_findings_scan_severity", "scan_id", "severity"),
        Index("ix_scan_findings_scan_status", "scan_id", "status"),
        Index("ix_scan_findings_scan_type", "scan_id", "type_id"),
        Index("ix_scan_findings_target_fingerprint", "target_id", "fingerprint"),
        Index("ix_scan_findings_user", "user_id"),
        Index("ix_scan_findings_user_fixed", "user_id", "fixed_at"),
        Index("ix_scan_findings_fixed_by_scan", "fixed_by_scan_id"),
    )

    def effective_status(self, now: datetime | None = None) -> str:
        """The status in force: an accepted risk whose acceptance expired counts as open again."""
        expired = self.accepted_until is not None and self.accepted_until <= (now or utcnow())
        if self.status == FindingStatus.ACCEPTED_RISK.value and expired:
            return FindingStatus.OPEN.value
        return self.status
