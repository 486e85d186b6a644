# ruff: noqa: S608, S701 - the SQL injection and template injection here are deliberate
"""A deliberately vulnerable web app: every class of issue Spyglass's checks look for, with its ground truth.

Only for tests, bound to 127.0.0.1. Payloads the checks send are harmless; the command-injection
endpoint emulates a shell (it never starts a process) and the SQL endpoints use a fresh in-memory SQLite
database per request. ``EXPECTED_FINDINGS`` lists exactly what a full scan must report.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import os
import re
import sqlite3
import ssl
import time
import traceback
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import jinja2
from lxml import etree

from tests.scanner.apps.server import AppServer, Route, form_fields, page, text
from tests.support.http_server import Reply, ServerRequest


@dataclass(frozen=True)
class Expected:
    """One finding a scan of the vulnerable app must report."""

    type_id: str
    path: str
    parameter: str | None = None
    confidence: str = "firm"


PASSIVE_SITE_WIDE = [
    Expected("csp-missing", "/"),
    Expected("x-content-type-options-missing", "/"),
    Expected("clickjacking-protection-missing", "/"),
    Expected("referrer-policy-missing", "/"),
    Expected("permissions-policy-missing", "/"),
    Expected("server-version-disclosure", "/", "Server"),
    Expected("server-version-disclosure", "/", "X-Powered-By"),
]
PASSIVE = [
    *PASSIVE_SITE_WIDE,
    Expected("csp-weak", "/account"),  # the only page with a CSP; csp-missing stays one site-wide finding
    Expected("cookie-no-httponly", "/", "PHPSESSID"),
    Expected("cookie-no-samesite", "/", "PHPSESSID"),
    Expected("cors-misconfiguration", "/api/data", "Origin", "confirmed"),
    Expected("stack-trace-disclosure", "/error"),
    Expected("private-ip-disclosure", "/"),
    Expected("source-map-exposed", "/static/app.js", None, "confirmed"),
    Expected("password-autocomplete", "/login", "password", "confirmed"),
    Expected("missing-csrf-token", "/login", None, "tentative"),
    Expected("missing-csrf-token", "/guestbook", None, "tentative"),
    Expected("missing-csrf-token", "/api/import", None, "tentative"),
    Expected("directory-listing", "/static/", None, "confirmed"),
    Expected("cacheable-sensitive-page", "/login"),
    Expected("cacheable-sensitive-page", "/account"),
    Expected("vulnerable-js-library", "/static/jquery-1.8.3.min.js", "jquery"),
]
PASSIVE_HTTP_ONLY = [
    Expected("form-over-http", "/login", "password", "confirmed"),
    Expected("http-not-redirected-to-https", "/", None, "confirmed"),
]
PASSIVE_HTTPS_ONLY = [
    Expected("hsts-missing", "/"),
    Expected("cookie-no-secure", "/", "PHPSESSID"),
    Expected("mixed-content", "/"),
    Expected("tls-certificate-invalid", "/", None, "confirmed"),
]
ACTIVE = [
    Expected("xss-reflected", "/search", "q", "confirmed"),
    Expected("xss-reflected", "/profile", "color", "firm"),
    Expected("xss-reflected", "/feedback", "text", "confirmed"),
    Expected("xss-stored", "/guestbook", "message", "confirmed"),
    Expected("sql-injection", "/product", "id", "confirmed"),
    Expected("sql-injection", "/items", "category", "firm"),
    Expected("sql-injection", "/api/ping", "id", "firm"),
    Expected("os-command-injection", "/tools/ping", "host", "confirmed"),
    Expected("os-command-injection", "/tools/backup", "host", "firm"),  # blind: proved by timing
    Expected("path-traversal", "/download", "file", "confirmed"),
    Expected("open-redirect", "/go", "url", "confirmed"),
    Expected("crlf-injection", "/lang", "set", "confirmed"),
    Expected("crlf-injection", "/go", "url", "confirmed"),  # the redirect writes the URL into Location as is
    Expected("ssti", "/hello", "name", "confirmed"),
    Expected("xxe", "/api/import", "item", "confirmed"),
    Expected("ssrf", "/fetch", "url", "confirmed"),
    Expected("exposed-sensitive-file", "/.git/HEAD", None, "confirmed"),
    Expected("exposed-sensitive-file", "/.env", None, "confirmed"),
    Expected("exposed-sensitive-file", "/backup.sql", None, "confirmed"),
    Expected("http-trace-enabled", "/", None, "confirmed"),
    Expected("http-dangerous-methods", "/", None, "tentative"),
    Expected("jsonp-callback-injection", "/api/user", "callback", "confirmed"),
    # JSON endpoints no link points at: one an inline script fetches, one the linked OpenAPI document describes.
    Expected("sql-injection", "/api/orders", "status", "confirmed"),
    Expected("ssti", "/api/greeting", "name", "confirmed"),
]


def expected_findings(scheme: str = "http", *, active: bool = True) -> set[Expected]:
    """The exact ground truth of a scan over ``scheme`` (passive checks only when not ``active``)."""
    found = set(PASSIVE) | set(PASSIVE_HTTP_ONLY if scheme == "http" else PASSIVE_HTTPS_ONLY)
    return found | set(ACTIVE) if active else found


EXPECTED_FINDINGS = expected_findings("http")

JQUERY_1_8_3 = (
    "/*! jQuery v1.8.3 jquery.com | jquery.org/license */\n"
    '(function(e,t){var n,r,i=typeof t,s=e.document,o=e.location;v.fn=v.prototype={jquery:"1.8.3",'
    "constructor:v,init:function(e,n,r){return this}};e.jQuery=e.$=v})(window);\n"
)
APP_JS = (
    "document.addEventListener('DOMContentLoaded',function(){console.log('ready')});\n//# sourceMappingURL=app.js.map\n"
)
PRODUCTS = [(1, "Lamp", 19.5), (2, "Desk", 120.0), (3, "Chair", 45.0)]
ITEMS = [(1, "Dune", "books"), (2, "Emma", "books"), (3, "Kettle", "kitchen")]
ORDERS = [(1, "shipped"), (2, "pending")]
ORDERS_SCRIPT = """
function loadOrders(status) {
  fetch('/api/orders?status=' + encodeURIComponent(status)).then(function (r) { return r.json(); }).then(show);
}
function saveCart(cart) {
  fetch('/api/cart', {method: 'POST', body: JSON.stringify(cart)});
}
"""


def openapi_document(version: str = "3.0.3") -> dict[str, object]:
    """The shop's API description: two GET operations (one with a path parameter) and a POST never to be sent."""
    name = {"name": "name", "in": "query", "schema": {"type": "string", "example": "guest"}}
    product_id = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer", "example": 2}}
    return {
        "openapi": version,
        "info": {"title": "Shop API"},
        "paths": {
            "/api/greeting": {"get": {"parameters": [name]}},
            "/api/products/{id}": {"parameters": [product_id], "get": {}},
            "/api/cart": {"post": {"requestBody": {"content": {"application/json": {}}}}},
        },
    }


BANNER = {"Server": "Apache/2.4.29 (Ubuntu)", "X-Powered-By": "PHP/5.6.40"}


def _database() -> sqlite3.Connection:
    """A fresh in-memory database (one per request keeps the app thread-safe and every payload harmless)."""
    db = sqlite3.connect(":memory:")

    def sleep(seconds: object) -> int:  # MySQL's SLEEP(), so time-based payloads behave as on MySQL
        time.sleep(min(float(seconds or 0), 3.0))  # type: ignore[arg-type]
        return 0

    db.create_function("sleep", 1, sleep)
    db.execute("CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT, price REAL)")
    db.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, category TEXT)")
    db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, status TEXT)")
    db.executemany("INSERT INTO products VALUES (?, ?, ?)", PRODUCTS)
    db.executemany("INSERT INTO items VALUES (?, ?, ?)", ITEMS)
    db.executemany("INSERT INTO orders VALUES (?, ?)", ORDERS)
    return db


FAKE_COMMANDS = {
    "id": "uid=33(www-data) gid=33(www-data) groups=33(www-data)",
    "whoami": "www-data",
    "env": "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\nHOME=/var/www\nPWD=/var/www/html",
    "uname": "Linux",
}


def _emulated_shell(command: str) -> str:
    """What ``sh -c command`` would print for ``ping``, ``echo``, ``sleep`` and a few read-only commands.

    No process is ever started; ``sleep`` really waits (at most 3 s), so blind time-based payloads work too.
    """
    output = []
    for segment in re.split(r";|&&|\|\||\||\n", command):
        words = segment.strip().split(None, 1)
        if not words:
            continue
        argument = words[1] if len(words) > 1 else ""
        if words[0] == "echo":
            output.append(re.sub(r"\$\(\((\d+)\s*\+\s*(\d+)\)\)", lambda m: str(int(m[1]) + int(m[2])), argument))
        elif words[0] == "ping":
            host = argument.split()[-1] if argument else ""
            if re.fullmatch(r"[\w.-]+", host):
                output.append(f"PING {host}: 1 packets transmitted, 1 received")
            else:
                output.append(f"ping: {host}: Name or service not known")
        elif words[0] == "sleep" and re.fullmatch(r"\d+(\.\d+)?", argument.strip()):
            time.sleep(min(float(argument), 3.0))
        elif words[0] in FAKE_COMMANDS:
            output.append(FAKE_COMMANDS[words[0]])
        else:
            output.append(f"sh: 1: {words[0]}: not found")
    return "\n".join(output)


class VulnerableApp(AppServer):
    """The vulnerable app; ``files_dir`` is where ``/download`` reads files from."""

    def __init__(self, files_dir: Path, *, tls: ssl.SSLContext | None = None) -> None:
        super().__init__(tls=tls)
        self.files_dir = files_dir
        (files_dir / "report.txt").write_text("Quarterly report: all good.\n")
        self.guestbook: list[tuple[str, str]] = [("Ada", "Lovely site!")]
        self.ssrf_requests: list[str] = []
        self.cart_requests: list[str] = []
        routes = {
            "/": self.home, "/login": self.login, "/account": self.account, "/search": self.search,
            "/safe": self.safe, "/feedback": self.feedback, "/profile": self.profile, "/guestbook": self.guestbook_page,
            "/product": self.product, "/items": self.items, "/api/ping": self.ping_api, "/error": self.error,
            "/tools/ping": self.tools_ping,
            "/tools/backup": self.tools_backup, "/download": self.download, "/go": self.go, "/lang": self.lang,
            "/hello": self.hello, "/api/import": self.import_xml, "/fetch": self.fetch, "/api/user": self.user_api,
            "/api/data": self.data_api, "/static/": self.static_index, "/static/app.js": self.app_js,
            "/static/app.js.map": self.app_js_map,
            "/static/jquery-1.8.3.min.js": self.jquery, "/.git/HEAD": self.git_head, "/.env": self.dotenv,
            "/backup.sql": self.backup_sql, "/orders": self.orders, "/api/orders": self.orders_api,
            "/api/cart": self.cart_api, "/docs/api.json": self.api_document, "/api/greeting": self.greeting_api,
            "/api/products/2": self.product_api,
        }  # fmt: skip
        for path, handler in routes.items():
            self.route(path, self._with_banner(handler))

    def _with_banner(self, handler: Route) -> Route:
        async def wrapped(request: ServerRequest) -> Reply:
            try:
                reply = await handler(request)
            except Exception:  # a real app's generic error page, without details
                reply = text("Internal Server Error", status=500)
            reply.headers = {**BANNER, **reply.headers}
            return reply

        return wrapped

    # -- pages ---------------------------------------------------------------
    async def home(self, request: ServerRequest) -> Reply:
        if request.method == "OPTIONS":
            return Reply(200, b"", {"Allow": "GET, HEAD, POST, PUT, DELETE, TRACE, OPTIONS"})
        if request.method == "TRACE":  # echoes the request, as TRACE does
            head = f"TRACE {request.target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in request.headers.items())
            return text(head, "message/http")
        origin = self.origin
        links = [
            "/login", "/account", "/search?q=shoes", "/safe?q=hello", "/feedback?text=thanks", "/profile?color=blue",
            "/guestbook",
            "/product?id=1", "/items?category=books", "/api/ping?id=1", "/error", "/tools/ping?host=127.0.0.1",
            "/tools/backup?host=127.0.0.1",
            "/download?file=report.txt", "/go?url=/account", "/lang?set=en", "/hello?name=guest", "/api/import",
            f"/fetch?url={origin}/static/", "/api/user?callback=handle", "/api/data", "/static/", "/orders",
        ]  # fmt: skip
        items = "".join(f'<li><a href="{html.escape(link)}">{html.escape(link)}</a></li>' for link in links)
        body = (
            f"<ul>{items}</ul>\n<!-- served by backend 10.0.3.17 -->\n"
            f'<img src="http://127.0.0.1:{self.port}/static/logo.png" alt="logo">\n'
            '<script src="/static/jquery-1.8.3.min.js"></script><script src="/static/app.js"></script>'
        )
        return page("Vulnerable shop", body, headers={"Set-Cookie": "PHPSESSID=4f2a9c1e7b; Path=/"})

    async def login(self, request: ServerRequest) -> Reply:
        if request.method == "POST":
            return page("Login", "<p>Wrong user name or password.</p>")
        form = (
            '<form method="post" action="/login"><input name="username"><input type="password" name="password">'
            '<button type="submit">Log in</button></form>'
        )
        return page("Login", form)

    async def account(self, request: ServerRequest) -> Reply:
        weak_csp = {"Content-Security-Policy": "default-src 'self' 'unsafe-inline'"}  # allows injected inline scripts
        return page("Account", "<p>Ada Lovelace, ada@example.com, card ending 4242</p>", headers=weak_csp)

    async def search(self, request: ServerRequest) -> Reply:
        query = request.query.get("q", "")
        return page("Search", f"<p>Results for {query}</p><p>No products found.</p>")  # XSS: unescaped

    async def safe(self, request: ServerRequest) -> Reply:
        return page("Echo", f"<p>You said {html.escape(request.query.get('q', ''))}</p>")

    async def feedback(self, request: ServerRequest) -> Reply:
        draft = request.query.get("text", "")  # unescaped inside a textarea: harmless until it closes the textarea
        return page("Feedback", f'<form action="/feedback"><textarea name="text">{draft}</textarea></form>')

    async def profile(self, request: ServerRequest) -> Reply:
        color = request.query.get("color", "blue").replace("<", "&lt;").replace(">", "&gt;")  # not enough in JS
        return page("Profile", f"<script>var favouriteColor = '{color}';</script><p>Profile</p>")

    async def guestbook_page(self, request: ServerRequest) -> Reply:
        if request.method == "POST":
            fields = form_fields(request)
            self.guestbook.append((fields.get("author", ""), fields.get("message", "")))
            return page("Thanks", '<p>Thank you. <a href="/guestbook">Back</a></p>')
        entries = "".join(f"<li><b>{html.escape(a)}</b>: {m}</li>" for a, m in self.guestbook)  # message unescaped
        form = (
            '<form method="post" action="/guestbook"><input name="author" value="">'
            '<textarea name="message"></textarea><button type="submit">Sign</button></form>'
        )
        return page("Guestbook", f"<ul>{entries}</ul>{form}")

    async def product(self, request: ServerRequest) -> Reply:
        product_id = request.query.get("id", "1")
        sql = f"SELECT name, price FROM products WHERE id = {product_id}"
        try:
            rows = await asyncio.to_thread(lambda: _database().execute(sql).fetchall())
        except sqlite3.Error as exc:
            message = html.escape(f"sqlite3.OperationalError: {exc}")
            return page("Database error", f"<pre>{message}\nQuery: {html.escape(sql)}</pre>", status=500)
        listing = "".join(f"<li>{html.escape(name)}: {price}</li>" for name, price in rows)
        return page("Product", f"<ul>{listing}</ul>")

    async def items(self, request: ServerRequest) -> Reply:
        sql = f"SELECT name FROM items WHERE category = '{request.query.get('category', '')}'"
        try:
            rows = await asyncio.to_thread(lambda: _database().execute(sql).fetchall())
        except sqlite3.Error:
            rows = []
        listing = "".join(f"<li>{html.escape(name)}</li>" for (name,) in rows) or "<li>No items.</li>"
        return page("Items", f"<ul>{listing}</ul>")

    async def ping_api(self, request: ServerRequest) -> Reply:
        sql = f"SELECT count(*) FROM items WHERE id = {request.query.get('id', '1')}"
        with contextlib.suppress(sqlite3.Error):
            await asyncio.to_thread(lambda: _database().execute(sql).fetchall())
        return text(json.dumps({"ok": True}), "application/json")

    async def orders(self, request: ServerRequest) -> Reply:
        body = f'<div id="orders"></div><a href="/docs/api.json">Our API</a><script>{ORDERS_SCRIPT}</script>'
        return page("Orders", body)

    async def orders_api(self, request: ServerRequest) -> Reply:
        sql = f"SELECT id, status FROM orders WHERE status = '{request.query.get('status', '')}'"  # injectable
        try:
            rows = await asyncio.to_thread(lambda: _database().execute(sql).fetchall())
        except sqlite3.Error as exc:  # the API answers with the driver's message
            return text(json.dumps({"error": f"sqlite3.OperationalError: {exc}"}), "application/json", status=500)
        return text(json.dumps({"orders": [{"id": i, "status": s} for i, s in rows]}), "application/json")

    async def cart_api(self, request: ServerRequest) -> Reply:
        self.cart_requests.append(f"{request.method} {request.target}")  # a scan must never reach it
        return text(json.dumps({"saved": True}), "application/json")

    async def api_document(self, request: ServerRequest) -> Reply:
        return text(json.dumps(openapi_document()), "application/json")

    async def greeting_api(self, request: ServerRequest) -> Reply:
        name = request.query.get("name", "guest")
        try:
            greeting = jinja2.Environment().from_string(f"Hello {name}!").render()  # SSTI
        except jinja2.TemplateError:
            greeting = "Hello!"
        return text(json.dumps({"greeting": greeting}), "application/json")

    async def product_api(self, request: ServerRequest) -> Reply:
        return text(json.dumps({"id": 2, "name": "Desk", "price": 120.0}), "application/json")

    async def error(self, request: ServerRequest) -> Reply:
        try:
            carts: dict[str, int] = {}
            carts["missing"]  # a real exception for a real traceback
        except KeyError:
            trace = traceback.format_exc()
        return page("Server Error", f"<pre>{html.escape(trace)}</pre>", status=500)

    async def tools_ping(self, request: ServerRequest) -> Reply:
        output = await asyncio.to_thread(_emulated_shell, f"ping -c 1 {request.query.get('host', '')}")
        return page("Ping", f"<pre>{html.escape(output)}</pre>")

    async def tools_backup(self, request: ServerRequest) -> Reply:
        await asyncio.to_thread(_emulated_shell, f"rsync -a /var/www {request.query.get('host', '')}:/backup")
        return page("Backup", "<p>Backup started.</p>")  # the output is never shown: a blind injection

    async def download(self, request: ServerRequest) -> Reply:
        path = os.path.join(self.files_dir, request.query.get("file", ""))  # traversal: no normalisation
        try:
            content = Path(path).read_text(errors="replace")
        except OSError:
            return page("Download", "<p>No such file.</p>", status=404)
        return text(content)

    async def go(self, request: ServerRequest) -> Reply:
        return Reply(302, b"", {"Location": request.query.get("url", "/")})

    async def lang(self, request: ServerRequest) -> Reply:
        value = request.query.get("set", "en")  # CRLF: written into a header as is
        cookie = f"lang={value}; Path=/; Secure; HttpOnly; SameSite=Lax"
        return page("Language", "<p>Language saved.</p>", headers={"Set-Cookie": cookie})

    async def hello(self, request: ServerRequest) -> Reply:
        name = html.escape(request.query.get("name", "guest"))
        try:
            rendered = jinja2.Environment().from_string(f"<p>Hello {name}!</p>").render()  # SSTI
        except jinja2.TemplateError:
            rendered = "<p>Hello!</p>"
        return page("Hello", rendered)

    async def import_xml(self, request: ServerRequest) -> Reply:
        if request.method != "POST":
            form = (
                '<form method="post" action="/api/import" enctype="application/xml">'
                '<input name="item" value="lamp"><button type="submit">Import</button></form>'
            )
            return page("Import", form)
        parser = etree.XMLParser(resolve_entities=True, load_dtd=True, no_network=True)  # XXE
        try:
            root = etree.fromstring(request.body, parser)
        except etree.XMLSyntaxError:
            return text("bad XML", status=400)
        return text(f"Imported {root.tag}: {root.text or ''}")

    async def fetch(self, request: ServerRequest) -> Reply:
        url = request.query.get("url", "")
        self.ssrf_requests.append(url)

        def get() -> str:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - the SSRF under test
                return f"status {response.status}, {len(response.read())} bytes"

        try:
            result = await asyncio.to_thread(get)
        except Exception:
            result = "could not fetch"
        return page("Fetch", f"<p>{html.escape(result)}</p>")

    async def user_api(self, request: ServerRequest) -> Reply:
        callback = request.query.get("callback", "")
        data = json.dumps({"name": "Ada", "email": "ada@example.com"})
        if callback:
            return text(f"{callback}({data});", "application/javascript")
        return text(data, "application/json")

    async def data_api(self, request: ServerRequest) -> Reply:
        headers = {}
        if "origin" in request.headers:
            headers = {
                "Access-Control-Allow-Origin": request.headers["origin"],
                "Access-Control-Allow-Credentials": "true",
            }
        return text(json.dumps({"orders": [1, 2, 3]}), "application/json", headers=headers)

    async def static_index(self, request: ServerRequest) -> Reply:
        rows = "".join(f'<li><a href="{name}">{name}</a></li>' for name in ("app.js", "jquery-1.8.3.min.js"))
        return Reply(200, f"<html><head><title>Index of /static</title></head><body><h1>Index of /static</h1>"
                     f"<ul><li><a href=\"/\">Parent Directory</a></li>{rows}</ul></body></html>".encode(),
                     {"Content-Type": "text/html"})  # fmt: skip

    async def app_js(self, request: ServerRequest) -> Reply:
        return text(APP_JS, "application/javascript")

    async def app_js_map(self, request: ServerRequest) -> Reply:
        source_map = {"version": 3, "sources": ["src/app.ts"], "names": [], "mappings": "AAAA"}
        return text(json.dumps(source_map), "application/json")

    async def jquery(self, request: ServerRequest) -> Reply:
        return text(JQUERY_1_8_3, "application/javascript")

    async def git_head(self, request: ServerRequest) -> Reply:
        return text("ref: refs/heads/main\n")

    async def dotenv(self, request: ServerRequest) -> Reply:
        return text("APP_ENV=production\nDB_PASSWORD=hunter2\nSECRET_KEY=3f9a1c\n")

    async def backup_sql(self, request: ServerRequest) -> Reply:
        return text("-- MySQL dump 10.13\nCREATE TABLE users (id int, email varchar(255));\n"
                    "INSERT INTO users VALUES (1,'ada@example.com');\n", "application/sql")  # fmt: skip
