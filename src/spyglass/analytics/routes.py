"""HTTP routes of the analytics feature (dashboards and their JSON endpoints)."""

from __future__ import annotations

from collections.abc import Sequence

from litestar.types import ControllerRouterHandler

ROUTES: Sequence[ControllerRouterHandler] = []
