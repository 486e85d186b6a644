"""``spyglass market extract`` on saved pages and live loopback URLs, and ``spyglass demo-market``."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from spyglass.cli import app
from tests.market.adapters.conftest import FIXTURES, PAGES, page, requires_captured_pages, serve
from tests.support.http_server import LocalHttpServer
from tests.support.servers import free_port

BOSTON_PAGE = str(FIXTURES / "craigslist" / "search-boston-sss-2023.html")
RECIPE = '{"item": "div.ad", "title": ".ad-title a", "price": ".ad-price", "url": ".ad-title a@href"}'


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SPYGLASS_HTTP_PROXY", raising=False)
    monkeypatch.setenv("SPYGLASS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SPYGLASS_ALLOW_PRIVATE_TARGETS", "127.0.0.1/32")
    monkeypatch.setenv("SPYGLASS_HTTP_PER_HOST_DELAY_SECONDS", "0")
    monkeypatch.setenv("SPYGLASS_HTTP_TIMEOUT_SECONDS", "5")


@pytest.fixture
def server() -> Iterator[LocalHttpServer]:
    with LocalHttpServer() as running:
        yield running


def extract(*args: str) -> tuple[int, list[dict[str, object]], str]:
    result = CliRunner().invoke(app, ["market", "extract", *args])
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return result.exit_code, lines, result.stderr


@requires_captured_pages
def test_extract_prints_one_json_line_per_listing_from_a_saved_page(env: None) -> None:
    code, lines, stderr = extract("--adapter", "craigslist", BOSTON_PAGE)
    assert code == 0, stderr
    assert len(lines) == 120
    assert lines[0]["external_id"] == "7692736931"
    assert lines[0]["title"] == "Solar tea light"
    assert lines[0]["price"] == "5" and lines[0]["currency"] == "USD"
    assert lines[0]["url"] == "https://boston.craigslist.org/nos/for/d/peabody-solar-tea-light/7692736931.html"
    assert "120 listing(s)" in stderr


@requires_captured_pages
def test_extract_facebook_and_relative_links_with_a_base_url(env: None) -> None:
    code, lines, _ = extract("-a", "facebook", str(FIXTURES / "facebook" / "search-boston-2023.html"))
    assert code == 0 and len(lines) == 24
    code, lines, _ = extract("-a", "jsonld", str(PAGES / "shop-microdata.html"), "--base-url", "https://l.example/c")
    assert code == 0
    assert [line["url"] for line in lines] == ["https://l.example/p/fuji-xt3-body", "https://l.example/p/sony-a6400"]


def test_extract_a_recipe_from_a_live_url(env: None, server: LocalHttpServer, tmp_path: Path) -> None:
    serve(server, "/furniture", page("classifieds-recipe.html"))
    code, lines, stderr = extract("-a", "recipe", server.url("/furniture"), "--recipe", RECIPE)
    assert code == 0, stderr
    assert [line["title"] for line in lines] == ["Oak dining table, 6 chairs", "IKEA Billy bookcase", "Leather sofa"]
    assert lines[0]["url"] == server.url("/ads/501-oak-dining-table")
    recipe_file = tmp_path / "recipe.json"
    recipe_file.write_text(RECIPE)
    code, lines, _ = extract("-a", "recipe", server.url("/furniture"), "--recipe", f"@{recipe_file}")
    assert code == 0 and len(lines) == 3


@requires_captured_pages
def test_extract_refuses_bad_input_with_a_clear_message(env: None, server: LocalHttpServer) -> None:
    code, _, stderr = extract("-a", "amazon", BOSTON_PAGE)
    assert code == 2 and "unknown marketplace 'amazon'; known: craigslist" in stderr
    code, _, stderr = extract("-a", "recipe", BOSTON_PAGE, "--recipe", '{"item": "div[", "title": "a"}')
    assert code == 2 and "the item selector 'div[' is not valid CSS" in stderr
    code, _, stderr = extract("-a", "recipe", BOSTON_PAGE, "--recipe", "{not json")
    assert code == 2 and "--recipe is not valid JSON" in stderr
    code, _, stderr = extract("-a", "recipe", BOSTON_PAGE)
    assert code == 2 and "needs --recipe" in stderr
    code, _, stderr = extract("-a", "craigslist", "/no/such/page.html")
    assert code == 2 and "neither a file nor an http(s) URL" in stderr
    code, _, stderr = extract("-a", "craigslist", str(PAGES / "shop-itemlist.html"))
    assert code == 1 and "layout may have changed" in stderr
    assert "Traceback" not in stderr


def test_extract_urls_pass_the_url_policy_and_robots_txt(
    env: None, server: LocalHttpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    serve(server, "/bikes", page("shop-itemlist.html"))
    server.robots_txt = "User-agent: *\nDisallow: /private\n"
    code, _, stderr = extract("-a", "jsonld", server.url("/private/bikes"))
    assert code == 1 and "robots.txt" in stderr
    monkeypatch.setenv("SPYGLASS_ALLOW_PRIVATE_TARGETS", "")
    code, _, stderr = extract("-a", "jsonld", server.url("/bikes"))
    assert code == 1 and "127.0.0.1" in stderr
    assert server.hits("/bikes") == 0


def test_demo_market_serves_the_simulator(tmp_path: Path) -> None:
    port = free_port()
    env = {"SPYGLASS_DATA_DIR": str(tmp_path / "data"), "PATH": "/usr/bin:/bin"}
    command = [sys.executable, "-c", "from spyglass.cli import main; main()", "demo-market", "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--seed", "3", "--step-seconds", "3600"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        state = None
        deadline = time.monotonic() + 30
        while state is None and time.monotonic() < deadline and process.poll() is None:
            try:
                state = httpx.get(f"http://127.0.0.1:{port}/_sim/state", timeout=1).json()
            except httpx.TransportError:
                time.sleep(0.1)
        assert state is not None, "the simulator did not answer"
        assert state["seed"] == 3 and state["step"] == 0
        results = httpx.get(f"http://127.0.0.1:{port}/craigslist/search/sss", timeout=5)
        assert results.status_code == 200 and "cl-static-search-result" in results.text
    finally:
        process.terminate()
        _out, err = process.communicate(timeout=10)
    assert "SPYGLASS_MARKET_ENDPOINTS=" in err.decode()
