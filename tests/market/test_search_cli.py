"""``spyglass market search``: a one-off search against a real local shop, printed as JSON lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from spyglass.cli import app
from tests.conftest import TEST_SECRET
from tests.market.shop import Product, Shop


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("SPYGLASS_REDIS_URL", "SPYGLASS_DATABASE_URL", "SPYGLASS_ENVIRONMENT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SPYGLASS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SPYGLASS_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("SPYGLASS_ALLOW_PRIVATE_TARGETS", "127.0.0.1/32")
    monkeypatch.setenv("SPYGLASS_HTTP_PER_HOST_DELAY_SECONDS", "0")


def test_search_prints_matching_listings_as_json_lines(cli_env: None, shop: Shop) -> None:
    url = shop.serve(
        "/lamps",
        [
            Product("l1", "Anglepoise desk lamp", "95.00"),
            Product("l2", "Brass desk lamp", "250.00"),
            Product("l3", "Floor lamp", "60.00"),
        ],
    )
    result = CliRunner().invoke(
        app, ["market", "search", "-a", "jsonld", "--url", url, "-k", '"desk lamp"', "--price-max", "100"]
    )
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [(item["external_id"], item["price"]) for item in lines] == [("l1", "95.00")]
    assert "1 of 3 listing(s) match" in result.stderr


def test_bad_input_and_unreachable_sites_exit_with_a_message(cli_env: None, shop: Shop) -> None:
    runner = CliRunner()
    bad = runner.invoke(app, ["market", "search", "-a", "nosuch", "-k", "lamp", "--price-min", "9", "--price-max", "1"])
    assert bad.exit_code == 2
    assert "unknown marketplace 'nosuch'" in bad.stderr and "below the minimum" in bad.stderr
    shop.status = 503
    down = runner.invoke(app, ["market", "search", "-a", "jsonld", "--url", shop.serve("/x", []), "-k", "lamp"])
    assert down.exit_code == 1 and "no marketplace answered" in down.stderr
