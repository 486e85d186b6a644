"""``spyglass scan``: a scan from the terminal against a real loopback site, reports, --fail-on, and the
verification rule for active checks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from spyglass.cli import app
from tests.scanner.pipeline.site import DemoSite
from tests.support.http_server import LocalHttpServer, Reply, ServerRequest

FAST = ["--max-pages", "8", "--rate", "1000", "--quiet"]


@pytest.fixture
def site() -> Iterator[DemoSite]:
    with LocalHttpServer() as server:
        yield DemoSite(server)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("SPYGLASS_VERIFIED_TARGETS", "SPYGLASS_SCAN_VERIFICATION_TOKEN", "SPYGLASS_HTTP_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SPYGLASS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SPYGLASS_ALLOW_PRIVATE_TARGETS", "127.0.0.1/32")
    monkeypatch.setenv("SPYGLASS_HTTP_PER_HOST_DELAY_SECONDS", "0")
    monkeypatch.setenv("SPYGLASS_HTTP_TIMEOUT_SECONDS", "5")


def scan(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["scan", *args])
    return result.exit_code, result.stdout, result.stderr


def test_passive_scan_writes_a_json_report_to_stdout(env: None, site: DemoSite) -> None:
    code, stdout, stderr = scan(site.server.url("/"), *FAST)
    assert code == 0, stderr
    report = json.loads(stdout)
    assert report["scan"]["target"] == site.server.url("/")
    assert report["scan"]["pages_crawled"] == 8
    assert report["scan"]["requests_sent"] == len(site.server.requests)
    types = {finding["type"] for finding in report["findings"]}
    assert "csp-missing" in types  # the demo site sends no security headers
    assert all(finding["url"].startswith(site.server.origin) for finding in report["findings"])
    assert "Scanned 8 pages" in stderr
    # Passive: no attack reached the site.
    assert all(request.method == "GET" for request in site.server.requests)


def test_fail_on_exits_1_at_or_above_the_threshold(env: None, site: DemoSite) -> None:
    code, _, stderr = scan(site.server.url("/"), *FAST, "--fail-on", "low")
    assert code == 1
    assert "at or above low: failing" in stderr
    code, _, _ = scan(site.server.url("/"), *FAST, "--fail-on", "critical")
    assert code == 0


@pytest.mark.parametrize("report_format", ["sarif", "html", "csv"])
def test_report_formats_written_to_a_file(env: None, site: DemoSite, tmp_path: Path, report_format: str) -> None:
    output = tmp_path / f"report.{report_format}"
    code, stdout, stderr = scan(site.server.url("/"), *FAST, "--format", report_format, "--output", str(output))
    assert code == 0, stderr
    assert stdout == ""
    text = output.read_text()
    if report_format == "sarif":
        assert json.loads(text)["runs"][0]["results"]
    elif report_format == "html":
        assert "Security report for" in text and "csp" in text.lower()
    else:
        assert text.startswith("priority,threat_class,severity")


def test_scope_options_are_obeyed(env: None, site: DemoSite) -> None:
    code, _, _ = scan(site.server.url("/"), "--exclude", "/deep/", "--exclude", "/admin*", "--max-depth", "1",
                           "--rate", "1000", "--quiet")  # fmt: skip
    assert code == 0
    paths = [request.path for request in site.server.requests]
    assert not any(path.startswith(("/deep/", "/admin")) for path in paths)
    assert "/about" in paths and "/team.html" not in paths  # depth 2 is past --max-depth 1


def test_active_scan_of_an_unproven_target_is_refused(env: None, site: DemoSite) -> None:
    code, _, stderr = scan(site.server.url("/"), "--profile", "active", *FAST)
    assert code == 2
    assert "Active scan refused" in stderr and "/.well-known/spyglass-verification.txt" in stderr
    assert [r.path for r in site.server.requests if r.path != "/robots.txt"] == []
    code, _, stderr = scan(site.server.url("/"), "--profile", "custom", "--family", "methods", *FAST,
                           "--verification-token", "sgv-wrong")  # fmt: skip
    assert code == 2
    assert "does not contain this target's token" in stderr or "answered 404" in stderr


def test_active_scan_runs_with_the_token_file(env: None, site: DemoSite) -> None:
    async def proof(request: ServerRequest) -> Reply:
        return Reply(200, b"sgv-0123456789abcdef\n", {"Content-Type": "text/plain"})

    site.server.route("/.well-known/spyglass-verification.txt", proof)
    code, _, stderr = scan(site.server.url("/"), "--profile", "custom", "--family", "methods", *FAST,
                           "--verification-token", "sgv-0123456789abcdef")  # fmt: skip
    assert code == 0, stderr
    methods = {request.method for request in site.server.requests}
    assert methods - {"GET"}, "the active methods check sent no probe"


def test_active_scan_runs_for_an_allow_listed_host(env: None, site: DemoSite, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPYGLASS_VERIFIED_TARGETS", "127.0.0.1")
    code, _, stderr = scan(site.server.url("/"), "--profile", "custom", "--family", "methods", *FAST)
    assert code == 0, stderr
    assert {request.method for request in site.server.requests} - {"GET"}


def test_form_login_options(env: None, site: DemoSite) -> None:
    login = site.server.url("/login")
    code, _, stderr = scan(site.server.url("/"), "--login-url", login, "--login-field", "username=alice",
                           "--login-field", "password=correct horse", "--rate", "1000", "--quiet")  # fmt: skip
    assert code == 0, stderr
    assert "/account/orders" in [request.path for request in site.server.requests]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ftp://example.com/"], "URL must be an absolute http:// or https:// URL"),
        (["http://127.0.0.1:1/", "--profile", "aggressive"], "--profile must be one of passive, active, custom"),
        (["http://127.0.0.1:1/", "--format", "pdf"], "--format must be one of json, csv, sarif, html"),
        (["http://127.0.0.1:1/", "--fail-on", "severe"], "--fail-on must be one of critical, high"),
        (["http://127.0.0.1:1/", "--profile", "custom"], "the custom profile needs at least one --family"),
        (["http://127.0.0.1:1/", "--family", "voodoo"], "unknown check family voodoo"),
        (["http://127.0.0.1:1/", "--auth-cookie", "a=1", "--auth-header", "X: y"], "choose one way to log in"),
        (["http://127.0.0.1:1/", "--auth-header", "no colon"], "--auth-header must look like 'Name: value'"),
        (["http://127.0.0.1:1/", "--login-field", "user=a"], "--login-field needs --login-url"),
        (["http://127.0.0.1:1/", "--max-pages", "0"], "Invalid value for '--max-pages'"),
    ],
)
def test_bad_input_exits_2_with_a_message(env: None, args: list[str], message: str) -> None:
    code, stdout, stderr = scan(*args)
    assert code == 2
    assert message in stderr
    assert "Traceback" not in stderr + stdout


def test_unreachable_target_exits_3(env: None) -> None:
    with LocalHttpServer() as gone:
        url = gone.url("/")
    code, _, stderr = scan(url, "--quiet")
    assert code == 3
    assert "Nothing was scanned" in stderr and "could not be reached" in stderr


def test_policy_refused_target_exits_3(env: None, monkeypatch: pytest.MonkeyPatch, site: DemoSite) -> None:
    monkeypatch.setenv("SPYGLASS_ALLOW_PRIVATE_TARGETS", "")
    code, _, stderr = scan(site.server.url("/"), "--quiet")
    assert code == 3
    assert "Nothing was scanned" in stderr
    assert site.server.requests == []


async def test_the_progress_bar_follows_the_scan() -> None:
    import io

    from rich.console import Console
    from rich.progress import Progress

    from spyglass.scanner.cli import TerminalObserver
    from spyglass.scanner.contract import FindingCandidate, ScanProgress

    with Progress(console=Console(file=io.StringIO(), force_terminal=True)) as bar:
        task = bar.add_task("starting", total=100, pages=0, requests=0, findings=0)
        observer = TerminalObserver(bar, task)
        await observer.progress(ScanProgress("checking", 55, pages_crawled=12, requests_sent=340, findings=3))
        await observer.finding(FindingCandidate("csp-missing", "https://shop.test/"))
        state = bar.tasks[0]
    assert (state.description, state.completed) == ("checking", 55)
    assert state.fields == {"pages": 12, "requests": 340, "findings": 3}
    assert [f.type_id for f in observer.findings] == ["csp-missing"]
    assert observer.cancelled() is False
