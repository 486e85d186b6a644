"""The finding catalogue: complete for every type the checks report, consistent, with correct CVSS scores."""

from __future__ import annotations

import re

import pytest

from spyglass.scanner.catalogue import all_finding_types, get_finding_type
from spyglass.scanner.catalogue.passive import cvss31_base_score
from spyglass.scanner.checks.registry import all_checks
from tests.scanner.apps.vulnerable import expected_findings
from tests.scanner.checks.expectations import TYPES_BY_CHECK

SEVERITY_BANDS = {
    "critical": (9.0, 10.0),
    "high": (7.0, 8.9),
    "medium": (4.0, 6.9),
    "low": (0.1, 4.9),
    "info": (0, 3.9),
}


@pytest.mark.parametrize(
    ("vector", "score"),
    [
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0),
        ("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N", 6.5),
        ("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 7.8),
        ("CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N", 1.6),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0),
    ],
)
def test_cvss_base_score_matches_the_specification_examples(vector: str, score: float) -> None:
    assert cvss31_base_score(vector) == score


def test_every_reported_type_has_a_catalogue_entry() -> None:
    reported = set().union(*TYPES_BY_CHECK.values()) | {e.type_id for e in expected_findings("http")}
    assert reported == {entry.id for entry in all_finding_types()}
    assert get_finding_type("sql-injection").active and not get_finding_type("csp-missing").active


@pytest.mark.parametrize("entry", all_finding_types(), ids=lambda entry: entry.id)
def test_entries_are_complete_and_consistent(entry) -> None:  # type: ignore[no-untyped-def]
    assert entry.title and entry.description.endswith((".", ".)")) and entry.remediation.endswith(".")
    assert entry.cwe > 0 and re.fullmatch(r"A(0[1-9]|10):2021-[A-Z][\w ,-]+", entry.owasp)
    assert entry.references and all(ref.startswith("https://") for ref in entry.references)
    assert entry.cvss_score == cvss31_base_score(entry.cvss_vector)
    low, high = SEVERITY_BANDS[entry.severity]
    assert low <= entry.cvss_score <= high, f"{entry.id}: {entry.severity} with CVSS {entry.cvss_score}"


def test_each_type_belongs_to_the_family_of_the_check_reporting_it() -> None:
    checks = {check.id: check for check in all_checks()}
    assert set(checks) == set(TYPES_BY_CHECK)
    for check_id, types in TYPES_BY_CHECK.items():
        for type_id in types:
            entry = get_finding_type(type_id)
            assert (entry.family, entry.active) == (checks[check_id].family, checks[check_id].active), type_id
