"""JSON endpoints a site reveals without being asked: the URLs its scripts request with GET, and the GET
operations of its OpenAPI (3.x) or Swagger (2.0) description.

The crawler visits what these return like any other URL, so their query parameters become injection
points for the active checks. Only GET requests are ever derived: a ``fetch`` with another method, a
``$.post`` or an OpenAPI ``post`` operation is left alone (scans stay non-destructive). Everything
here is parsing; the crawler does the fetching (scope, budget and URL policy included).
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote, urlencode, urljoin

#: Where an API description is conventionally served when no page links to it.
OPENAPI_LOCATIONS = ("/openapi.json", "/swagger.json")
MAX_ENDPOINTS = 100
MAX_SCRIPT_CHARS = 1_000_000
MAX_DOCUMENT_CHARS = 2_000_000

_TEMPLATE_PART = re.compile(r"\$\{[^{}`]{0,200}\}")
#: A request with a URL given as a string literal: fetch("…"), $.getJSON('…'), $.get / jQuery.get, axios.get,
#: and XMLHttpRequest's open("GET", "…"). ``rest`` is what follows, where fetch's options name a method.
_CALL = re.compile(
    r"""(?P<call>\bfetch|(?:\$|\bjQuery)\.(?:getJSON|get)|\baxios\.get|\.open)\s*\(\s*"""
    r"""(?:(?P<q1>['"])(?P<verb>[A-Za-z]{3,7})(?P=q1)\s*,\s*)?"""
    r"""(?P<q2>['"`])(?P<url>[^'"`\s\\]{1,2000}?)(?P=q2)(?P<rest>[^;]{0,300})"""
)
_METHOD_OPTION = re.compile(r"""\bmethod\s*:\s*['"`]([A-Za-z]+)['"`]""")
_NOT_A_PATH = re.compile(r"^(?:[a-z][a-z0-9+.-]*:(?!//)|#|//)", re.IGNORECASE)  # data:, javascript:, #x, //cdn
_PATH_PARAMETER = re.compile(r"\{([^{}/]+)\}")


def script_endpoints(script: str, base: str) -> list[str]:
    """The URLs ``script`` requests with GET, resolved against ``base`` (template parts left empty)."""
    text = _TEMPLATE_PART.sub("", script[:MAX_SCRIPT_CHARS])
    found: list[str] = []
    for match in _CALL.finditer(text):
        call, verb, url = match["call"], match["verb"], match["url"]
        if call == ".open":
            if (verb or "").upper() != "GET":
                continue
        elif verb is not None:
            continue  # fetch("POST", …) is not a URL; nothing to take
        elif call == "fetch":
            method = _METHOD_OPTION.search(match["rest"])
            if method is not None and method[1].upper() not in ("GET", "HEAD"):
                continue
        if _NOT_A_PATH.match(url):
            continue
        found.append(urljoin(base, url))
        if len(found) >= MAX_ENDPOINTS:
            break
    return list(dict.fromkeys(found))


def _sample(parameter: dict[str, Any]) -> str:
    """A plausible value for an OpenAPI parameter: its example, default or first allowed value, else by type."""
    nested = parameter.get("schema")
    schema: dict[str, Any] = nested if isinstance(nested, dict) else parameter
    for source in (parameter, schema):
        for key in ("example", "default"):
            value = source.get(key)
            if isinstance(value, bool):
                return "true" if value else "false"
            if isinstance(value, str | int | float):
                return str(value)
        enum = source.get("enum")
        if isinstance(enum, list) and enum and isinstance(enum[0], str | int | float):
            return str(enum[0])
    kind = schema.get("type")
    return {"integer": "1", "number": "1", "boolean": "true"}.get(kind if isinstance(kind, str) else "", "test")


def _base_path(document: dict[str, Any], doc_url: str) -> str:
    """Where the described paths live: OpenAPI 3's first server (relative to the document), or Swagger 2's
    ``basePath`` on the document's own origin."""
    servers = document.get("servers")
    if isinstance(servers, list) and servers and isinstance(servers[0], dict):
        url = servers[0].get("url")
        if isinstance(url, str) and "{" not in url:
            return urljoin(doc_url, url).rstrip("/")
    base_path = document.get("basePath")
    if isinstance(base_path, str) and base_path.startswith("/"):
        return urljoin(doc_url, base_path).rstrip("/")
    return urljoin(doc_url, "/").rstrip("/")


def _fill_path(path: str, values: dict[str, str]) -> str:
    """``/items/{id}`` with each path parameter's sample value (``1`` when it is not declared)."""
    return _PATH_PARAMETER.sub(lambda match: quote(values.get(match[1], "1"), safe=""), path)


def is_openapi(text: str) -> bool:
    """Whether ``text`` looks like an OpenAPI or Swagger JSON document (cheap test before parsing)."""
    head = text[:4096].lstrip()
    return head.startswith("{") and ('"openapi"' in head or '"swagger"' in head) and '"paths"' in text


def openapi_endpoints(text: str, doc_url: str) -> list[str]:
    """A GET URL for each GET operation of an OpenAPI/Swagger JSON document, with its query parameters
    (sample values) and its path parameters filled in; [] when ``text`` is not such a document."""
    if len(text) > MAX_DOCUMENT_CHARS or not is_openapi(text):
        return []
    try:
        document = json.loads(text)
    except ValueError:
        return []
    paths = document.get("paths") if isinstance(document, dict) else None
    if not isinstance(paths, dict):
        return []
    base = _base_path(document, doc_url)
    found: list[str] = []
    for path, item in list(paths.items())[: MAX_ENDPOINTS * 2]:
        operation = item.get("get") if isinstance(item, dict) else None
        if not isinstance(path, str) or not path.startswith("/") or not isinstance(operation, dict):
            continue
        declared = [*(item.get("parameters") or []), *(operation.get("parameters") or [])]
        parameters = [p for p in declared if isinstance(p, dict) and isinstance(p.get("name"), str)]
        in_path = {p["name"]: _sample(p) for p in parameters if p.get("in") == "path"}
        query = [(p["name"], _sample(p)) for p in parameters if p.get("in") == "query"]
        filled = _fill_path(path, in_path)
        found.append(base + filled + ("?" + urlencode(query) if query else ""))
        if len(found) >= MAX_ENDPOINTS:
            break
    return found
