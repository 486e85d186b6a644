"""Indexes the analytics aggregates need on other features' tables (the analytics feature has no tables).

Each is created by migration 0006; declaring them here keeps the models and the migrated schema equal.
"""

from __future__ import annotations

from sqlalchemy import Index

from spyglass.market.models import Listing
from spyglass.scanner.models import Finding, Scan

#: Admin: new listings per day and marketplace (an index-only range scan on PostgreSQL).
listings_first_seen = Index("ix_market_listings_first_seen", Listing.first_seen_at, Listing.marketplace)
#: Admin: scans per day.
scans_created = Index("ix_scans_created", Scan.created_at)
#: Admin: findings by severity in the window.
findings_created = Index("ix_scan_findings_created", Finding.created_at, Finding.severity)

__all__ = ["findings_created", "listings_first_seen", "scans_created"]
