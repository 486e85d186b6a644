"""Parse a saved page or a fetched URL with a named adapter (``spyglass market extract``, bug reports, previews)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from decimal import Decimal
from typing import Any

from spyglass.market.adapters.base import Adapter, AdapterError, ScrapedListing
from spyglass.market.adapters.recipe import apply_recipe, validate_recipe


def parse_page(adapter: Adapter, text: str, url: str, options: dict[str, Any] | None = None) -> list[ScrapedListing]:
    """The listings ``adapter`` reads from a page's ``text`` (``url`` resolves relative links).

    The recipe adapter needs ``options["recipe"]``; every other adapter parses the page on its own.
    """
    options = options or {}
    if adapter.name == "recipe":
        return apply_recipe(validate_recipe(options.get("recipe")), text, url)
    parse = getattr(adapter, "parse", None)
    if parse is None:
        raise AdapterError(f"the {adapter.label} adapter cannot read a saved page")
    listings: list[ScrapedListing] = parse(text, url)
    return listings


def listing_json(listing: ScrapedListing) -> dict[str, Any]:
    """A listing as JSON-ready values (prices as strings so no precision is lost, times in ISO 8601)."""
    return {key: _plain(value) for key, value in asdict(listing).items()}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value
