"""A small, realistic web site on a real loopback HTTP server for crawler, client, pipeline and CLI tests.

Pages: a home page with links (relative, absolute, duplicates with fragments and reordered queries,
an external link, a ``mailto:``), a search form (GET), a contact form (POST with hidden token, select
and textarea), a script; robots.txt naming a sitemap and a disallowed folder; sitemap.xml; a chain of
``/deep/N`` pages; a login form that sets a session cookie and an account page that needs it; a page
whose links only exist after its script ran (for the browser crawl); a logout link.
"""

from __future__ import annotations

from tests.support.http_server import LocalHttpServer, Reply, ServerRequest

SESSION = "s3ss10n-abc"
USERNAME = "alice"
PASSWORD = "correct horse"
LOGIN_TOKEN = "tok-123"

HOME = """<!doctype html><html><head><title>Shop</title>
<script src="/static/app.js"></script><script src="https://cdn.example.net/lib.js"></script></head>
<body>
<a href="/about">About</a> <a href="about#team">Team</a> <a href="/about#">About again</a>
<a href="/products?id=1&amp;sort=asc">P1</a> <a href="/products?sort=asc&amp;id=1">P1 again</a>
<a href="/products?id=2&amp;sort=asc">P2</a> <a href="/products?id=3&amp;sort=asc">P3</a>
<a href="/products?id=4&amp;sort=asc">P4</a> <a href="/products?id=5&amp;sort=asc">P5</a>
<a href="/products?id=6&amp;sort=asc">P6</a> <a href="/products?id=7&amp;sort=asc">P7</a>
<a href="http://www.example.com/elsewhere">Elsewhere</a> <a href="mailto:shop@example.com">Mail</a>
<a href="javascript:void(0)">Nothing</a> <a href="/deep/1">Deep</a> <a href="/contact">Contact</a>
<a href="/admin/">Admin</a> <a href="/logout">Log out</a> <a href="/login">Log in</a>
<form action="/search" method="get"><input name="q" value=""><input type="submit" value="Go"></form>
</body></html>"""

CONTACT = """<!doctype html><html><body><h1>Contact</h1>
<form action="/contact/send" method="POST">
<input type="hidden" name="token" value="t0k3n">
<input name="name"><input type="email" name="email">
<select name="topic"><option value="sales">Sales</option><option value="help" selected>Help</option></select>
<textarea name="message"></textarea>
<input type="checkbox" name="copy" value="yes">
<button type="submit" name="send" value="1">Send</button>
</form></body></html>"""

LOGIN = """<!doctype html><html><body><form action="/login" method="post">
<input type="hidden" name="csrf" value="{token}"><input name="username"><input type="password" name="password">
<input type="submit" value="Log in"></form></body></html>"""

SCRIPTED = """<!doctype html><html><body><div id="app">loading</div>
<script>
const link = document.createElement('a'); link.href = '/js-only?from=app'; link.textContent = 'built by script';
document.getElementById('app').replaceChildren(link);
</script></body></html>"""


def html(body: str, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, body.encode(), {"Content-Type": "text/html; charset=utf-8", **(headers or {})})


class DemoSite:
    """Registers the pages on ``server``; ``server.requests`` records what the scan sent."""

    def __init__(self, server: LocalHttpServer) -> None:
        self.server = server
        server.robots_txt = (
            f"User-agent: *\nDisallow: /hidden-from-robots/\nAllow: /\nSitemap: {server.url('/sitemap.xml')}\n"
        )
        pages = {
            "/": HOME,
            "/about": '<html><body><a href="/">Home</a><a href="/team.html">Team</a></body></html>',
            "/team.html": "<html><body>The team</body></html>",
            "/products": '<html><body>A product <a href="/">Home</a></body></html>',
            "/search": "<html><body>Results</body></html>",
            "/contact": CONTACT,
            "/admin/": "<html><body>Admin area</body></html>",
            "/hidden-from-robots/": "<html><body>Not for robots</body></html>",
            "/from-sitemap": "<html><body>Listed in the sitemap</body></html>",
            "/app": SCRIPTED,
            "/js-only": "<html><body>Only a browser finds me</body></html>",
        }
        for path, body in pages.items():
            server.route(path, self._static(body))
        for n in range(1, 11):
            server.route(f"/deep/{n}", self._static(f'<html><body><a href="/deep/{n + 1}">next</a></body></html>'))
        server.route("/static/app.js", self._script)
        server.route("/sitemap.xml", self._sitemap)
        server.route("/login", self._login)
        server.route("/account", self._account)
        server.route("/logout", self._logout)
        server.route("/contact/send", self._static("<html><body>Thanks</body></html>"))

    def paths(self) -> list[str]:
        return [request.path for request in self.server.requests]

    @staticmethod
    def _static(body: str):  # type: ignore[no-untyped-def]
        async def handler(request: ServerRequest) -> Reply:
            return html(body)

        return handler

    async def _script(self, request: ServerRequest) -> Reply:
        return Reply(200, b"console.log('shop');", {"Content-Type": "application/javascript"})

    async def _sitemap(self, request: ServerRequest) -> Reply:
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"<url><loc>{self.server.url('/from-sitemap')}</loc></url>"
            f"<url><loc>{self.server.url('/about')}</loc></url>"
            "<url><loc>https://other.example.org/page</loc></url></urlset>"
        )
        return Reply(200, body.encode(), {"Content-Type": "application/xml"})

    async def _login(self, request: ServerRequest) -> Reply:
        if request.method == "GET":
            return html(LOGIN.format(token=LOGIN_TOKEN), headers={"Set-Cookie": "pre=1; Path=/; HttpOnly"})
        from urllib.parse import parse_qs

        form = {k: v[-1] for k, v in parse_qs(request.body.decode()).items()}
        ok = (
            form.get("username") == USERNAME
            and form.get("password") == PASSWORD
            and form.get("csrf") == LOGIN_TOKEN
            and "pre=1" in request.headers.get("cookie", "")
        )
        if not ok:
            return html("<html><body>Wrong login</body></html>", status=403)
        return Reply(302, b"", {"Location": "/account", "Set-Cookie": f"session={SESSION}; Path=/; HttpOnly"})

    async def _account(self, request: ServerRequest) -> Reply:
        if f"session={SESSION}" not in request.headers.get("cookie", ""):
            return Reply(302, b"", {"Location": "/login"})
        return html('<html><body>Welcome alice <a href="/account/orders?page=1">Orders</a></body></html>')

    async def _logout(self, request: ServerRequest) -> Reply:
        return Reply(302, b"", {"Location": "/", "Set-Cookie": "session=; Max-Age=0; Path=/"})
