"""JSON endpoint discovery: GET URLs in scripts, OpenAPI/Swagger documents, and the crawler turning both into
injection points on a real local server, without ever sending a POST or leaving the scope."""

from __future__ import annotations

import json

from spyglass.core.fetch import Fetcher
from spyglass.scanner.contract import ScanPlan
from spyglass.scanner.crawler import Crawler, parse_html
from spyglass.scanner.discovery import is_openapi, openapi_endpoints, script_endpoints
from spyglass.scanner.http import ScanClient
from tests.support.http_server import LocalHttpServer, Reply, ServerRequest

SCRIPT = """
function load(s) { fetch('/api/orders?status=' + encodeURIComponent(s)).then(function (r) { return r.json(); }); }
fetch(`/api/greet?name=${user.name}&lang=en`);
function save(c) { fetch('/api/cart', {body: JSON.stringify(c), method: 'POST'}); }
fetch("/api/head", {method: "HEAD"});
$.getJSON("/api/stock?sku=L-1", show); jQuery.get('rel/path?a=1'); axios.get('/api/axios?b=2');
var x = new XMLHttpRequest(); x.open("GET", "/api/xhr?id=3"); x.open('DELETE', '/api/xhr?id=3&all=1');
window.open('/popup', '_blank'); $.post('/api/post', {}); $.ajax({url: '/api/ajax', type: 'PUT'});
fetch('javascript:alert(1)'); fetch('data:text/plain,x'); fetch('//cdn.example/x.json'); fetch('#top');
"""


def test_script_endpoints_are_the_get_requests_only() -> None:
    assert script_endpoints(SCRIPT, "http://shop.test/pages/orders") == [
        "http://shop.test/api/orders?status=",
        "http://shop.test/api/greet?name=&lang=en",
        "http://shop.test/api/head",
        "http://shop.test/api/stock?sku=L-1",
        "http://shop.test/pages/rel/path?a=1",
        "http://shop.test/api/axios?b=2",
        "http://shop.test/api/xhr?id=3",
    ]
    assert script_endpoints("var fetched = fetch; console.log('/api/not-a-call')", "http://shop.test/") == []


def document(**extra: object) -> str:
    return json.dumps(
        {
            "openapi": "3.1.0",
            "paths": {
                "/stock": {
                    "get": {
                        "parameters": [
                            {"name": "sku", "in": "query", "schema": {"type": "string", "example": "L-1"}},
                            {"name": "limit", "in": "query", "schema": {"type": "integer", "default": 20}},
                            {"name": "sort", "in": "query", "schema": {"enum": ["price", "name"]}},
                            {"name": "cheap", "in": "query", "schema": {"type": "boolean"}},
                            {"name": "X-Trace", "in": "header", "schema": {"type": "string"}},
                            {"$ref": "#/components/parameters/Page"},
                        ]
                    }
                },
                "/items/{id}/reviews/{review}": {
                    "parameters": [{"name": "id", "in": "path", "example": "a b"}],
                    "get": {"parameters": [{"name": "q", "in": "query"}]},
                },
                "/orders": {"post": {}, "delete": {}},
                "relative": {"get": {}},
            },
            **extra,
        }
    )


def test_openapi_endpoints() -> None:
    assert openapi_endpoints(document(servers=[{"url": "/api/v2/"}]), "http://shop.test/openapi.json") == [
        "http://shop.test/api/v2/stock?sku=L-1&limit=20&sort=price&cheap=true",
        "http://shop.test/api/v2/items/a%20b/reviews/1?q=test",
    ]
    elsewhere = openapi_endpoints(document(servers=[{"url": "https://api.other.test"}]), "http://shop.test/o.json")
    assert elsewhere[0].startswith("https://api.other.test/stock?")  # left to the crawler's scope to refuse
    swagger = {"swagger": "2.0", "basePath": "/v1", "paths": {"/x": {"get": {"parameters": [
        {"name": "q", "in": "query", "type": "integer"}]}}}}  # fmt: skip
    assert openapi_endpoints(json.dumps(swagger), "http://shop.test/docs/swagger.json") == ["http://shop.test/v1/x?q=1"]
    assert openapi_endpoints('{"name": "not an API", "paths": {}}', "http://shop.test/a.json") == []
    assert openapi_endpoints('{"openapi": "3.0.0", "paths": [', "http://shop.test/a.json") == []
    assert not is_openapi("<html>openapi paths</html>")


def test_inline_scripts_only_when_they_are_code() -> None:
    html = """<html><body><script>fetch('/api/a?x=1')</script>
    <script type="module">fetch('/api/m')</script><script type="application/ld+json">{"u": "fetch('/api/ld')"}</script>
    <script type="text/template">fetch('/api/tpl')</script><script src="/app.js">fetch('/api/ignored')</script>
    </body></html>"""
    parsed = parse_html(html, "http://shop.test/page")
    assert parsed.endpoints == ["http://shop.test/api/a?x=1", "http://shop.test/api/m"]
    assert parsed.scripts == ["http://shop.test/app.js"]


async def test_the_crawler_tests_discovered_json_endpoints(server: LocalHttpServer, fetcher: Fetcher) -> None:
    pages = {
        "/": "<html><head><link rel='alternate' type='application/json' href='/feed.json?since=1'></head><body>"
        "<a href='/orders'>Orders</a><script src='/static/app.js'></script></body></html>",
        "/orders": "<html><body><script>fetch('/api/orders?status=' + s); fetch('/api/cart', "
        "{method: 'POST'}); fetch('/admin/api/purge?all=1');</script></body></html>",
    }
    replies = {
        "/static/app.js": ("application/javascript", "axios.get('/api/from-file?page=1');"),
        "/openapi.json": ("application/json", document(servers=[{"url": "/"}])),
        "/stock": ("application/json", "{}"),
        "/api/orders": ("application/json", "[]"),
        "/api/from-file": ("application/json", "[]"),
        "/feed.json": ("application/json", "[]"),
    }
    for path, body in pages.items():
        replies[path] = ("text/html", body)
    for path, (kind, body) in replies.items():

        async def reply(_: ServerRequest, kind: str = kind, body: str = body) -> Reply:
            return Reply(200, body.encode(), {"content-type": kind})

        server.route(path, reply)
    plan = ScanPlan(base_url=server.url("/"), requests_per_second=0, exclude_paths=("/admin/",))
    result = await Crawler(ScanClient(plan, fetcher)).crawl()

    points = {(p.method, p.url.removeprefix(server.origin), p.parameter) for p in result.injection_points}
    assert {
        ("GET", "/api/orders", "status"),  # an inline script
        ("GET", "/api/from-file", "page"),  # a same-site script file
        ("GET", "/feed.json", "since"),  # <link rel="alternate" type="application/json">
        ("GET", "/stock", "sku"),  # /openapi.json, not linked from anywhere
        ("GET", "/stock", "limit"),
        ("GET", "/items/a%20b/reviews/1", "q"),
    } <= points
    assert server.hits("/openapi.json") == 1 and server.hits("/swagger.json") == 1
    assert server.hits("/api/cart") == 0  # a POST in the page's script: never requested
    assert not any(r.path.startswith("/admin") for r in server.requests)  # discovered, but out of scope
    assert {r.method for r in server.requests} == {"GET"}
