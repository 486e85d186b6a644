"""Path and query parameter types shared by the scanner's JSON API (``api.py``), its pages
(``pages.py``) and the admin side (``admin_routes.py``): ids, paging, the scans to compare, and the
rate-limit category of the controls that start work (scans, checks, imports)."""

from __future__ import annotations

from typing import Annotated

from litestar.params import PathParameter, QueryParameter

MAX_ID = 2**63 - 1

Id = Annotated[int, PathParameter(ge=1, le=MAX_ID, description="The object's id.")]
PageNumber = Annotated[int, QueryParameter(ge=1, le=100_000, description="Page number, from 1.")]
PageSize = Annotated[int | None, QueryParameter(ge=1, le=1000, description="Items per page (capped by the server).")]
TargetFilter = Annotated[int | None, QueryParameter(ge=1, le=MAX_ID, description="Only this target's scans.")]
BaseScan = Annotated[int, QueryParameter(ge=1, le=MAX_ID, description="The older scan.")]
HeadScan = Annotated[int, QueryParameter(ge=1, le=MAX_ID, description="The newer scan.")]

#: Route ``opt`` of the controls that start work: counted in the ``bot_controls`` rate-limit category.
CONTROLS = {"rate_limit": "bot_controls"}
