"""The simulator as a web server: a small ASGI app and a runner for tests (a thread) or the CLI (blocking)."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode

import uvicorn

from spyglass.market.simulator import catalogue, pages
from spyglass.market.simulator.catalogue import SimItem

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

#: The bearer token the simulated eBay token endpoint hands out.
EBAY_TOKEN = "sim-ebay-application-token"
#: A 1x1 grey JPEG, for every listing photo.
PIXEL = bytes.fromhex(
    "ffd8ffe000104a46494600010100000100010000ffdb004300080606070605080707070909080a0c140d0c0b0b0c1912130f141d1a1f1e1d"
    "1a1c1c20242e2720222c231c1c2837292c30313434341f27393d38323c2e333432ffc0000b080001000101011100ffc4001f000001050101"
    "0101010100000000000000000102030405060708090a0bffda0008010100003f00d2cf20ffd9"
)
_KSL_SEGMENT = re.compile(r"/(keyword|priceFrom|priceTo|zip|miles)/([^/]+)")


class Simulator:
    """The market's state at the current step: fixed with ``set_step`` (tests) or advancing with the clock."""

    def __init__(
        self,
        seed: int = 7,
        *,
        step_seconds: float = 60.0,
        clock: Callable[[], float] = time.time,
        epoch: int | None = None,
        page_size: int = 120,
    ) -> None:
        self.seed = seed
        #: Results per page on every site (tests make it small to exercise paging).
        self.page_size = max(1, page_size)
        self.step_seconds = step_seconds
        self.clock = clock
        self.epoch = int(clock()) if epoch is None else epoch
        self._fixed_step: int | None = None
        #: Requests served, by path (tests check which of a site's ways in an adapter took).
        self.requests: Counter[str] = Counter()

    @property
    def step(self) -> int:
        if self._fixed_step is not None:
            return self._fixed_step
        return max(0, int((self.clock() - self.epoch) / self.step_seconds))

    def set_step(self, step: int) -> None:
        """Freeze the market at ``step`` (tests); ``advance`` moves it on."""
        self._fixed_step = max(0, step)

    def advance(self, steps: int = 1) -> int:
        self.set_step(self.step + steps)
        return self.step

    def search(
        self, site: str, words: str = "", price_min: Decimal | None = None, price_max: Decimal | None = None
    ) -> list[SimItem]:
        """What ``site`` shows now for the search."""
        return catalogue.search(self.seed, self.step, site, words, price_min, price_max)


def endpoints(origin: str) -> dict[str, str]:
    """``market_endpoints`` for every adapter the simulator serves (adapter name → base URL)."""
    sites = ("craigslist", "facebook", "offerup", "ebay", "mercari", "ksl", "poshmark")
    return {
        **{site: f"{origin}/{site}" for site in sites},
        "jsonld": f"{origin}/shop/search",
        "rss": f"{origin}/shop/feed.rss",
    }


class SimulatorApp:
    """ASGI app serving the simulated marketplaces under ``/<site>/...``."""

    def __init__(self, simulator: Simulator, cache_size: int = 1024) -> None:
        self.sim = simulator
        # Pages are a pure function of (step, origin, method, path, query): cache them within a step so a
        # benchmark's thousand searches measure Spyglass, not the simulator's rendering.
        self.cache_size = cache_size
        self._cache: dict[tuple[Any, ...], tuple[int, str, bytes]] = {}
        self._cache_step = -1

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        if scope["method"] == "POST":
            while True:
                message = await receive()
                body += message.get("body", b"")
                if not message.get("more_body"):
                    break
        self.sim.requests[scope["path"]] += 1
        status, content_type, content = self.cached_respond(scope, body)
        headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(content)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content})

    def cached_respond(self, scope: Scope, body: bytes) -> tuple[int, str, bytes]:
        """``respond``, from the cache for GETs already answered at this step."""
        if scope["method"] != "GET":
            return self.respond(scope, body)
        step = self.sim.step
        if step != self._cache_step:
            self._cache.clear()
            self._cache_step = step
        host = next((v for k, v in scope.get("headers", []) if k.lower() == b"host"), b"")
        key = (host, scope["path"], scope.get("query_string", b""))
        answer = self._cache.get(key)
        if answer is None:
            answer = self.respond(scope, body, step=step)
            if len(self._cache) >= self.cache_size:
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = answer
        return answer

    def respond(self, scope: Scope, body: bytes, *, step: int | None = None) -> tuple[int, str, bytes]:
        """(status, content type, body) for a request, at ``step`` (default: the simulator's current step)."""
        path: str = scope["path"]
        query = {k: v[-1] for k, v in parse_qs(scope.get("query_string", b"").decode()).items()}
        headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
        origin = _origin(scope, headers)
        try:
            result = self._route(path, query, headers, body, origin, self.sim.step if step is None else step)
        except ValueError as exc:
            return 400, "text/plain", str(exc).encode()
        if result is None:
            return 404, "text/plain", b"not found"
        status, content_type, text = result
        return status, content_type, text if isinstance(text, bytes) else text.encode()

    def _route(
        self, path: str, q: dict[str, str], headers: dict[str, str], body: bytes, origin: str, step: int
    ) -> tuple[int, str, str | bytes] | None:
        sim = self.sim
        ok = 200

        size = sim.page_size

        def find(site: str, words: str = "", low: Decimal | None = None, high: Decimal | None = None) -> list[SimItem]:
            """Every match; the routes below serve one page of it (sites without paging: the first)."""
            return catalogue.search(sim.seed, step, site, words, low, high, limit=None)

        def again(path: str, **changes: object) -> str:
            """This request's address with some query parameters changed (the next page's link)."""
            return f"{origin}{path}?{urlencode({**q, **{k: str(v) for k, v in changes.items()}})}"

        if path == "/robots.txt":
            return ok, "text/plain", "User-agent: *\nAllow: /\n"
        if path == "/":
            return ok, pages.HTML, _index(origin, step)
        if path == "/_sim/state":
            return ok, pages.JSON, json.dumps({"seed": sim.seed, "step": step, "epoch": sim.epoch})
        if path.startswith("/img/"):
            return ok, "image/jpeg", PIXEL
        if path == "/shop/search":
            found = find("shop", q.get("q", ""), _dec(q.get("min")), _dec(q.get("max")))
            number = _int(q.get("page"), 1, low=1)
            start = (number - 1) * size
            more = again(path, page=number + 1) if start + size < len(found) else None
            return ok, pages.HTML, pages.shop_search(found[start : start + size], step, origin, more)
        if path == "/shop/feed.rss":
            found = find("shop", q.get("q", ""))[:size]
            return ok, "application/rss+xml", pages.rss_feed(found, step, origin, sim.epoch, sim.step_seconds)
        if path.startswith("/shop/item/"):
            entry = _active(sim.seed, step, path.rsplit("/", 1)[-1], "shop")
            return (ok, pages.HTML, pages.shop_item(entry, step, origin)) if entry else None
        if path.startswith("/craigslist/") and path.endswith(".html"):
            entry = _active(sim.seed, step, _index_of(path, 7_900_000_000), "craigslist")
            return (
                (ok, pages.HTML, pages.craigslist_posting(entry, step, origin, sim.epoch, sim.step_seconds))
                if entry
                else None
            )
        if path.startswith("/ebay/itm/"):
            entry = _active(sim.seed, step, _index_of(path, 226_000_000_000), "ebay")
            return (ok, pages.HTML, pages.shop_item(entry, step, origin)) if entry else None
        if path == "/craigslist/Areas":
            return ok, pages.JSON, pages.craigslist_areas(origin)
        if path == "/craigslist/search/sss":
            found = find("craigslist", q.get("query", ""), _dec(q.get("min_price")), _dec(q.get("max_price")))
            start = _int(q.get("s"), 0)
            shown = found[start : start + size]
            return ok, pages.HTML, pages.craigslist_search(shown, step, origin, first=start, total=len(found))
        if path == "/craigslist/web/v8/postings/search/full":
            found = find("craigslist", q.get("query", ""), _dec(q.get("min_price")), _dec(q.get("max_price")))
            start, count = _batch(q.get("batch", ""))
            shown = found[start : start + min(count, size)]
            return ok, pages.JSON, pages.craigslist_sapi(shown, step, origin, sim.epoch, sim.step_seconds, len(found))
        if path.startswith("/facebook/marketplace/") and path.endswith("/search"):
            found = find("facebook", q.get("query", ""), _dec(q.get("minPrice")), _dec(q.get("maxPrice")))[:size]
            return ok, pages.HTML, pages.facebook_search(found, step, origin)
        if path == "/offerup/search":
            found = find("offerup", q.get("q", ""), _dec(q.get("price_min")), _dec(q.get("price_max")))[:size]
            return ok, pages.HTML, pages.offerup_search(found, step, origin)
        if path == "/mercari/search/":
            low, high = _dec(q.get("minPrice")), _dec(q.get("maxPrice"))
            found = find("mercari", q.get("keyword", ""), low / 100 if low else None, high / 100 if high else None)
            found = found[:size]
            return ok, pages.HTML, pages.mercari_search(found, step, origin, sim.epoch, sim.step_seconds)
        if path.startswith("/ksl/search"):
            parts = {name: unquote(value) for name, value in _KSL_SEGMENT.findall(path)}
            found = find("ksl", parts.get("keyword", ""), _dec(parts.get("priceFrom")), _dec(parts.get("priceTo")))
            found = found[:size]
            return ok, pages.HTML, pages.ksl_search(found, step, origin, sim.epoch, sim.step_seconds)
        if path == "/poshmark/search":
            found = find("poshmark", q.get("query", ""))[:size]
            return ok, pages.HTML, pages.poshmark_search(found, step, origin)
        if path == "/ebay/sch/i.html":
            found = find("ebay", q.get("_nkw", ""), _dec(q.get("_udlo")), _dec(q.get("_udhi")))
            number = _int(q.get("_pgn"), 1, low=1)
            start = (number - 1) * size
            more = again(path, _pgn=number + 1) if start + size < len(found) else None
            return ok, pages.HTML, pages.ebay_results(found[start : start + size], step, origin, more)
        if path == "/ebay/identity/v1/oauth2/token":
            if not headers.get("authorization", "").startswith("Basic ") or b"client_credentials" not in body:
                return 401, pages.JSON, json.dumps({"error": "invalid_client"})
            return ok, pages.JSON, json.dumps({"access_token": EBAY_TOKEN, "expires_in": 7200})
        if path == "/ebay/buy/browse/v1/item_summary/search":
            if headers.get("authorization") != f"Bearer {EBAY_TOKEN}":
                return 401, pages.JSON, json.dumps({"errors": [{"errorId": 1001, "message": "Invalid access token"}]})
            low, high = _price_filter(q.get("filter", ""))
            found = find("ebay", q.get("q", ""), low, high)
            start, limit = _int(q.get("offset"), 0), min(_int(q.get("limit"), 50, low=1), size)
            more = again(path, offset=start + limit, limit=limit) if start + limit < len(found) else None
            shown = found[start : start + limit]
            return ok, pages.JSON, pages.ebay_api(
                shown, step, origin, sim.epoch, sim.step_seconds, offset=start, limit=limit, total=len(found),
                next_url=more,
            )  # fmt: skip
        return None


def _origin(scope: Scope, headers: dict[str, str]) -> str:
    host = headers.get("host")
    if not host:
        server = scope.get("server") or ("127.0.0.1", 80)
        host = f"{server[0]}:{server[1]}"
    return f"{scope.get('scheme', 'http')}://{host}"


def _dec(value: str | None) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a number") from None


def _int(value: str | None, default: int, *, low: int = 0) -> int:
    if value in (None, ""):
        return default
    if not value.isdigit() or int(value) < low or int(value) > 1_000_000:
        raise ValueError(f"{value!r} is not a whole number from {low}")
    return int(value)


def _batch(text: str) -> tuple[int, int]:
    """sapi's ``batch=<area>-<offset>-<count>-0-0``: (offset, count)."""
    parts = text.split("-")
    if len(parts) < 3:
        return 0, 360
    return _int(parts[1], 0), _int(parts[2], 360, low=1)


def _price_filter(text: str) -> tuple[Decimal | None, Decimal | None]:
    match = re.search(r"price:\[([\d.]*)\.\.([\d.]*)\]", text)
    if match is None:
        return None, None
    return _dec(match.group(1)), _dec(match.group(2))


def _index_of(path: str, first_id: int) -> str:
    """The catalogue index in a listing path ending in the site's id (``.../7900000042.html`` → "42")."""
    digits = path.rsplit("/", 1)[-1].removesuffix(".html")
    return str(int(digits) - first_id) if digits.isdigit() and int(digits) >= first_id else ""


def _active(seed: int, step: int, raw_index: str, site: str) -> SimItem | None:
    if not raw_index.isdigit():
        return None
    index = int(raw_index)
    if index >= catalogue.INITIAL_ITEMS + step * catalogue.NEW_PER_STEP:
        return None
    entry = catalogue.item(seed, index)
    return entry if site in entry.sites and entry.active_at(step) else None


def _index(origin: str, step: int) -> str:
    links = "".join(f'<li>{name}: <a href="{url}">{url}</a></li>' for name, url in endpoints(origin).items())
    return pages._document(
        "Spyglass marketplace simulator",
        "",
        f"<h1>Marketplace simulator</h1><p>Step {step}.</p><p>Set SPYGLASS_MARKET_ENDPOINTS to:</p><ul>{links}</ul>",
    )


class SimulatorServer:
    """The simulator on ``host`` and a free port, in a background thread (for tests and benchmarks)."""

    def __init__(self, simulator: Simulator, host: str = "127.0.0.1", port: int = 0) -> None:
        self.simulator = simulator
        self.host = host
        self.port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"

    def endpoints(self) -> dict[str, str]:
        return endpoints(self.origin)

    def start(self) -> SimulatorServer:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(SimulatorApp(self.simulator), log_level="warning", lifespan="off", access_log=False)
        server = self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=lambda: asyncio.run(server.serve(sockets=[sock])), name="market-simulator", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the marketplace simulator did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(10)

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def serve_forever(simulator: Simulator, host: str = "127.0.0.1", port: int = 8090) -> None:
    """Run the simulator in the foreground until interrupted (``spyglass demo-market``)."""
    config = uvicorn.Config(SimulatorApp(simulator), host=host, port=port, log_level="info", lifespan="off")
    uvicorn.Server(config).run()
