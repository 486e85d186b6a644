"""The page the job-engine benchmark fetches: one small HTML document, served by uvicorn in its own
process (``python -m uvicorn bench.engine_page:app``), so it never shares the engine's event loop."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

ITEMS = "\n".join(
    f'    <li><a href="/item/{n}">Item {n}</a> <span class="price">{n * 7 % 500} EUR</span></li>' for n in range(40)
)
PAGE = (
    '<!doctype html>\n<html lang="en">\n<head><meta charset="utf-8"><title>Bench listing</title></head>\n'
    f"<body>\n  <h1>Listing</h1>\n  <ul>\n{ITEMS}\n  </ul>\n</body>\n</html>\n"
).encode()
HEADERS = [(b"content-type", b"text/html; charset=utf-8"), (b"content-length", str(len(PAGE)).encode())]


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """Answer every HTTP request with the same page."""
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": PAGE})
