"""HTTP routes of the market feature (pages and /api/v1)."""

from __future__ import annotations

from collections.abc import Sequence

from litestar.types import ControllerRouterHandler

ROUTES: Sequence[ControllerRouterHandler] = []
