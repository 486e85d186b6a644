"""The explainable 0–100 priority of a finding and the 0–100 risk score of a scan.

Deterministic and additive, so every point can be named (docs/scanner.md has the formula):

    priority = severity points × confidence factor
             + exploitability + exposure + asset context + age        (clamped to 0–100;
                                                                       info findings at most 20)

The "why" lists each factor with the points it contributed, in plain language.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

SEVERITY_POINTS = {"critical": 60, "high": 45, "medium": 30, "low": 15, "info": 3}
CONFIDENCE_FACTORS = {"confirmed": 1.0, "firm": 0.85, "tentative": 0.6}
EXPLOIT_EASY = 12  # reachable over the network, low complexity, no privileges
EXPLOIT_NETWORK = 6  # reachable over the network, but harder
EXPLOIT_PROVEN = 8  # no CVSS vector, but an active check proved it with a payload
EXPOSURE_PUBLIC = 10  # reachable without logging in
AGE_POINTS_PER_30_DAYS = 1
AGE_MAX_POINTS = 5
INFO_CAP = 20

#: (context, points, pattern on the URL path); the first match wins, so the order is by weight.
ASSET_CONTEXTS: tuple[tuple[str, int, re.Pattern[str]], ...] = (
    ("payment", 10, re.compile(r"/(pay|payment|payments|checkout|billing|cart|order|orders|invoice)s?(/|$|\.)", re.I)),
    ("admin", 10, re.compile(r"/(admin|administrator|wp-admin|manage|management|dashboard|console)(/|$|\.)", re.I)),
    (
        "login",
        8,
        re.compile(r"/(login|logon|signin|sign-in|auth|session|password|reset|register|signup)(/|$|\.)", re.I),
    ),
    ("api", 5, re.compile(r"/(api|graphql|rest|v\d+)(/|$|\.)", re.I)),
)

THREAT_CLASSES: tuple[tuple[int, str], ...] = ((80, "Critical"), (60, "High"), (40, "Medium"), (20, "Low"))


@dataclass(frozen=True)
class Factor:
    """One term of the priority: its name, the points it added and why, in words."""

    name: str
    points: int
    why: str

    def to_dict(self) -> dict[str, Any]:
        return {"factor": self.name, "points": self.points, "why": self.why}


@dataclass(frozen=True)
class Priority:
    """A finding's priority (0–100), its threat class and the factors that make it up."""

    score: int
    threat_class: str
    factors: tuple[Factor, ...]

    def why(self) -> list[dict[str, Any]]:
        """The factors as JSON-ready dicts (stored with the finding)."""
        return [factor.to_dict() for factor in self.factors]


def threat_class(score: int) -> str:
    """Critical (80+), High (60+), Medium (40+), Low (20+) or Informational."""
    for floor, name in THREAT_CLASSES:
        if score >= floor:
            return name
    return "Informational"


def asset_context(url: str) -> tuple[str, int] | None:
    """The most sensitive kind of page ``url`` is (payment, admin, login, api) and its points."""
    path = urlsplit(url).path or "/"
    for name, points, pattern in ASSET_CONTEXTS:
        if pattern.search(path):
            return name, points
    return None


def _exploitability(cvss_vector: str, active: bool) -> Factor:
    metrics = dict(part.split(":", 1) for part in cvss_vector.split("/")[1:] if ":" in part)
    if metrics.get("AV") == "N" and metrics.get("AC") == "L" and metrics.get("PR") == "N":
        return Factor("exploitability", EXPLOIT_EASY, "easy to exploit: over the network, low complexity, no account")
    if metrics.get("AV") == "N":
        return Factor("exploitability", EXPLOIT_NETWORK, "exploitable over the network, with some effort")
    if not metrics and active:
        return Factor("exploitability", EXPLOIT_PROVEN, "an active check proved it with a payload")
    return Factor("exploitability", 0, "no easy way to exploit it is known")


def compute_priority(
    *,
    severity: str,
    confidence: str,
    url: str,
    cvss_vector: str = "",
    active: bool = False,
    requires_auth: bool = False,
    first_seen_at: datetime | None = None,
    now: datetime | None = None,
) -> Priority:
    """The priority of one finding, with the factors that explain it."""
    severity_points = SEVERITY_POINTS.get(severity, SEVERITY_POINTS["info"])
    factor = CONFIDENCE_FACTORS.get(confidence, CONFIDENCE_FACTORS["tentative"])
    base = round(severity_points * factor)
    factors = [
        Factor("severity", severity_points, f"{severity} severity"),
        Factor(
            "confidence",
            base - severity_points,
            f"{confidence} confidence (severity × {factor:g})",
        ),
        _exploitability(cvss_vector, active),
    ]
    if requires_auth:
        factors.append(Factor("exposure", 0, "only reachable after logging in"))
    else:
        factors.append(Factor("exposure", EXPOSURE_PUBLIC, "reachable by anyone, no login needed"))
    context = asset_context(url)
    if context is not None:
        article = "an" if context[0][0] in "aeiou" else "a"
        factors.append(Factor("asset", context[1], f"on {article} {context[0]} page"))
    else:
        factors.append(Factor("asset", 0, "on an ordinary page"))
    if first_seen_at is not None and now is not None:
        days = max(0, (now - first_seen_at).days)
        points = min(AGE_MAX_POINTS, (days // 30) * AGE_POINTS_PER_30_DAYS)
        factors.append(Factor("age", points, f"open for {days} day{'s' if days != 1 else ''}"))
    total = sum(f.points for f in factors)
    score = max(0, min(100, total))
    if severity == "info" and score > INFO_CAP:
        factors.append(Factor("cap", INFO_CAP - score, f"informational findings stay at or below {INFO_CAP}"))
        score = INFO_CAP
    elif total > 100:
        factors.append(Factor("cap", 100 - total, "capped at 100"))
    return Priority(score=score, threat_class=threat_class(score), factors=tuple(factors))


def scan_risk_score(priorities: Iterable[int]) -> int:
    """The risk of a whole scan (0–100): its worst open finding, plus a tenth of each of the next
    nine, capped at 100. No findings: 0."""
    ranked = sorted((p for p in priorities), reverse=True)
    if not ranked:
        return 0
    return min(100, round(ranked[0] + 0.1 * sum(ranked[1:10])))
