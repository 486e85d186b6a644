"""Fingerprinted static files: URLs in pages, immutable caching, plain paths, stale fingerprints, a CDN base."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from pydantic import ValidationError

from spyglass.app import create_app
from spyglass.core.assets import AssetManifest
from spyglass.core.services import Services
from spyglass.web.templating import STATIC_DIR
from tests.conftest import make_settings
from tests.support.client import app_client

# Static files touch no database: one backend is enough.
pytestmark = pytest.mark.backends("sqlite")

Client = AsyncTestClient[Litestar]
CSS = STATIC_DIR / "css" / "spyglass.css"


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


async def test_pages_link_fingerprinted_assets_served_immutable(client: Client) -> None:
    page = await client.get("/login")
    assert page.status_code == 200
    url = f"/static/css/spyglass.{digest(CSS)}.css"
    assert f'href="{url}"' in page.text
    assert re.search(r'src="/static/vendor/htmx\.min\.[0-9a-f]{12}\.js"', page.text)
    assert "/static/css/spyglass.css" not in page.text

    response = await client.get(url)
    assert response.status_code == 200
    assert response.content == CSS.read_bytes()
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert response.headers["content-type"].startswith("text/css")
    assert "set-cookie" not in response.headers  # a CDN must be able to share it between users


async def test_plain_paths_still_work_with_a_short_max_age(client: Client) -> None:
    response = await client.get("/static/js/spyglass.js")
    assert response.status_code == 200
    assert response.content == (STATIC_DIR / "js" / "spyglass.js").read_bytes()
    assert response.headers["cache-control"] == "public, max-age=300"


async def test_a_stale_fingerprint_gets_the_current_file_uncached(client: Client) -> None:
    response = await client.get("/static/css/spyglass.0123456789ab.css")
    assert response.status_code == 200
    assert response.content == CSS.read_bytes()
    assert response.headers["cache-control"] == "no-cache"


async def test_head_answers_without_a_body(client: Client) -> None:
    response = await client.head(f"/static/css/spyglass.{digest(CSS)}.css")
    assert response.status_code == 200
    assert response.content == b""
    assert int(response.headers["content-length"]) == CSS.stat().st_size


async def test_nothing_outside_the_known_files_is_served(client: Client) -> None:
    for path in (
        "/static/css/missing.css",
        "/static/css/missing.0123456789ab.css",
        "/static/../config.py",
        "/static/%2e%2e/%2e%2e/config.py",
        "/static/css/..%2f..%2f..%2fapp.py",
        "/static/css",
    ):
        response = await client.get(path)
        assert response.status_code == 404, path
        assert "Traceback" not in response.text


async def test_a_cdn_base_url_prefixes_asset_urls_and_is_allowed_by_the_csp(tmp_path: Path, database_url: str) -> None:
    settings = make_settings(tmp_path, database_url, static_url="https://cdn.example.test/static/")
    services = Services.build(settings)
    try:
        async with app_client(create_app(settings, services=services)) as client:
            page = await client.get("/login")
    finally:
        await services.close()
    assert f'href="https://cdn.example.test/static/css/spyglass.{digest(CSS)}.css"' in page.text
    policy = page.headers["content-security-policy"]
    assert "script-src 'self' https://cdn.example.test;" in policy
    assert "style-src 'self' https://cdn.example.test;" in policy
    assert "connect-src 'self';" in policy


@pytest.mark.parametrize("value", ["cdn.example.test", "ftp://cdn.example.test", "static"])
def test_a_static_url_that_is_neither_a_path_nor_http_is_refused(tmp_path: Path, value: str) -> None:
    with pytest.raises(ValidationError, match="static_url"):
        make_settings(tmp_path, "sqlite+aiosqlite:///x.db", static_url=value)


def test_the_manifest_hashes_once_and_names_files_by_content(tmp_path: Path) -> None:
    (tmp_path / "css").mkdir()
    style = tmp_path / "css" / "app.css"
    style.write_text("body { color: red }")
    (tmp_path / "LICENSE").write_text("text")
    manifest = AssetManifest(tmp_path)
    red = hashlib.sha256(b"body { color: red }").hexdigest()[:12]
    assert manifest.url("css/app.css") == f"/static/css/app.{red}.css"
    assert manifest.url("/css/app.css", "https://cdn.example.test/s") == f"https://cdn.example.test/s/css/app.{red}.css"
    assert manifest.fingerprinted("LICENSE") == "LICENSE"  # no suffix to keep: served under its plain name
    assert manifest.fingerprinted("css/unknown.css") == "css/unknown.css"

    style.write_text("body { color: blue }")
    assert manifest.url("css/app.css").endswith(f".{red}.css")  # computed at start-up, not per request
    blue = AssetManifest(tmp_path).hashes["css/app.css"]
    assert blue != red
    found = manifest.lookup(f"css/app.{red}.css")
    assert found is not None and found.cache_control == "public, max-age=31536000, immutable"
    assert manifest.lookup(f"css/app.{blue}.css") is not None
    assert manifest.lookup(f"LICENSE.{manifest.hashes['LICENSE']}") is None  # no suffix: only the plain name
