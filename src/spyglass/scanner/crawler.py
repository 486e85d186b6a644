"""The scan crawler: an async breadth-first walk of the target inside the scan's scope.

Seeds are the base URL, the paths robots.txt names (``Allow``/``Disallow`` lines, which often point at
the interesting parts of a site), the URLs of its sitemaps and the GET operations of an OpenAPI document
at ``/openapi.json`` or ``/swagger.json``. From each HTML page it takes links, forms and scripts, and the
JSON endpoints its inline scripts request with GET (``scanner.discovery``; also from same-site script
files and linked OpenAPI documents); it turns query parameters and form fields into
:class:`InjectionPoint` objects for the active checks. URLs are normalised (no fragment, sorted query,
lower-case host, no default port) and visited once; URLs that differ only in parameter values are visited at most
``scanner_pipeline_max_variants_per_path`` times. Every request goes through the scan's
:class:`~spyglass.scanner.http.ScanClient`, so scope, budget, pacing and the URL policy hold.
"""

from __future__ import annotations

import asyncio
import re
import zlib
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from protego import Protego
from selectolax.lexbor import LexborHTMLParser, LexborNode

from spyglass.core.fetch import FetchError
from spyglass.scanner import discovery
from spyglass.scanner.checks.base import BudgetExhausted, Exchange, Form, FormField, InjectionPoint, Page
from spyglass.scanner.http import DEFAULT_PORTS, ScanClient

HTML_TYPES = ("text/html", "application/xhtml+xml")
SCRIPT_TYPES = ("application/javascript", "text/javascript", "application/x-javascript", "application/ecmascript")
LINK_SOURCES = (("a", "href"), ("area", "href"), ("link", "href"), ("iframe", "src"), ("frame", "src"))
LOGOUT_WORDS = re.compile(r"log-?out|sign-?out|log_off|logoff", re.IGNORECASE)
SITEMAP_LOC = re.compile(r"<loc>\s*([^<\s]+)\s*</loc>", re.IGNORECASE)
SKIPPED_FIELD_TYPES = frozenset({"submit", "button", "image", "reset", "file"})
DEFAULT_FIELD_VALUES = {"email": "scan@example.com", "number": "1", "url": "https://example.com/", "tel": "5550100"}

PageCallback = Callable[[Page], Awaitable[None]]
COMPACT_FROM_CHARS = 4096
MAX_SITEMAPS = 10


class CompactExchange(Exchange):
    """An :class:`Exchange` that keeps its body zlib-compressed, for the pages a crawl holds until the checks run.

    A hundred scans of 200 pages of 60 KB hold 1.2 GB of text; compressed it is a fifth of that. The body
    is decompressed on each read (about 0.1 ms for 60 KB).
    """

    _packed: bytes

    @property
    def body(self) -> str:
        return zlib.decompress(self._packed).decode("utf-8", "surrogatepass")

    @body.setter
    def body(self, value: str) -> None:
        self._packed = zlib.compress(value.encode("utf-8", "surrogatepass"), 1)


def compact(exchange: Exchange) -> Exchange:
    """``exchange`` with a compressed body when the body is large enough to be worth it."""
    if len(exchange.body) < COMPACT_FROM_CHARS or isinstance(exchange, CompactExchange):
        return exchange
    return CompactExchange(**{name: getattr(exchange, name) for name in exchange.__dataclass_fields__})


def normalise_url(url: str, base: str | None = None) -> str | None:
    """The canonical form of ``url`` (resolved against ``base``), or None when it is not an http(s) URL.

    Lower-case scheme and host, default port dropped, empty path made ``/``, fragment dropped,
    query pairs sorted (blank values kept).
    """
    try:
        absolute = urljoin(base, url.strip()) if base else url.strip()
        parts = urlsplit(absolute)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    host = parts.hostname.lower().rstrip(".")
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    query = urlencode(sorted(parse_qsl(parts.query, keep_blank_values=True)))
    return urlunsplit((scheme, netloc, parts.path or "/", query, ""))


def variant_key(url: str) -> tuple[str, tuple[str, ...]]:
    """URLs with the same key differ only in parameter values (``/item?id=1`` and ``/item?id=2``)."""
    parts = urlsplit(url)
    return parts.path, tuple(sorted({name for name, _ in parse_qsl(parts.query, keep_blank_values=True)}))


@dataclass
class CrawlResult:
    """What the crawl saw: pages in visiting order, injection points, and why it stopped early (if it did)."""

    pages: list[Page] = field(default_factory=list)
    injection_points: list[InjectionPoint] = field(default_factory=list)
    stopped_reason: str | None = None
    errors: list[str] = field(default_factory=list)


@dataclass
class _Parsed:
    links: list[str] = field(default_factory=list)
    forms: list[Form] = field(default_factory=list)
    scripts: list[str] = field(default_factory=list)
    endpoints: list[str] = field(default_factory=list)


def _is_code(node: LexborNode) -> bool:
    kind = (node.attributes.get("type") or "").strip().lower()
    return not kind or "javascript" in kind or kind in ("module", "text/ecmascript")


def parse_html(html: str, page_url: str) -> _Parsed:
    """Links, forms, script sources and the GET URLs inline scripts request, made absolute (``<base href>``
    honoured)."""
    tree = LexborHTMLParser(html)
    base_node = tree.css_first("base[href]")
    base = urljoin(page_url, base_node.attributes.get("href") or "") if base_node is not None else page_url
    parsed = _Parsed()
    for tag, attribute in LINK_SOURCES:
        for node in tree.css(f"{tag}[{attribute}]"):
            if tag == "link" and (node.attributes.get("rel") or "").lower() in ("stylesheet", "icon", "preload"):
                continue
            target = normalise_url(node.attributes.get(attribute) or "", base)
            if target is not None:
                parsed.links.append(target)
    for node in tree.css("meta[http-equiv]"):
        if (node.attributes.get("http-equiv") or "").lower() == "refresh":
            _, _, target = (node.attributes.get("content") or "").partition("url=")
            refreshed = normalise_url(target.strip("'\" "), base) if target else None
            if refreshed:
                parsed.links.append(refreshed)
    for node in tree.css("script"):
        if "src" in node.attributes:
            source = normalise_url(node.attributes.get("src") or "", base)
            if source is not None:
                parsed.scripts.append(source)
        elif _is_code(node):
            found = (normalise_url(url) for url in discovery.script_endpoints(node.text() or "", base))
            parsed.endpoints += [url for url in found if url]
    for node in tree.css("form"):
        action = normalise_url(node.attributes.get("action") or "", base) or normalise_url(page_url)
        if action is None:
            continue
        form = Form(
            page_url=page_url,
            action=action,
            method=(node.attributes.get("method") or "GET").upper(),
            enctype=(node.attributes.get("enctype") or "application/x-www-form-urlencoded").lower(),
        )
        for field_node in node.css("input[name], select[name], textarea[name], button[name]"):
            form.fields.append(_form_field(field_node))
        parsed.forms.append(form)
    return parsed


def _form_field(node: LexborNode) -> FormField:
    tag = node.tag
    attributes = node.attributes
    name = attributes.get("name") or ""
    if tag == "select":
        options = node.css("option")
        chosen = next((o for o in options if "selected" in o.attributes), options[0] if options else None)
        value = (chosen.attributes.get("value") or chosen.text() or "") if chosen is not None else ""
        return FormField(name, "select", value)
    if tag == "textarea":
        return FormField(name, "textarea", node.text() or "")
    kind = (attributes.get("type") or ("submit" if tag == "button" else "text")).lower()
    return FormField(name, kind, attributes.get("value") or "")


def injection_points_of(page: Page) -> list[InjectionPoint]:
    """Every parameter of the page's URL and every user-editable field of its forms."""
    points: list[InjectionPoint] = []
    parts = urlsplit(page.url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    bare = urlunsplit(parts._replace(query=""))
    for index, (name, _) in enumerate(query):
        others = tuple(pair for i, pair in enumerate(query) if i != index)
        points.append(InjectionPoint("GET", bare, name, "query", others, page.url))
    for form in page.forms:
        values = [(f.name, f.value or DEFAULT_FIELD_VALUES.get(f.type, "test" if f.type != "hidden" else ""))
                  for f in form.fields if f.name and f.type not in SKIPPED_FIELD_TYPES]  # fmt: skip
        submit = [(f.name, f.value) for f in form.fields if f.name and f.type == "submit"][:1]
        location = "query" if form.method == "GET" else ("json" if "json" in form.enctype else "form")
        for index, (name, _) in enumerate(values):
            others = tuple(pair for i, pair in enumerate(values) if i != index) + tuple(submit)
            points.append(InjectionPoint(form.method, form.action, name, location, others, page.url))  # type: ignore[arg-type]
    return points


def robots_seeds(text: str, base_url: str) -> list[str]:
    """Paths named in robots.txt (without wildcards) and its sitemap URLs, absolute."""
    seeds: list[str] = []
    for line in text.splitlines():
        key, _, value = line.partition("#")[0].partition(":")
        value = value.strip()
        if key.strip().lower() in ("allow", "disallow") and value.startswith("/") and not re.search(r"[*$]", value):
            seeds.append(value)
    seeds.extend(Protego.parse(text).sitemaps)
    return [url for url in (normalise_url(seed, base_url) for seed in seeds) if url]


class Crawler:
    """Crawls one scan's target; ``on_page`` is awaited for each page as it is crawled (for progress)."""

    def __init__(
        self,
        client: ScanClient,
        *,
        max_variants: int | None = None,
        on_page: PageCallback | None = None,
        browser: BrowserRenderer | None = None,
    ) -> None:
        self.client = client
        self.plan = client.plan
        self.max_variants = max_variants or client.fetcher.settings.scanner_pipeline_max_variants_per_path
        self.on_page = on_page
        self.browser = browser
        self.result = CrawlResult()
        self._seen: set[str] = set()
        self._variants: Counter[tuple[str, tuple[str, ...]]] = Counter()
        self._point_keys: set[tuple[str, str, str, str]] = set()
        self._queue: asyncio.Queue[tuple[str, int]] = asyncio.Queue()
        self._in_progress = 0

    async def crawl(self) -> CrawlResult:
        """Walk the site until the queue is empty, ``max_pages`` pages were crawled, or the budget ran out."""
        start = normalise_url(self.plan.base_url)
        if start is None:
            self.result.errors.append(f"{self.plan.base_url} is not an http(s) URL.")
            return self.result
        landing: str | None = None
        try:
            logged_in = await self.client.login()
            if logged_in is not None and logged_in.status >= 400:
                self.result.errors.append(f"Login failed: {logged_in.url} answered {logged_in.status}.")
            elif logged_in is not None:
                landing = normalise_url(logged_in.url)
        except BudgetExhausted:
            self.result.stopped_reason = self.client.stopped_reason
            return self.result
        except FetchError as exc:
            self.result.errors.append(f"Login failed: {exc}")
        self._enqueue(start, 0)
        if landing is not None:
            self._enqueue(landing, 1)  # the page a login lands on is often linked from nowhere else
        for seed in await self._seeds(start):
            self._enqueue(seed, 1)
        workers = [asyncio.create_task(self._work()) for _ in range(max(1, self.plan.concurrency))]
        joined = asyncio.ensure_future(self._queue.join())
        try:
            # Workers only end by an unexpected error (say, the progress observer failed): raise it, never hang.
            await asyncio.wait([joined, *workers], return_when=asyncio.FIRST_COMPLETED)
            for worker in workers:
                if worker.done() and not worker.cancelled() and worker.exception() is not None:
                    raise worker.exception()  # type: ignore[misc]
        finally:
            for task in (joined, *workers):
                task.cancel()
            await asyncio.gather(joined, *workers, return_exceptions=True)
        if self.result.stopped_reason is None:
            self.result.stopped_reason = self.client.stopped_reason
        return self.result

    # -- seeds -------------------------------------------------------------
    async def _seeds(self, start: str) -> list[str]:
        seeds: list[str] = []
        robots = await self._get_text(urljoin(start, "/robots.txt"))
        sitemaps = [urljoin(start, "/sitemap.xml")]
        if robots:
            found = robots_seeds(robots, start)
            sitemaps += [url for url in found if url.endswith(".xml")]
            seeds += [url for url in found if not url.endswith(".xml")]
        queue = list(dict.fromkeys(url for url in sitemaps if self.client.in_scope(url)))
        fetched = 0
        while queue and fetched < MAX_SITEMAPS:
            text = await self._get_text(queue.pop(0))
            fetched += 1
            if not text:
                continue
            locations = [url for url in (normalise_url(m) for m in SITEMAP_LOC.findall(text)[:1000]) if url]
            if "<sitemapindex" in text[:2000]:
                queue += [url for url in locations if self.client.in_scope(url)]  # an index names more sitemaps
            else:
                seeds += locations
        for location in discovery.OPENAPI_LOCATIONS:
            document_url = urljoin(start, location)
            document = await self._get_text(document_url)
            if document:
                seeds += [url for url in map(normalise_url, discovery.openapi_endpoints(document, document_url)) if url]
        return seeds

    async def _get_text(self, url: str) -> str | None:
        if not self.client.in_scope(url):
            return None
        try:
            exchange = await self.client.send("GET", url)
        except (BudgetExhausted, FetchError):
            return None
        return exchange.body if exchange.status == 200 else None

    # -- the walk ----------------------------------------------------------
    def _enqueue(self, url: str, depth: int) -> None:
        if url in self._seen or depth > self.plan.max_depth or not self.client.in_scope(url):
            return
        if self.plan.auth is not None and LOGOUT_WORDS.search(urlsplit(url).path):
            return  # logging the scan out would hide the rest of the site
        key = variant_key(url)
        if key[1] and self._variants[key] >= self.max_variants:
            return
        self._seen.add(url)
        self._variants[key] += 1
        self._queue.put_nowait((url, depth))

    async def _work(self) -> None:
        while True:
            url, depth = await self._queue.get()
            try:
                if self._may_visit():
                    self._in_progress += 1
                    try:
                        await self._visit(url, depth)
                    finally:
                        self._in_progress -= 1
            except BudgetExhausted:
                self.result.stopped_reason = self.client.stopped_reason
            except FetchError as exc:
                self.result.errors.append(str(exc))
            finally:
                self._queue.task_done()

    def _may_visit(self) -> bool:
        return self.client.stopped_reason is None and len(self.result.pages) + self._in_progress < self.plan.max_pages

    async def _visit(self, url: str, depth: int) -> None:
        exchange = await self.client.send("GET", url)
        if exchange.redirect_location and self.client.in_scope(exchange.redirect_location):
            target = normalise_url(exchange.redirect_location)
            if target:
                self._enqueue(target, depth)
        content_type = (exchange.headers.get("content-type") or "").split(";")[0].strip().lower()
        page = Page(url=url, exchange=exchange, depth=depth, content_type=content_type)
        if content_type in HTML_TYPES or (not content_type and "<html" in exchange.body[:1000].lower()):
            parsed = parse_html(exchange.body, url)
            if self.browser is not None:
                rendered = await self.browser.render(exchange)
                if rendered is not None:
                    extra = parse_html(rendered, url)
                    parsed.links += extra.links
                    parsed.endpoints += extra.endpoints
                    parsed.forms += [f for f in extra.forms if f not in parsed.forms]
            page.links = list(dict.fromkeys(parsed.links))
            page.forms = parsed.forms
            page.scripts = list(dict.fromkeys(parsed.scripts))
            endpoints = parsed.endpoints
        else:
            endpoints = self._endpoints_in(url, content_type, exchange.body)
        page.exchange = compact(exchange)
        self.result.pages.append(page)
        self._add_points(page)
        if self.on_page is not None:
            await self.on_page(page)
        for link in page.links:
            self._enqueue(link, depth + 1)
        for form in page.forms:
            if form.method == "GET":
                self._enqueue(normalise_url(_form_url(form)) or form.action, depth + 1)
        for script in page.scripts:
            self._enqueue(script, depth + 1)
        for endpoint in endpoints:
            self._enqueue(endpoint, depth + 1)

    def _endpoints_in(self, url: str, content_type: str, body: str) -> list[str]:
        """The GET URLs a script file requests, or the operations of an OpenAPI document (JSON)."""
        if content_type in SCRIPT_TYPES:
            found = discovery.script_endpoints(body, url)
        elif content_type == "application/json" or content_type.endswith("+json"):
            found = discovery.openapi_endpoints(body, url)
        else:
            return []
        return [endpoint for endpoint in map(normalise_url, found) if endpoint]

    def _add_points(self, page: Page) -> None:
        for point in injection_points_of(page):
            key = (point.method, point.url, point.parameter, point.location)
            if key not in self._point_keys:
                self._point_keys.add(key)
                self.result.injection_points.append(point)


def _form_url(form: Form) -> str:
    values = [(f.name, f.value or "test") for f in form.fields if f.name and f.type not in SKIPPED_FIELD_TYPES]
    parts = urlsplit(form.action)
    return urlunsplit(parts._replace(query=urlencode(values)))


class BrowserRenderer(Protocol):
    """Renders a crawled page in a headless browser and returns the DOM after its scripts ran."""

    async def render(self, exchange: Exchange) -> str | None: ...
