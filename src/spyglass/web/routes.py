"""Public pages: the home page (landing for visitors, overview for signed-in users)."""

from __future__ import annotations

from litestar import get
from litestar.response import Template

from spyglass.accounts.auth import CurrentUser


@get("/", include_in_schema=False)
async def home(user: CurrentUser | None) -> Template:
    """The landing page, or the signed-in user's overview."""
    return Template(template_name="home.html", context={"user": user})


ROUTES = [home]
