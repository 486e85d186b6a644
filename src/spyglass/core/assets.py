"""Fingerprinted static assets: ``asset_url("css/spyglass.css")`` → ``/static/css/spyglass.<hash>.css``.

Every file under the static folder is hashed once at start-up (SHA-256 of its bytes, 12 hex digits). A
fingerprinted URL names one exact content, so it is served with ``Cache-Control: public, max-age=31536000,
immutable``: browsers and a CDN (``SPYGLASS_STATIC_URL``) keep it for a year and a deploy that changes the
file changes its URL. Plain paths (``/static/css/spyglass.css``) keep working with a short max-age.

A fingerprint that is not the current one (a page rendered by an older or newer process during a rolling
deploy) still gets the current file, but with ``no-cache``, so no cache keeps the wrong bytes under it.
Only files found at start-up are served, so no request path can reach outside the folder.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path, PurePath
from typing import Any

from litestar import Router, get, head
from litestar.exceptions import NotFoundException
from litestar.file_system import BaseLocalFileSystem
from litestar.params import FromPath
from litestar.response.file import ASGIFileResponse

IMMUTABLE = "public, max-age=31536000, immutable"
SHORT_LIVED = "public, max-age=300"
STALE_FINGERPRINT = "no-cache"
HASH_LENGTH = 12
_FINGERPRINT = re.compile(rf"^(?P<stem>.+)\.(?P<hash>[0-9a-f]{{{HASH_LENGTH}}})(?P<suffix>\.[^./]+)$")


@dataclass(frozen=True)
class StaticFile:
    """A file the router may send, with the Cache-Control its URL earns."""

    path: Path
    cache_control: str


class AssetManifest:
    """The content hash of every file under ``directory``, computed once."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory.resolve()
        self.hashes: dict[str, str] = {}
        for file in sorted(self.directory.rglob("*")):
            if file.is_file():
                digest = hashlib.sha256(file.read_bytes()).hexdigest()[:HASH_LENGTH]
                self.hashes[file.relative_to(self.directory).as_posix()] = digest

    def fingerprinted(self, name: str) -> str:
        """``css/spyglass.css`` → ``css/spyglass.<hash>.css``; an unknown name (or one without a suffix) is
        returned as it is."""
        name = name.lstrip("/")
        digest = self.hashes.get(name)
        folder, _, filename = name.rpartition("/")
        stem, _, suffix = filename.rpartition(".")
        if digest is None or not stem:
            return name
        hashed = f"{stem}.{digest}.{suffix}"
        return f"{folder}/{hashed}" if folder else hashed

    def url(self, name: str, base_url: str = "/static") -> str:
        """The public URL of asset ``name`` under ``base_url`` (``/static`` or a CDN)."""
        return f"{base_url.rstrip('/')}/{self.fingerprinted(name)}"

    def lookup(self, request_path: str) -> StaticFile | None:
        """The file a ``/static/...`` request path names, or None."""
        name = request_path.lstrip("/")
        if name in self.hashes:
            return StaticFile(self.directory / name, SHORT_LIVED)
        match = _FINGERPRINT.match(name)
        if match is None:
            return None
        original = match["stem"] + match["suffix"]
        if original not in self.hashes:
            return None
        current = self.hashes[original] == match["hash"]
        return StaticFile(self.directory / original, IMMUTABLE if current else STALE_FINGERPRINT)


@cache
def manifest_for(directory: Path) -> AssetManifest:
    """The manifest of ``directory``, built on first use and kept for the life of the process."""
    return AssetManifest(directory)


def asset_url_callable(directory: Path) -> Any:
    """The ``asset_url(name)`` template callable: fingerprinted URL under ``SPYGLASS_STATIC_URL`` or ``/static``."""

    def asset_url(context: Any, name: str) -> str:
        request = context.get("request")
        settings = getattr(request.app.state, "settings", None) if request is not None else None
        base = getattr(settings, "static_url", "") or "/static"
        return manifest_for(directory).url(name, base)

    return asset_url


def static_files_router(directory: Path, path: str = "/static") -> Router:
    """GET/HEAD ``{path}/{file}`` for the files of ``directory``, with the cache headers above."""
    file_system = BaseLocalFileSystem()

    async def send(file_path: PurePath, *, is_head: bool) -> ASGIFileResponse:
        found = manifest_for(directory).lookup(file_path.as_posix())
        if found is None:
            raise NotFoundException("No such static file.")
        return ASGIFileResponse(
            file_path=found.path,
            file_system=file_system,
            filename=found.path.name,
            content_disposition_type="inline",
            is_head_response=is_head,
            headers={"Cache-Control": found.cache_control},
        )

    @get("/{file_path:path}", name="static", include_in_schema=False)
    async def get_static(file_path: FromPath[PurePath]) -> ASGIFileResponse:
        return await send(file_path, is_head=False)

    @head("/{file_path:path}", name="static/head", include_in_schema=False)
    async def head_static(file_path: FromPath[PurePath]) -> ASGIFileResponse:
        return await send(file_path, is_head=True)

    return Router(path=path, route_handlers=[get_static, head_static], include_in_schema=False)
