"""The vulnerable JavaScript library signatures."""

from __future__ import annotations

from spyglass.scanner import jslibs
from tests.scanner.apps.clean import JQUERY_3_7_1
from tests.scanner.apps.vulnerable import JQUERY_1_8_3


def test_detects_jquery_by_its_banner_with_every_advisory_of_that_version() -> None:
    [detection] = jslibs.detect("https://example.com/js/lib.js", JQUERY_1_8_3)
    assert (detection.library, detection.version, detection.source) == ("jquery", "1.8.3", "content")
    ids = {i for v in detection.vulnerabilities for i in v.ids}
    assert ids == {"CVE-2012-6708", "CVE-2015-9251", "CVE-2019-11358", "CVE-2020-11022", "CVE-2020-11023"}


def test_fixed_versions_have_no_vulnerabilities() -> None:
    [detection] = jslibs.detect("https://example.com/jquery-3.7.1.min.js", JQUERY_3_7_1)
    assert detection.version == "3.7.1" and detection.vulnerabilities == ()


def test_version_ranges_are_bounded_on_both_sides() -> None:
    [old] = jslibs.detect("https://example.com/bootstrap-4.1.0.min.js")
    assert old.source == "filename" and [v.below for v in old.vulnerabilities] == ["4.3.1"]
    [fixed] = jslibs.detect("https://example.com/bootstrap-3.4.1.js")
    assert fixed.vulnerabilities == ()  # 3.4.1 fixed the 3.x issues and is below the 4.x range


def test_jquery_ui_is_not_mistaken_for_jquery() -> None:
    [detection] = jslibs.detect("https://example.com/ui.js", "/*! jQuery UI - v1.12.1 - 2016-09-14 */")
    assert detection.library == "jquery-ui" and detection.version == "1.12.1"
    assert {i for v in detection.vulnerabilities for i in v.ids} >= {"CVE-2021-41184", "CVE-2022-31160"}


def test_unknown_scripts_and_version_parsing() -> None:
    assert jslibs.detect("https://example.com/app.js", "console.log('hi')") == []
    assert jslibs.parse_version("1.12.4") > jslibs.parse_version("1.9.0")
    assert all(lib.vulnerabilities for lib in jslibs.libraries())
