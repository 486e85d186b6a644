"""The priority formula of docs/scanner.md, checked with exact numbers."""

from __future__ import annotations

from datetime import timedelta

from spyglass.core.db import utcnow
from spyglass.scanner.priority import asset_context, compute_priority, scan_risk_score, threat_class

EASY = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:N"
HARD = "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N"


def points(priority: object) -> dict[str, int]:
    return {factor.name: factor.points for factor in priority.factors}  # type: ignore[attr-defined]


def test_high_confirmed_public_admin_page() -> None:
    result = compute_priority(
        severity="high", confidence="confirmed", url="https://x.test/admin/users", cvss_vector=EASY
    )
    assert points(result) == {"severity": 45, "confidence": 0, "exploitability": 12, "exposure": 10, "asset": 10}
    assert (result.score, result.threat_class) == (77, "High")
    why = {item["factor"]: item["why"] for item in result.why()}
    assert why["asset"] == "on an admin page"
    assert why["exposure"] == "reachable by anyone, no login needed"


def test_medium_firm_hard_to_exploit() -> None:
    result = compute_priority(severity="medium", confidence="firm", url="https://x.test/search?q=1", cvss_vector=HARD)
    assert points(result) == {"severity": 30, "confidence": -4, "exploitability": 6, "exposure": 10, "asset": 0}
    assert (result.score, result.threat_class) == (42, "Medium")


def test_info_behind_login_on_api() -> None:
    result = compute_priority(
        severity="info", confidence="tentative", url="https://x.test/api/v1/items", requires_auth=True
    )
    assert points(result) == {"severity": 3, "confidence": -1, "exploitability": 0, "exposure": 0, "asset": 5}
    assert (result.score, result.threat_class) == (7, "Informational")


def test_age_adds_a_point_per_30_days_up_to_5() -> None:
    now = utcnow()
    result = compute_priority(
        severity="critical",
        confidence="confirmed",
        url="https://x.test/checkout",
        cvss_vector=EASY,
        first_seen_at=now - timedelta(days=100),
        now=now,
    )
    assert points(result)["age"] == 3 and points(result)["asset"] == 10
    assert (result.score, result.threat_class) == (95, "Critical")
    older = compute_priority(
        severity="critical",
        confidence="confirmed",
        url="https://x.test/checkout",
        cvss_vector=EASY,
        first_seen_at=now - timedelta(days=400),
        now=now,
    )
    assert points(older)["age"] == 5 and older.score == 97


def test_informational_findings_are_capped_at_20() -> None:
    now = utcnow()
    result = compute_priority(
        severity="info",
        confidence="confirmed",
        url="https://x.test/admin",
        cvss_vector=EASY,
        first_seen_at=now - timedelta(days=365),
        now=now,
    )
    assert points(result)["cap"] == -20
    assert (result.score, result.threat_class) == (20, "Low")


def test_active_proof_without_cvss_on_login_page() -> None:
    result = compute_priority(severity="low", confidence="firm", url="https://x.test/login", active=True)
    assert points(result) == {"severity": 15, "confidence": -2, "exploitability": 8, "exposure": 10, "asset": 8}
    assert (result.score, result.threat_class) == (39, "Low")


def test_asset_contexts_and_threat_classes() -> None:
    assert asset_context("https://x.test/billing/") == ("payment", 10)
    assert asset_context("https://x.test/wp-admin/options.php") == ("admin", 10)
    assert asset_context("https://x.test/graphql") == ("api", 5)
    assert asset_context("https://x.test/administrators-guide") is None
    assert [threat_class(s) for s in (100, 80, 79, 60, 40, 20, 19, 0)] == [
        "Critical",
        "Critical",
        "High",
        "High",
        "Medium",
        "Low",
        "Informational",
        "Informational",
    ]


def test_scan_risk_score() -> None:
    assert scan_risk_score([]) == 0
    assert scan_risk_score([77, 42, 7]) == 82  # 77 + 0.1 * (42 + 7)
    assert scan_risk_score([50] * 12) == 95  # only the next nine count
    assert scan_risk_score([97] * 5) == 100
