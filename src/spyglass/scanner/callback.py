"""The out-of-band callback listener for SSRF checks.

A small HTTP server Spyglass runs on a configurable address (``scanner_callback_host`` /
``scanner_callback_port``; reachable by targets at ``scanner_callback_public_url``). A check puts
``listener.url_for(token)`` into a parameter, each injection with its own unique token; when the target
fetches that URL the listener records a hit for the token, which proves the server-side request.
Only issued tokens are recorded, so requests from anywhere else cost nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from spyglass.config import Settings

MAX_TOKENS = 100_000
MAX_HITS_PER_TOKEN = 10
READ_TIMEOUT = 5.0

_LISTENERS: dict[str, CallbackListener] = {}


@dataclass(frozen=True)
class CallbackHit:
    """One request that reached the listener with a token it issued."""

    token: str
    method: str
    path: str
    peer: str
    user_agent: str
    at: float


async def start_from_settings(settings: Settings) -> CallbackListener | None:
    """Start the listener the settings describe (None when ``scanner_callback_enabled`` is off).

    A process starts one and puts its ``base_url`` in each plan's ``callback_base_url``; every scan of
    the process shares it (tokens are unique per injection). Each worker process needs its own port
    and public URL.
    """
    if not settings.scanner_callback_enabled:
        return None
    listener = CallbackListener(
        settings.scanner_callback_host, settings.scanner_callback_port, settings.scanner_callback_public_url or None
    )
    return await listener.start()


def listener_for(base_url: str | None) -> CallbackListener | None:
    """The running listener whose public base URL is ``base_url`` (None when there is none)."""
    return _LISTENERS.get(base_url.rstrip("/")) if base_url else None


class CallbackListener:
    """An HTTP listener recording the tokens requested from it. Use ``async with`` or start()/stop()."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, public_base_url: str | None = None) -> None:
        self.host = host
        self.port = port
        self._public_base_url = public_base_url.rstrip("/") if public_base_url else None
        self._server: asyncio.Server | None = None
        self._hits: dict[str, list[CallbackHit]] = {}
        self._waiters: set[asyncio.Event] = set()  # one per wait_for call in progress

    @property
    def base_url(self) -> str:
        """Where targets reach the listener."""
        if self._public_base_url:
            return self._public_base_url
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> CallbackListener:
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        _LISTENERS[self.base_url] = self
        return self

    async def stop(self) -> None:
        _LISTENERS.pop(self.base_url, None)
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> CallbackListener:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def new_token(self) -> str:
        """A fresh, unguessable token (one per injection)."""
        if len(self._hits) >= MAX_TOKENS:  # forget the oldest tokens (dicts keep insertion order)
            for old in list(self._hits)[: MAX_TOKENS // 10]:
                del self._hits[old]
        token = "spy" + secrets.token_hex(12)
        self._hits[token] = []
        return token

    def url_for(self, token: str) -> str:
        return f"{self.base_url}/{token}"

    def hits(self, token: str) -> list[CallbackHit]:
        return list(self._hits.get(token, ()))

    def forget(self, tokens: list[str]) -> None:
        """Drop tokens a scan no longer waits for."""
        for token in tokens:
            self._hits.pop(token, None)

    async def wait_for(self, tokens: list[str], seconds: float) -> dict[str, list[CallbackHit]]:
        """Wait until every token was hit or ``seconds`` passed; the hits so far per token."""
        deadline = time.monotonic() + seconds
        woken = asyncio.Event()
        self._waiters.add(woken)
        try:
            while not all(self._hits.get(token) for token in tokens):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                woken.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(woken.wait(), remaining)
        finally:
            self._waiters.discard(woken)
        return {token: self.hits(token) for token in tokens if self._hits.get(token)}

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT)
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            user_agent = next((ln.split(":", 1)[1].strip() for ln in lines if ln.lower().startswith("user-agent:")), "")
            token = target.split("?", 1)[0].strip("/").split("/", 1)[0]
            recorded = self._hits.get(token)
            if recorded is not None and len(recorded) < MAX_HITS_PER_TOKEN:
                peer = writer.get_extra_info("peername")
                recorded.append(
                    CallbackHit(token, method, target, str(peer[0]) if peer else "", user_agent, time.time())
                )
                for waiter in self._waiters:
                    waiter.set()
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
            )
            await writer.drain()
        except (TimeoutError, ValueError, ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()
