"""HTTP routes of the scanner feature: the JSON API (``api.py``), the pages (``pages.py``) and the
report downloads (``web_reports.py``)."""

from __future__ import annotations

from collections.abc import Sequence

from litestar.types import ControllerRouterHandler

from spyglass.scanner import api, pages, web_reports

ROUTES: Sequence[ControllerRouterHandler] = [*api.ROUTES, *pages.ROUTES, *web_reports.ROUTES]
