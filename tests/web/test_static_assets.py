"""Static assets: our stylesheet and script, the npm-vendored libraries copied by
scripts/build_assets.py, and every asset the base layout links to."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = ROOT / "scripts" / "build_assets.py"


@pytest.mark.parametrize(
    ("path", "content_type", "marker"),
    [
        ("/static/css/spyglass.css", "text/css", ".skip-link"),
        ("/static/js/spyglass.js", "javascript", "data-confirm"),
        ("/static/img/spyglass.svg", "image/svg+xml", "<svg"),
    ],
)
async def test_own_assets_are_served(
    client: AsyncTestClient[Litestar], path: str, content_type: str, marker: str
) -> None:
    response = await client.get(path)

    assert response.status_code == 200
    assert content_type in response.headers["content-type"]
    assert marker in response.text


async def test_vendored_htmx_is_the_npm_locked_copy(client: AsyncTestClient[Litestar]) -> None:
    """`make assets` (npm ci + scripts/build_assets.py) has run: htmx is served byte for byte from npm."""
    npm_copy = ROOT / "node_modules" / "htmx.org" / "dist" / "htmx.min.js"
    response = await client.get("/static/vendor/htmx.min.js")

    assert response.status_code == 200, "run `make assets` (npm ci && python scripts/build_assets.py)"
    assert "javascript" in response.headers["content-type"]
    assert response.content == npm_copy.read_bytes()


def test_build_script_copies_every_listed_asset(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(BUILD_SCRIPT), "--dest", str(tmp_path)], capture_output=True, text=True, check=False
    )

    assert result.returncode == 0, result.stderr
    assert (tmp_path / "htmx.min.js").read_bytes() == (ROOT / "node_modules/htmx.org/dist/htmx.min.js").read_bytes()
    assert not list(tmp_path.glob(".*.partial"))


async def test_every_asset_linked_by_the_layout_is_served(client: AsyncTestClient[Litestar]) -> None:
    page = await client.get("/")
    assets = set(re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text))

    plain = {re.sub(r"\.[0-9a-f]{12}(\.\w+)$", r"\1", asset) for asset in assets}  # fingerprints (core/assets.py)
    assert {"/static/css/spyglass.css", "/static/js/spyglass.js", "/static/vendor/htmx.min.js"} <= plain
    for asset in sorted(assets):
        response = await client.get(asset)
        assert response.status_code == 200, asset


async def test_missing_asset_is_a_404(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/static/css/nope.css")

    assert response.status_code == 404
