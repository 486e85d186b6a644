"""HTTP routes of the scanner feature: the JSON API (``api.py``), the pages (``pages.py``), the
report downloads (``web_reports.py``) and the administrators' target pages and API (``admin_routes.py``)."""

from __future__ import annotations

from collections.abc import Sequence

from litestar.types import ControllerRouterHandler

from spyglass.scanner import admin_routes, api, pages, web_reports

ROUTES: Sequence[ControllerRouterHandler] = [*api.ROUTES, *pages.ROUTES, *web_reports.ROUTES, *admin_routes.ROUTES]
