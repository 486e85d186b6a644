"""A small real HTTP/1.1 server on loopback for tests of outbound fetching, and a recorder of socket connects.

The server runs its own event loop in a thread (so timings measured on the
server side are not disturbed by the test's loop), answers one request per
connection, and records every request (arrival time, path, headers) and the
highest number of requests it was serving at once.

Routes (add your own with ``server.route(path, handler)``):
  /ok                          200 "hello"
  /echo                        200, the request's method, headers and body as JSON
  /redirect?to=URL&status=302  a redirect to URL
  /slow?seconds=0.3            waits, then 200
  /big?bytes=N&declared=1      N bytes, streamed (with Content-Length when declared=1)
  /status/<code>?retry_after=V that status, with Retry-After: V when given
  /flaky?fail=N&key=K&status=503&retry_after=V  N failures (per key), then 200
  /robots.txt                  ``server.robots_txt`` (404 when None) with ``server.robots_status``
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import ssl
import sys
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class ServerRequest:
    method: str
    target: str  # as sent: a path, or an absolute URL when we are used as a proxy
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    arrived: float
    peer: str


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    chunks: list[bytes] | None = None  # streamed after the headers, without Content-Length unless given


Handler = Callable[[ServerRequest], Awaitable[Reply]]

_REASONS = {200: "OK", 204: "No Content", 301: "Moved Permanently", 302: "Found", 303: "See Other",
            307: "Temporary Redirect", 308: "Permanent Redirect", 400: "Bad Request", 403: "Forbidden",
            404: "Not Found", 408: "Request Timeout", 429: "Too Many Requests", 500: "Internal Server Error",
            502: "Bad Gateway", 503: "Service Unavailable"}  # fmt: skip


class LocalHttpServer:
    """A real HTTP server on ``host`` (127.0.0.1 or ::1) and a free port, in a background thread."""

    def __init__(self, host: str = "127.0.0.1", *, port: int = 0, tls: ssl.SSLContext | None = None) -> None:
        self.host = host
        self.port = port
        self.tls = tls
        self.requests: list[ServerRequest] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.robots_txt: str | None = None
        self.robots_status = 200
        self._flaky: Counter[str] = Counter()
        self._routes: dict[str, Handler] = {
            "/ok": self._ok,
            "/echo": self._echo,
            "/redirect": self._redirect,
            "/slow": self._slow,
            "/big": self._big,
            "/flaky": self._flaky_route,
            "/robots.txt": self._robots,
        }
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------
    def start(self) -> LocalHttpServer:
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            self._server = loop.run_until_complete(
                asyncio.start_server(self._handle, self.host, self.port, ssl=self.tls)
            )
            self.port = self._server.sockets[0].getsockname()[1]
            ready.set()
            loop.run_forever()
            self._server.close()
            loop.run_until_complete(self._server.wait_closed())
            loop.close()

        self._thread = threading.Thread(target=run, name=f"http-server-{self.host}", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the test HTTP server did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    def __enter__(self) -> LocalHttpServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- helpers for tests -------------------------------------------------
    @property
    def origin(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"

    def url(self, path: str) -> str:
        return self.origin + path

    def route(self, path: str, handler: Handler) -> None:
        self._routes[path] = handler

    def hits(self, path: str) -> int:
        return sum(1 for r in self.requests if r.path == path)

    def arrivals(self, path: str) -> list[float]:
        return [r.arrived for r in self.requests if r.path == path]

    # -- the server --------------------------------------------------------
    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            writer.close()
            return
        arrived = time.monotonic()
        lines = head.decode("latin-1").split("\r\n")
        method, target, _version = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0") or 0))
        parts = urlsplit(target)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        peer = writer.get_extra_info("peername")
        request = ServerRequest(method, target, parts.path, query, headers, body, arrived, str(peer[0]) if peer else "")
        self.requests.append(request)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            handler = self._routes.get(parts.path)
            if handler is None and parts.path.startswith("/status/"):
                handler = self._status
            reply = await handler(request) if handler else Reply(404, b"not found")
            await self._write(writer, reply)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self.in_flight -= 1
            with contextlib.suppress(Exception):
                writer.close()

    async def _write(self, writer: asyncio.StreamWriter, reply: Reply) -> None:
        headers = {"Connection": "close", **reply.headers}
        if reply.chunks is None:
            headers.setdefault("Content-Length", str(len(reply.body)))
        head = f"HTTP/1.1 {reply.status} {_REASONS.get(reply.status, 'Status')}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        writer.write(head.encode("latin-1"))
        if reply.chunks is None:
            writer.write(reply.body)
            await writer.drain()
            return
        for chunk in reply.chunks:
            writer.write(chunk)
            await writer.drain()

    # -- built-in routes ---------------------------------------------------
    async def _ok(self, request: ServerRequest) -> Reply:
        return Reply(200, b"hello", {"Content-Type": "text/plain; charset=utf-8"})

    async def _echo(self, request: ServerRequest) -> Reply:
        data = {"method": request.method, "headers": request.headers, "body": request.body.decode("latin-1")}
        return Reply(200, json.dumps(data).encode(), {"Content-Type": "application/json"})

    async def _redirect(self, request: ServerRequest) -> Reply:
        return Reply(int(request.query.get("status", "302")), b"", {"Location": request.query["to"]})

    async def _slow(self, request: ServerRequest) -> Reply:
        await asyncio.sleep(float(request.query.get("seconds", "0.3")))
        return Reply(200, b"slow")

    async def _big(self, request: ServerRequest) -> Reply:
        size = int(request.query["bytes"])
        block = b"x" * 65536
        chunks = [block] * (size // len(block)) + [b"x" * (size % len(block))]
        headers = {"Content-Length": str(size)} if request.query.get("declared") == "1" else {}
        return Reply(200, headers=headers, chunks=chunks)

    async def _status(self, request: ServerRequest) -> Reply:
        code = int(request.path.rsplit("/", 1)[1])
        headers = {"Retry-After": request.query["retry_after"]} if "retry_after" in request.query else {}
        return Reply(code, f"status {code}".encode(), headers)

    async def _flaky_route(self, request: ServerRequest) -> Reply:
        key = request.query.get("key", "default")
        self._flaky[key] += 1
        if self._flaky[key] <= int(request.query.get("fail", "1")):
            headers = {"Retry-After": request.query["retry_after"]} if "retry_after" in request.query else {}
            return Reply(int(request.query.get("status", "503")), b"try again", headers)
        return Reply(200, b"recovered")

    async def _robots(self, request: ServerRequest) -> Reply:
        if self.robots_txt is None:
            return Reply(404, b"no robots here")
        return Reply(self.robots_status, self.robots_txt.encode(), {"Content-Type": "text/plain"})


# -- watching outbound network use ------------------------------------------
@dataclass
class NetworkLog:
    """What the process did on the network during a ``watch_network()`` block."""

    connects: list[str] = field(default_factory=list)
    lookups: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    forbidden_names: frozenset[str] = frozenset()


_logs: list[NetworkLog] = []
_hook_installed = False


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if not _logs or event not in ("socket.connect", "socket.getaddrinfo"):
        return
    if event == "socket.connect":
        address = args[1]
        if not isinstance(address, tuple):  # a Unix socket path
            return
        host = str(address[0])
        for log in _logs:
            log.connects.append(host)
        if not _is_loopback(host):
            for log in _logs:
                log.blocked.append(host)
            raise PermissionError(f"test tried to connect to {host}, which is not a loopback address")
        return
    name = args[0].decode() if isinstance(args[0], bytes) else str(args[0])
    for log in _logs:
        log.lookups.append(name)
    if any(name.lower() in log.forbidden_names for log in _logs):
        raise PermissionError(f"test tried to resolve {name}")


@contextlib.contextmanager
def watch_network(*, forbid_lookups: tuple[str, ...] = ()) -> Iterator[NetworkLog]:
    """Log every socket connect and name lookup in this process during the block, in any thread.

    A connect to anything but loopback is stopped (PermissionError) and logged in
    ``blocked``, so a test can never send traffic off the machine; lookups of
    ``forbid_lookups`` names are stopped too.
    """
    global _hook_installed
    if not _hook_installed:
        sys.addaudithook(_audit)
        _hook_installed = True
    log = NetworkLog(forbidden_names=frozenset(n.lower() for n in forbid_lookups))
    _logs.append(log)
    try:
        yield log
    finally:
        _logs.remove(log)
