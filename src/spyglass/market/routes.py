"""HTTP routes of the market feature: the pages (``pages.py``) and the JSON API (``api.py``)."""

from __future__ import annotations

from collections.abc import Sequence

from litestar.types import ControllerRouterHandler

from spyglass.market.api import API_ROUTES
from spyglass.market.pages import PAGE_ROUTES

ROUTES: Sequence[ControllerRouterHandler] = [*API_ROUTES, *PAGE_ROUTES]
