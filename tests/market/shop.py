"""A small real shop for market tests: a page on a local HTTP server whose JSON-LD lists products.

Tests change ``shop.products`` between runs (a new item appears, a price drops, an item vanishes)
and the ``jsonld`` adapter reads the page through the platform fetcher like any real site.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from typing import Any

from tests.support.http_server import LocalHttpServer, Reply, ServerRequest


@dataclass
class Product:
    sku: str
    name: str
    price: str
    description: str = ""
    condition: str = "UsedCondition"
    latitude: float | None = None
    longitude: float | None = None
    image: str | None = None

    def json_ld(self, origin: str) -> dict[str, Any]:
        offer: dict[str, Any] = {
            "@type": "Offer",
            "price": self.price,
            "priceCurrency": "USD",
            "itemCondition": f"https://schema.org/{self.condition}",
            "url": f"{origin}/item/{self.sku}?utm_source=feed",
        }
        if self.latitude is not None and self.longitude is not None:
            offer["availableAtOrFrom"] = {
                "@type": "Place",
                "name": "Somewhere",
                "geo": {"@type": "GeoCoordinates", "latitude": self.latitude, "longitude": self.longitude},
            }
        product: dict[str, Any] = {
            "@type": "Product",
            "sku": self.sku,
            "name": self.name,
            "description": self.description,
            "url": f"{origin}/item/{self.sku}?utm_source=feed",
            "offers": offer,
        }
        if self.image:
            product["image"] = self.image
        return product


@dataclass
class Shop:
    """The products the shop page shows right now, by path (one page per simulated marketplace)."""

    server: LocalHttpServer
    pages: dict[str, list[Product]] = field(default_factory=dict)
    status: int = 200

    def url(self, path: str = "/shop") -> str:
        return self.server.url(path)

    def serve(self, path: str, products: list[Product]) -> str:
        """Serve ``products`` at ``path`` (replacing what was there); answers the page URL."""
        self.pages[path] = products
        self.server.route(path, self._page)
        return self.url(path)

    async def _page(self, request: ServerRequest) -> Reply:
        if self.status != 200:
            return Reply(self.status, b"down for maintenance", {"Content-Type": "text/plain"})
        products = self.pages.get(request.path, [])
        data = {
            "@context": "https://schema.org",
            "@type": "ItemList",
            "itemListElement": [
                {"@type": "ListItem", "position": i + 1, "item": p.json_ld(self.server.origin)}
                for i, p in enumerate(products)
            ],
        }
        body = (
            "<!doctype html><html><head><title>Shop</title>"
            f'<script type="application/ld+json">{json.dumps(data)}</script></head>'
            f"<body><h1>{html.escape('Results')}</h1></body></html>"
        )
        return Reply(200, body.encode(), {"Content-Type": "text/html; charset=utf-8"})
