"""The clean app: the same features as the vulnerable app, built the way a careful developer would.

Security headers on every response, cookies with Secure/HttpOnly/SameSite, anti-CSRF tokens on every
form, output escaped for its context, parametrised SQL, allow-lists for files, redirects, languages,
fetches and JSONP callbacks, an XML parser without DTDs, no version banners. Served over HTTPS.
A scan must report nothing of medium severity or higher here.
"""

from __future__ import annotations

import asyncio
import html
import json
import re
import secrets
import sqlite3
import ssl

from lxml import etree

from tests.scanner.apps.server import AppServer, Route, form_fields, page, text
from tests.scanner.apps.vulnerable import ITEMS, ORDERS, ORDERS_SCRIPT, PRODUCTS, openapi_document
from tests.support.http_server import Reply, ServerRequest

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'self'; "
    "frame-ancestors 'none'; form-action 'self'",
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
NO_STORE = {"Cache-Control": "no-store"}
JQUERY_3_7_1 = "/*! jQuery v3.7.1 | (c) OpenJS Foundation and other contributors | jquery.org/license */\n"
FILES = {"report.txt": "Quarterly report: all good.\n"}
LANGUAGES = {"en", "fr", "de"}
CALLBACK = re.compile(r"[A-Za-z_$][\w$]{0,63}(\.[A-Za-z_$][\w$]{0,63}){0,3}")


def _query(sql: str, *args: object) -> list[tuple[object, ...]]:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT, price REAL)")
    db.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, category TEXT)")
    db.executemany("INSERT INTO products VALUES (?, ?, ?)", PRODUCTS)
    db.executemany("INSERT INTO items VALUES (?, ?, ?)", ITEMS)
    db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, status TEXT)")
    db.executemany("INSERT INTO orders VALUES (?, ?)", ORDERS)
    return db.execute(sql, args).fetchall()


class CleanApp(AppServer):
    """The clean app (give it a TLS context with a certificate the scanner trusts)."""

    def __init__(self, *, tls: ssl.SSLContext | None = None) -> None:
        super().__init__(tls=tls)
        self.csrf_token = secrets.token_urlsafe(24)
        self.guestbook: list[tuple[str, str]] = [("Ada", "Lovely site!")]
        self.cart_requests: list[str] = []
        routes = {
            "/": self.home, "/login": self.login, "/account": self.account, "/search": self.search,
            "/feedback": self.feedback,
            "/profile": self.profile, "/guestbook": self.guestbook_page, "/product": self.product,
            "/items": self.items, "/api/ping": self.ping_api, "/tools/ping": self.tools_ping,
            "/tools/backup": self.tools_backup,
            "/download": self.download, "/go": self.go, "/lang": self.lang, "/hello": self.hello,
            "/api/import": self.import_xml, "/fetch": self.fetch, "/api/user": self.user_api,
            "/api/data": self.data_api, "/static/app.js": self.app_js, "/static/jquery-3.7.1.min.js": self.jquery,
            "/api/orders": self.orders_api, "/api/cart": self.cart_api, "/openapi.json": self.api_document,
            "/api/greeting": self.greeting_api, "/api/products/2": self.product_api,
        }  # fmt: skip
        for path, handler in routes.items():
            self.route(path, self._secured(handler))

    def _secured(self, handler: Route) -> Route:
        async def wrapped(request: ServerRequest) -> Reply:
            if request.method == "TRACE":
                reply = text("Method Not Allowed", status=405, headers={"Allow": "GET, HEAD, POST"})
            elif request.method == "OPTIONS":
                reply = Reply(204, b"", {"Allow": "GET, HEAD, POST"})
            else:
                try:
                    reply = await handler(request)
                except Exception:
                    reply = text("Something went wrong.", status=500)
            reply.headers = {**SECURITY_HEADERS, **reply.headers}
            return reply

        return wrapped

    def _csrf_field(self) -> str:
        return f'<input type="hidden" name="csrf_token" value="{self.csrf_token}">'

    def _csrf_ok(self, request: ServerRequest) -> bool:
        return secrets.compare_digest(form_fields(request).get("csrf_token", ""), self.csrf_token)

    async def home(self, request: ServerRequest) -> Reply:
        links = [
            "/login", "/account", "/search?q=shoes", "/feedback?text=thanks", "/profile?color=blue", "/guestbook",
            "/product?id=1",
            "/items?category=books", "/api/ping?id=1", "/tools/ping?host=127.0.0.1",
            "/tools/backup?host=127.0.0.1", "/download?file=report.txt",
            "/go?url=/account", "/lang?set=en", "/hello?name=guest", "/api/import", "/fetch?url=https://example.com/",
            "/api/user?callback=handle", "/api/data",
        ]  # fmt: skip
        items = "".join(f'<li><a href="{html.escape(link)}">{html.escape(link)}</a></li>' for link in links)
        scripts = '<script src="/static/jquery-3.7.1.min.js"></script><script src="/static/app.js"></script>'
        cookie = "session=9c1e7b4f2a; Path=/; Secure; HttpOnly; SameSite=Lax"
        return page("Careful shop", f"<ul>{items}</ul>{scripts}", headers={"Set-Cookie": cookie})

    async def login(self, request: ServerRequest) -> Reply:
        if request.method == "POST":
            if not self._csrf_ok(request):
                return page("Login", "<p>The form expired; please try again.</p>", status=403, headers=NO_STORE)
            return page("Login", "<p>Wrong user name or password.</p>", headers=NO_STORE)
        form = (
            f'<form method="post" action="/login">{self._csrf_field()}<input name="username" autocomplete="username">'
            '<input type="password" name="password" autocomplete="current-password"><button>Log in</button></form>'
        )
        return page("Login", form, headers=NO_STORE)

    async def account(self, request: ServerRequest) -> Reply:
        return page("Account", "<p>Ada Lovelace, ada@example.com, card ending 4242</p>", headers=NO_STORE)

    async def search(self, request: ServerRequest) -> Reply:
        return page("Search", f"<p>Results for {html.escape(request.query.get('q', ''))}</p><p>No products found.</p>")

    async def feedback(self, request: ServerRequest) -> Reply:
        draft = html.escape(request.query.get("text", ""))
        return page("Feedback", f'<form action="/feedback"><textarea name="text">{draft}</textarea></form>')

    async def profile(self, request: ServerRequest) -> Reply:
        color = json.dumps(request.query.get("color", "blue")).replace("<", "\\u003c").replace(">", "\\u003e")
        return page("Profile", f'<p data-color="{html.escape(color)}">Profile</p>')

    async def guestbook_page(self, request: ServerRequest) -> Reply:
        if request.method == "POST":
            if not self._csrf_ok(request):
                return page("Guestbook", "<p>The form expired; please try again.</p>", status=403)
            fields = form_fields(request)
            self.guestbook.append((fields.get("author", ""), fields.get("message", "")))
            return page("Thanks", '<p>Thank you. <a href="/guestbook">Back</a></p>')
        entries = "".join(f"<li><b>{html.escape(a)}</b>: {html.escape(m)}</li>" for a, m in self.guestbook)
        form = (
            f'<form method="post" action="/guestbook">{self._csrf_field()}<input name="author" value="">'
            '<textarea name="message"></textarea><button type="submit">Sign</button></form>'
        )
        return page("Guestbook", f"<ul>{entries}</ul>{form}")

    async def product(self, request: ServerRequest) -> Reply:
        raw = request.query.get("id", "")
        if not raw.isdigit() or len(raw) > 9:
            return page("Product", "<p>Please give a product number.</p>", status=400)
        rows = await asyncio.to_thread(_query, "SELECT name, price FROM products WHERE id = ?", int(raw))
        listing = "".join(f"<li>{html.escape(str(name))}: {price}</li>" for name, price in rows)
        return page("Product", f"<ul>{listing}</ul>")

    async def items(self, request: ServerRequest) -> Reply:
        category = request.query.get("category", "")
        rows = await asyncio.to_thread(_query, "SELECT name FROM items WHERE category = ?", category)
        listing = "".join(f"<li>{html.escape(str(name))}</li>" for (name,) in rows) or "<li>No items.</li>"
        return page("Items", f"<ul>{listing}</ul>")

    async def ping_api(self, request: ServerRequest) -> Reply:
        raw = request.query.get("id", "")
        if not raw.isdigit() or len(raw) > 9:
            return text(json.dumps({"error": "id must be a number"}), "application/json", status=400)
        await asyncio.to_thread(_query, "SELECT count(*) FROM items WHERE id = ?", int(raw))
        return text(json.dumps({"ok": True}), "application/json")

    async def tools_ping(self, request: ServerRequest) -> Reply:
        host = request.query.get("host", "")
        if not re.fullmatch(r"[A-Za-z0-9.-]{1,253}", host):
            return page("Ping", "<p>Please give a host name or an IP address.</p>", status=400)
        return page("Ping", f"<pre>PING {html.escape(host)}: 1 packets transmitted, 1 received</pre>")

    async def tools_backup(self, request: ServerRequest) -> Reply:
        if not re.fullmatch(r"[A-Za-z0-9.-]{1,253}", request.query.get("host", "")):
            return page("Backup", "<p>Please give a host name or an IP address.</p>", status=400)
        return page("Backup", "<p>Backup started.</p>")  # runs rsync with an argument list, never a shell

    async def download(self, request: ServerRequest) -> Reply:
        name = request.query.get("file", "")
        if name not in FILES:
            return page("Download", "<p>No such file.</p>", status=404)
        return text(FILES[name], headers={"Content-Disposition": f'attachment; filename="{name}"'})

    async def go(self, request: ServerRequest) -> Reply:
        target = request.query.get("url", "/")
        if not target.startswith("/") or target.startswith("//") or "\\" in target or any(c < " " for c in target):
            target = "/"
        return Reply(302, b"", {"Location": target})

    async def lang(self, request: ServerRequest) -> Reply:
        value = request.query.get("set", "en")
        if value not in LANGUAGES:
            return page("Language", "<p>Unknown language.</p>", status=400)
        cookie = f"lang={value}; Path=/; Secure; HttpOnly; SameSite=Lax"
        return page("Language", "<p>Language saved.</p>", headers={"Set-Cookie": cookie})

    async def hello(self, request: ServerRequest) -> Reply:
        return page("Hello", f"<p>Hello {html.escape(request.query.get('name', 'guest'))}!</p>")

    async def import_xml(self, request: ServerRequest) -> Reply:
        if request.method != "POST":
            form = (
                f'<form method="post" action="/api/import" enctype="application/xml">{self._csrf_field()}'
                '<input name="item" value="lamp"><button type="submit">Import</button></form>'
            )
            return page("Import", form)
        if b"<!DOCTYPE" in request.body.upper():
            return text("DTDs are not accepted", status=400)
        parser = etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True)
        try:
            root = etree.fromstring(request.body, parser)
        except etree.XMLSyntaxError:
            return text("bad XML", status=400)
        return text(f"Imported {root.tag}: {root.text or ''}")

    async def fetch(self, request: ServerRequest) -> Reply:
        if request.query.get("url") != "https://example.com/":  # only the one partner feed; never fetched in tests
            return page("Fetch", "<p>That address is not allowed.</p>", status=400)
        return page("Fetch", "<p>Feed refreshed.</p>")

    async def user_api(self, request: ServerRequest) -> Reply:
        callback = request.query.get("callback", "")
        data = json.dumps({"name": "Ada"})
        if callback and CALLBACK.fullmatch(callback):
            return text(f"/**/{callback}({data});", "application/javascript")
        return text(data, "application/json")

    async def data_api(self, request: ServerRequest) -> Reply:
        headers = {"Vary": "Origin"}
        if request.headers.get("origin") == "https://app.example.com":
            headers |= {
                "Access-Control-Allow-Origin": "https://app.example.com",
                "Access-Control-Allow-Credentials": "true",
            }
        return text(json.dumps({"orders": [1, 2, 3]}), "application/json", headers=headers)

    async def app_js(self, request: ServerRequest) -> Reply:
        script = "document.addEventListener('DOMContentLoaded',function(){});\n" + ORDERS_SCRIPT  # no inline script
        return text(script, "application/javascript")

    async def orders_api(self, request: ServerRequest) -> Reply:
        status = request.query.get("status", "")
        rows = await asyncio.to_thread(_query, "SELECT id, status FROM orders WHERE status = ?", status)
        return text(json.dumps({"orders": [{"id": i, "status": s} for i, s in rows]}), "application/json")

    async def cart_api(self, request: ServerRequest) -> Reply:
        self.cart_requests.append(f"{request.method} {request.target}")
        return text(json.dumps({"saved": True}), "application/json")

    async def api_document(self, request: ServerRequest) -> Reply:
        return text(json.dumps(openapi_document()), "application/json")

    async def greeting_api(self, request: ServerRequest) -> Reply:
        greeting = f"Hello {request.query.get('name', 'guest')[:100]}!"  # data, never a template
        return text(json.dumps({"greeting": greeting}), "application/json")

    async def product_api(self, request: ServerRequest) -> Reply:
        return text(json.dumps({"id": 2, "name": "Desk", "price": 120.0}), "application/json")

    async def jquery(self, request: ServerRequest) -> Reply:
        return text(JQUERY_3_7_1, "application/javascript")
