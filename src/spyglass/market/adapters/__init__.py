"""Marketplace adapters: one Protocol (``base.Adapter``) and one registry (``registry``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from spyglass.config import Settings

ADAPTER_MODULES = ("jsonld", "rss", "recipe", "craigslist", "ebay", "ksl", "facebook", "mercari", "poshmark", "offerup")


def load_all() -> None:
    """Import every adapter module so each registers itself (add new modules here)."""
    import importlib

    for module in ADAPTER_MODULES:
        importlib.import_module(f"spyglass.market.adapters.{module}")


def configure(settings: Settings) -> None:
    """Give the adapters what they take from the settings (eBay keyset, Craigslist area list).

    Called before every search (job, preview, command line). It always applies the settings it is given
    (a few attribute assignments): remembering the last ones applied let a change made behind its back
    (a test restoring the adapters) survive the next call.
    """
    from spyglass.market.adapters import craigslist, ebay

    client_id = settings.market_ebay_client_id
    secret = settings.market_ebay_client_secret
    ebay.ADAPTER.credentials = (
        ebay.EbayCredentials(client_id, secret.get_secret_value(), settings.market_ebay_marketplace_id)
        if client_id and secret is not None
        else None
    )
    craigslist.ADAPTER.areas_url = settings.market_adapter_craigslist_areas_url
    craigslist.ADAPTER.areas.ttl = settings.market_adapter_areas_cache_seconds
