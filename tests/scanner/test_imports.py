"""Importing ZAP JSON, Nuclei JSONL, Wapiti JSON and SARIF reports (realistic sample files), with severity mapping."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from spyglass.scanner.catalogue import get_finding_type
from spyglass.scanner.contract import FindingCandidate
from spyglass.scanner.imports import ImportFormatError, detect_format, parse_import, severity_from_cvss
from spyglass.scanner.reports import ReportItem, ReportMeta, render_report

SAMPLES = Path(__file__).parent / "import_samples"


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def test_zap_report() -> None:
    found = parse_import(sample("zap-report.json"))
    summary = [(f.candidate.type_id, f.severity, f.candidate.url.removeprefix("http://shop.test:8080")) for f in found]
    assert summary == [
        ("xss-reflected", "high", "/search?q=%3C%2Fp%3E%3CscrIpt%3Ealert%281%29%3B%3C%2FscRipt%3E%3Cp%3E"),
        ("csp-missing", "medium", "/"),
        ("csp-missing", "medium", "/about"),
        ("zap:10109", "info", "/app"),
    ]  # the "false positive" confidence alert is left out
    xss = found[0]
    assert (xss.candidate.parameter, xss.candidate.payload) == ("q", "</p><scrIpt>alert(1);</scRipt><p>")
    assert xss.candidate.confidence == "firm" and xss.cwe == 79
    assert xss.references == [
        "https://owasp.org/www-community/attacks/xss/",
        "https://cwe.mitre.org/data/definitions/79.html",
    ]
    assert xss.remediation.startswith("Phase: Architecture and Design Use a vetted library")
    assert "<p>" not in xss.description
    assert found[1].candidate.confidence == "firm" and found[1].candidate.parameter is None
    # A mapped finding has the same fingerprint as Spyglass's own finding of that kind on that page.
    assert found[1].candidate.fingerprint == FindingCandidate("csp-missing", "http://shop.test:8080/").fingerprint
    assert found[3].candidate.details["title"] == "Modern Web Application"
    assert found[3].cwe is None


def test_nuclei_jsonl() -> None:
    found = parse_import(sample("nuclei-results.jsonl"))
    assert [(f.candidate.type_id, f.severity) for f in found] == [
        ("nuclei:git-config", "medium"),
        ("nuclei:tech-detect", "info"),
        ("nuclei:cve-2021-41773", "critical"),
    ]
    git, tech, cve = found
    assert git.candidate.url == "http://shop.test:8080/.git/config"
    assert git.cwe == 200 and git.remediation == "Deny access to /.git on the web server."
    assert git.candidate.request.startswith("GET /.git/config HTTP/1.1")
    assert tech.title == "Wappalyzer Technology Detection (nginx)"
    assert cve.candidate.method == "POST" and cve.cwe == 22
    assert cve.references == ["https://httpd.apache.org/security/vulnerabilities_24.html"]
    assert json.loads(cve.candidate.evidence) == ["root:x:0:0"]


def test_wapiti_report() -> None:
    found = parse_import(sample("wapiti-report.json"))
    assert [(f.candidate.type_id, f.severity, f.candidate.method, f.candidate.url) for f in found] == [
        ("xss-reflected", "medium", "GET", "http://shop.test:8080/search"),
        ("sql-injection", "critical", "POST", "http://shop.test:8080/login"),
        ("wapiti:weird-custom-check", "info", "GET", "http://shop.test:8080/odd"),  # unreadable level: info
        ("wapiti:internal-server-error", "high", "GET", "http://shop.test:8080/product"),
    ]
    sqli = found[1]
    assert sqli.candidate.parameter == "username"
    assert sqli.candidate.evidence == "SQL Injection (DBMS: MySQL) via injection in the parameter username"
    assert sqli.references == ["https://owasp.org/www-community/attacks/SQL_Injection"]
    assert sqli.candidate.request.startswith("POST /login HTTP/1.1")


def test_sarif_from_another_tool() -> None:
    found = parse_import(sample("other-tool.sarif"))
    assert [(f.candidate.type_id, f.severity, f.cwe) for f in found] == [
        ("webprobe:wp1001", "medium", 614),  # security-severity 4.3 wins over the "warning" level
        ("webprobe:wp2002", "high", None),  # no score: the rule's default level "error"
    ]
    assert found[0].title == "Session cookie without Secure flag"
    assert found[0].references == ["https://owasp.org/www-community/controls/SecureCookieAttribute"]


def test_spyglass_sarif_round_trips_to_catalogue_types() -> None:
    csp = get_finding_type("csp-missing")
    item = ReportItem(FindingCandidate("csp-missing", "https://shop.test/", evidence="no CSP"), csp, priority=30)
    text = render_report("sarif", [item], ReportMeta(target="https://shop.test/", started_at=datetime.now(UTC)))
    [imported] = parse_import(text)
    assert imported.candidate.type_id == "csp-missing"
    assert imported.candidate.fingerprint == item.finding.fingerprint
    assert imported.severity == severity_from_cvss(csp.cvss_score)


def test_detect_format() -> None:
    assert detect_format(sample("zap-report.json").decode()) == "zap"
    assert detect_format(sample("nuclei-results.jsonl").decode()) == "nuclei"
    assert detect_format(sample("wapiti-report.json").decode()) == "wapiti"
    assert detect_format(sample("other-tool.sarif").decode()) == "sarif"


@pytest.mark.parametrize(
    ("content", "import_format", "message"),
    [
        (b"<html>not a report</html>", None, "neither JSON nor Nuclei JSON Lines"),
        (b'{"hello": "world"}', None, "not a ZAP, Nuclei, Wapiti or SARIF report"),
        (b'{"site": "oops"}', "zap", 'no "site" list'),
        (b'{"runs": 1, "version": "2.1.0"}', "sarif", 'no "runs" list'),
        (b'{"vulnerabilities": []}', "wapiti", 'no "vulnerabilities" object'),
        (b'{"template-id": "a", "host": "http://x/"}\n{broken', "nuclei", "Line 2 of the Nuclei file is not JSON"),
        (b'{"no": "template"}', "nuclei", "Line 1 of the Nuclei file is not a Nuclei result"),
        (b"\xff\xfe\x00", None, "not UTF-8 text"),
        (b'{"site": []', "zap", "not valid JSON"),
        (b"{}", "burp", "Unknown import format 'burp'"),
    ],
)
def test_bad_files_are_refused_with_a_clear_message(content: bytes, import_format: str | None, message: str) -> None:
    with pytest.raises(ImportFormatError, match=message.replace("(", r"\(")) as refused:
        parse_import(content, import_format)
    assert refused.value.status_code == 422


def test_severity_from_cvss() -> None:
    assert [severity_from_cvss(s) for s in (9.8, 9.0, 7.5, 4.0, 3.9, 0.1, 0.0)] == [
        "critical", "critical", "high", "medium", "low", "low", "info"
    ]  # fmt: skip
