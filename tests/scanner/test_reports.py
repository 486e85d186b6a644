"""Scan reports: JSON, CSV (spreadsheet-safe), SARIF 2.1.0 valid against the OASIS schema, escaped printable HTML."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
from selectolax.lexbor import LexborHTMLParser

from spyglass.scanner.catalogue import get_finding_type
from spyglass.scanner.contract import FindingCandidate, FindingType
from spyglass.scanner.reports import REPORT_FORMATS, ReportItem, ReportMeta, render_report
from spyglass.scanner.reports.csv_report import COLUMNS

SCHEMA = json.loads((Path(__file__).parent / "sarif-schema-2.1.0.json").read_text())
NASTY = '<script>alert("x")</script>'

HOSTILE_TYPE = FindingType(
    id="reflected-xss-test",
    title=f"Reflected XSS {NASTY}",
    family="xss",
    cwe=79,
    owasp="A03:2021-Injection",
    severity="high",
    description="Input is echoed <b>unescaped</b>.",
    remediation="Encode output for its context & validate input.",
    references=("https://owasp.org/www-community/attacks/xss/",),
    cvss_vector="CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N",
    cvss_score=6.1,
    active=True,
)


def items() -> list[ReportItem]:
    csp = get_finding_type("csp-missing")
    xss = ReportItem(
        FindingCandidate(
            "reflected-xss-test",
            f"https://shop.test/search?q={NASTY}",
            parameter="q",
            payload=NASTY,
            evidence=f"<p>You searched for [[{NASTY}]]</p>",
            request="GET /search?q=... HTTP/1.1",
            response=f"HTTP/1.1 200 OK\r\n\r\n<p>[[{NASTY}]]</p>",
            confidence="confirmed",
        ),
        HOSTILE_TYPE,
        priority=81,
        threat_class="Critical",
    )
    return [
        ReportItem(FindingCandidate("csp-missing", "https://shop.test/"), csp, priority=30, threat_class="Low"),
        xss,
        ReportItem(
            FindingCandidate("csp-missing", "https://shop.test/about", evidence='=HYPERLINK("http://evil")'),
            csp,
            priority=25,
            status="false_positive",
            threat_class="Low",
        ),
    ]


META = ReportMeta(
    target="https://shop.test/",
    scan_id=42,
    started_at=datetime(2026, 5, 1, 10, 0, tzinfo=UTC),
    finished_at=datetime(2026, 5, 1, 10, 5, tzinfo=UTC),
    profile="active",
    risk_score=84,
    pages_crawled=12,
    requests_sent=340,
)


def test_json_report_lists_findings_by_priority_with_catalogue_facts() -> None:
    document = json.loads(render_report("json", items(), META))
    assert document["scan"]["id"] == 42 and document["scan"]["risk_score"] == 84
    assert document["scan"]["started_at"] == "2026-05-01T10:00:00+00:00"
    assert document["counts"] == {"critical": 0, "high": 1, "medium": 0, "low": 2, "info": 0}
    assert [f["priority"] for f in document["findings"]] == [81, 30, 25]
    top = document["findings"][0]
    assert (top["type"], top["cwe"], top["owasp"], top["parameter"]) == ("reflected-xss-test", 79,
                                                                          "A03:2021-Injection", "q")  # fmt: skip
    assert top["payload"] == NASTY  # JSON keeps data as data
    assert top["fingerprint"] == items()[1].finding.fingerprint
    assert document["findings"][2]["status"] == "false_positive"


def test_csv_report_round_trips_and_defuses_formulas() -> None:
    text = render_report("csv", items(), META)
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == list(COLUMNS)
    assert len(rows) == 4
    by_column = [dict(zip(COLUMNS, row, strict=True)) for row in rows[1:]]
    assert by_column[0]["payload"] == NASTY
    assert by_column[0]["url"] == f"https://shop.test/search?q={NASTY}"
    # A cell a spreadsheet would run as a formula starts with a quote instead.
    assert by_column[2]["evidence"] == '\'=HYPERLINK("http://evil")'
    assert by_column[1]["severity"] == "low" and by_column[1]["cwe"] == str(get_finding_type("csp-missing").cwe)


def sarif_errors(log: Any) -> list[str]:
    validator = jsonschema.Draft7Validator(SCHEMA, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
    return [f"{list(error.absolute_path)}: {error.message}" for error in validator.iter_errors(log)]


def test_sarif_report_is_valid_against_the_schema() -> None:
    log = json.loads(render_report("sarif", items(), META))
    assert sarif_errors(log) == []
    [run] = log["runs"]
    rules = run["tool"]["driver"]["rules"]
    assert [rule["id"] for rule in rules] == ["csp-missing", "reflected-xss-test"]  # one rule per type
    xss_rule = rules[1]
    assert "CWE-79" in xss_rule["properties"]["tags"]
    assert xss_rule["properties"]["security-severity"] == "6.1"
    assert xss_rule["helpUri"] == "https://owasp.org/www-community/attacks/xss/"
    results = run["results"]
    assert [r["level"] for r in results] == ["error", "note", "note"]
    for result in results:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
    assert results[0]["rank"] == 81.0
    assert results[0]["partialFingerprints"]["spyglassFingerprint/v1"] == items()[1].finding.fingerprint
    assert results[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].startswith("https://shop.test/")
    assert "suppressions" not in results[0]
    assert results[2]["suppressions"][0]["kind"] == "external"
    assert run["invocations"][0] == {"executionSuccessful": True, "startTimeUtc": "2026-05-01T10:00:00Z",
                                     "endTimeUtc": "2026-05-01T10:05:00Z"}  # fmt: skip
    assert run["automationDetails"]["id"] == "spyglass/scan/42"


def test_sarif_of_an_empty_or_stopped_scan_is_valid() -> None:
    stopped = ReportMeta(target="http://127.0.0.1:8000/", stopped_reason="budget")
    log = json.loads(render_report("sarif", [], stopped))
    assert sarif_errors(log) == []
    assert log["runs"][0]["results"] == []
    assert log["runs"][0]["invocations"][0]["executionSuccessful"] is False


def test_the_schema_rejects_what_sarif_forbids() -> None:
    # The schema file is in force: a result without a message, or an unknown level, is refused.
    log = json.loads(render_report("sarif", items(), META))
    del log["runs"][0]["results"][0]["message"]
    log["runs"][0]["results"][1]["level"] = "critical"
    errors = sarif_errors(log)
    assert any("'message' is a required property" in e for e in errors)
    assert any("'critical' is not one of" in e for e in errors)


def test_html_report_escapes_everything_and_marks_evidence() -> None:
    html = render_report("html", items(), META)
    assert NASTY not in html
    tree = LexborHTMLParser(html)
    assert tree.css("script") == []  # nothing from the findings became markup
    title = tree.css_first("title")
    assert title is not None and title.text() == "Security report for https://shop.test/"
    articles = tree.css("article.finding")
    assert [a.css_first("h3").text() for a in articles if a.css_first("h3")] == [  # type: ignore[union-attr]
        f"1. Reflected XSS {NASTY}",
        "2. " + get_finding_type("csp-missing").title,
        "3. " + get_finding_type("csp-missing").title,
    ]
    marks = [mark.text() for mark in articles[0].css("mark")]
    assert marks == [NASTY, NASTY]  # evidence and response: the marked part, as text
    assert "high (confirmed confidence)" in articles[0].text()
    assert "false positive" in articles[2].text()
    summary = [cell.text() for cell in tree.css("section table tbody td")]
    assert summary == ["0", "1", "0", "2", "0"]
    assert "Risk score: 84 / 100" in tree.body.text(separator=" ", deep=True).replace("  ", " ")  # type: ignore[union-attr]


def test_html_report_of_no_findings() -> None:
    html = render_report("html", [], ReportMeta(target="https://clean.test/"))
    assert "No findings." in html


def test_every_format_renders_and_unknown_formats_are_refused() -> None:
    for report_format in REPORT_FORMATS:
        assert render_report(report_format, items(), META)
    with pytest.raises(ValueError, match="unknown report format 'pdf'"):
        render_report("pdf", items(), META)
