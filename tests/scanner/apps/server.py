"""The server the test apps run on: ``tests.support.http_server.LocalHttpServer`` with only the app's routes.

It writes response headers as given (no validation), which the CRLF-injection endpoint of the
vulnerable app needs, and runs its own event loop in a thread, so a slow endpoint never stalls the test.
"""

from __future__ import annotations

import html
import ssl
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs

from tests.support.http_server import LocalHttpServer, Reply, ServerRequest

Route = Callable[[ServerRequest], Awaitable[Reply]]


class AppServer(LocalHttpServer):
    """A LocalHttpServer without the built-in test routes; subclasses add theirs with ``route``."""

    def __init__(self, *, tls: ssl.SSLContext | None = None) -> None:
        super().__init__("127.0.0.1", tls=tls)
        self._routes.clear()


def form_fields(request: ServerRequest) -> dict[str, str]:
    """The urlencoded body of a POST (last value wins)."""
    parsed = parse_qs(request.body.decode("utf-8", "replace"), keep_blank_values=True)
    return {key: values[-1] for key, values in parsed.items()}


def page(title: str, body: str, *, headers: dict[str, str] | None = None, status: int = 200) -> Reply:
    """An HTML page; ``body`` is inserted as is (callers escape what they must)."""
    document = (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title></head>'
        f"<body>\n<h1>{html.escape(title)}</h1>\n{body}\n</body></html>\n"
    )
    return Reply(status, document.encode(), {"Content-Type": "text/html; charset=utf-8", **(headers or {})})


def text(body: str, content_type: str = "text/plain; charset=utf-8", *, status: int = 200,
         headers: dict[str, str] | None = None) -> Reply:  # fmt: skip
    """A non-HTML response."""
    return Reply(status, body.encode(), {"Content-Type": content_type, **(headers or {})})
