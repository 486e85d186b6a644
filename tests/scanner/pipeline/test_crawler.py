"""The crawler against the demo site: seeds, scope, de-duplication, depth and page caps, injection points."""

from __future__ import annotations

from spyglass.core.fetch import Fetcher
from spyglass.scanner.checks.base import Exchange
from spyglass.scanner.contract import ScanAuth, ScanPlan
from spyglass.scanner.crawler import (
    CompactExchange,
    Crawler,
    CrawlResult,
    compact,
    normalise_url,
    parse_html,
    robots_seeds,
)
from spyglass.scanner.http import ScanClient
from tests.scanner.pipeline.site import PASSWORD, USERNAME, DemoSite
from tests.support.http_server import LocalHttpServer, Reply, ServerRequest


def plan_for(server: LocalHttpServer, **overrides: object) -> ScanPlan:
    values: dict[str, object] = {"base_url": server.url("/"), "requests_per_second": 0, "concurrency": 4}
    return ScanPlan(**{**values, **overrides})  # type: ignore[arg-type]


async def crawl(server: LocalHttpServer, fetcher: Fetcher, **overrides: object) -> tuple[ScanClient, CrawlResult]:
    client = ScanClient(plan_for(server, **overrides), fetcher)
    return client, await Crawler(client).crawl()


def urls_of(result: CrawlResult) -> list[str]:
    return [page.url for page in result.pages]


def test_normalise_url() -> None:
    assert normalise_url("HTTP://Shop.Test:80/a?b=2&a=1#top") == "http://shop.test/a?a=1&b=2"
    assert normalise_url("https://shop.test:443") == "https://shop.test/"
    assert normalise_url("../x?q=", "http://shop.test:8080/a/b/c") == "http://shop.test:8080/a/x?q="
    assert normalise_url("mailto:a@b.c") is None
    assert normalise_url("javascript:alert(1)", "http://shop.test/") is None
    assert normalise_url("http://[::1]:8080/x") == "http://[::1]:8080/x"
    assert normalise_url("http://shop.test:99999/") is None


def test_parse_html_finds_links_forms_and_scripts() -> None:
    html = """<html><head><base href="/shop/"><script src="app.js"></script>
    <link rel="stylesheet" href="s.css"><meta http-equiv="refresh" content="5; url=/moved"></head>
    <body><a href="item?id=1#x">i</a><iframe src="/frame"></iframe>
    <form method="post" action="buy"><input name="qty" type="number"><input type="hidden" name="t" value="v">
    <select name="c"><option value="a">A</option><option value="b" selected>B</option></select></form></body></html>"""
    parsed = parse_html(html, "http://shop.test/index.html")
    assert parsed.links == ["http://shop.test/shop/item?id=1", "http://shop.test/frame", "http://shop.test/moved"]
    assert parsed.scripts == ["http://shop.test/shop/app.js"]
    [form] = parsed.forms
    assert (form.action, form.method) == ("http://shop.test/shop/buy", "POST")
    assert [(f.name, f.type, f.value) for f in form.fields] == [("qty", "number", ""), ("t", "hidden", "v"),
                                                                 ("c", "select", "b")]  # fmt: skip


def test_robots_seeds() -> None:
    text = "User-agent: *\nDisallow: /private/ # keep out\nDisallow: /*.php$\nAllow: /\nSitemap: /maps/site.xml\n"
    assert robots_seeds(text, "http://shop.test/") == [
        "http://shop.test/private/",
        "http://shop.test/",
        "http://shop.test/maps/site.xml",
    ]


async def test_crawl_follows_links_seeds_and_stays_in_scope(
    site: DemoSite, server: LocalHttpServer, fetcher: Fetcher
) -> None:
    client, result = await crawl(server, fetcher)
    urls = urls_of(result)
    origin = server.origin
    paths = {url.removeprefix(origin) for url in urls}
    # Links, the robots.txt folder, the sitemap entry, the GET form and the script were all visited.
    for expected in ("/", "/about", "/team.html", "/contact", "/hidden-from-robots/", "/from-sitemap",
                     "/search?q=test", "/static/app.js", "/deep/1", "/admin/", "/login"):  # fmt: skip
        assert expected in paths, expected
    # Nothing outside the origin was requested; the external link and the CDN script are not crawled.
    assert all(url.startswith(origin) for url in urls)
    # Each page once: fragments, reordered queries and "/about#" are one URL.
    assert len(urls) == len(set(urls))
    assert site.paths().count("/about") == 1
    assert client.requests_sent == len(server.requests)


async def test_same_path_different_values_are_capped(site: DemoSite, server: LocalHttpServer, fetcher: Fetcher) -> None:
    await crawl(server, fetcher)
    assert site.paths().count("/products") == fetcher.settings.scanner_pipeline_max_variants_per_path


async def test_max_depth_and_max_pages(site: DemoSite, server: LocalHttpServer, fetcher: Fetcher) -> None:
    _, result = await crawl(server, fetcher, max_depth=3)
    urls = urls_of(result)
    deep = sorted(url for url in urls if "/deep/" in url)
    assert deep == [server.url(f"/deep/{n}") for n in (1, 2, 3)]  # home is depth 0, /deep/1 is 1
    _, few = await crawl(server, fetcher, max_pages=4)
    assert len(few.pages) == 4


async def test_exclude_patterns_are_never_requested(site: DemoSite, server: LocalHttpServer, fetcher: Fetcher) -> None:
    _, result = await crawl(server, fetcher, exclude_paths=("/admin/", "/deep/*"))
    urls = urls_of(result)
    assert not any(path.startswith(("/admin", "/deep")) for path in site.paths())
    assert server.url("/about") in urls


async def test_request_budget_stops_the_crawl(site: DemoSite, server: LocalHttpServer, fetcher: Fetcher) -> None:
    client, result = await crawl(server, fetcher, max_requests=6)
    assert len(server.requests) == 6
    assert client.requests_sent == 6
    assert result.stopped_reason == "budget"


async def test_injection_points_from_queries_and_forms(
    site: DemoSite, server: LocalHttpServer, fetcher: Fetcher
) -> None:
    _, result = await crawl(server, fetcher)
    points = result.injection_points
    by_key = {(p.method, p.url.removeprefix(server.origin), p.parameter): p for p in points}
    assert ("GET", "/products", "id") in by_key
    assert ("GET", "/products", "sort") in by_key
    assert ("GET", "/search", "q") in by_key
    message = by_key[("POST", "/contact/send", "message")]
    assert message.location == "form"
    assert message.page_url == server.url("/contact")
    assert dict(message.params) == {"token": "t0k3n", "name": "test", "email": "scan@example.com",
                                    "topic": "help", "copy": "yes", "send": "1"}  # fmt: skip
    # One point per (method, URL, parameter): the five /products pages give one "id" point.
    assert sum(1 for p in points if p.url.endswith("/products") and p.parameter == "id") == 1
    assert not any(p.parameter == "send" for p in points)


async def test_authenticated_crawl_reaches_the_account_and_skips_logout(
    site: DemoSite, server: LocalHttpServer, fetcher: Fetcher
) -> None:
    auth = ScanAuth(kind="form", login_url=server.url("/login"), fields={"username": USERNAME, "password": PASSWORD})
    _, result = await crawl(server, fetcher, auth=auth)
    urls = urls_of(result)
    assert server.url("/account") in urls
    assert server.url("/account/orders?page=1") in urls
    assert "/logout" not in site.paths()
    account = next(r for r in server.requests if r.path == "/account/orders")
    assert "session=" in account.headers["cookie"]


def test_large_page_bodies_are_kept_compressed() -> None:
    body = "<html><body>" + "<p>Ünïcode text and markup</p>" * 2000 + "</body></html>"
    exchange = Exchange("GET", "http://shop.test/", {}, "", 200, {"content-type": "text/html"}, body, 0.1, ["a=1"])
    stored = compact(exchange)
    assert isinstance(stored, CompactExchange)
    assert stored.body == body and stored.headers == exchange.headers and stored.set_cookies == ["a=1"]
    assert len(stored._packed) < len(body.encode()) / 10
    small = Exchange("GET", "http://shop.test/", {}, "", 200, {}, "<p>short</p>")
    assert compact(small) is small


async def test_crawled_pages_read_the_same_when_compressed(server: LocalHttpServer, fetcher: Fetcher) -> None:
    big = "<html><body>" + '<a href="/ok">ok</a>' + "<p>lorem ipsum</p>" * 1000 + "</body></html>"

    async def large(request: ServerRequest) -> Reply:
        return Reply(200, big.encode(), {"Content-Type": "text/html; charset=utf-8"})

    server.route("/large", large)
    _, result = await crawl(server, fetcher, base_url=server.url("/large"))
    page = result.pages[0]
    assert isinstance(page.exchange, CompactExchange)
    assert page.exchange.body == big
    assert server.url("/ok") in page.links


async def test_sitemap_index_and_failed_login(server: LocalHttpServer, fetcher: Fetcher) -> None:
    server.robots_txt = f"Sitemap: {server.url('/sitemap-index.xml')}\n"

    async def index(request: ServerRequest) -> Reply:
        body = f"<sitemapindex><sitemap><loc>{server.url('/sitemap-pages.xml')}</loc></sitemap></sitemapindex>"
        return Reply(200, body.encode(), {"Content-Type": "application/xml"})

    async def pages(request: ServerRequest) -> Reply:
        return Reply(200, f"<urlset><url><loc>{server.url('/ok')}</loc></url></urlset>".encode())

    async def login(request: ServerRequest) -> Reply:
        return Reply(
            403 if request.method == "POST" else 200, b"<form method=post></form>", {"Content-Type": "text/html"}
        )

    for path, handler in (("/sitemap-index.xml", index), ("/sitemap-pages.xml", pages), ("/login", login)):
        server.route(path, handler)
    auth = ScanAuth(kind="form", login_url=server.url("/login"), fields={"user": "a", "password": "b"})
    _, result = await crawl(server, fetcher, base_url=server.url("/login"), auth=auth)
    assert server.url("/ok") in urls_of(result)  # found through the index's child sitemap
    assert server.url("/sitemap-pages.xml") not in urls_of(result)  # a sitemap is read, not crawled as a page
    assert result.errors == [f"Login failed: {server.url('/login')} answered 403."]
