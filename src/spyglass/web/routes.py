"""Public pages: the home page (landing for visitors, overview for signed-in users)."""

from __future__ import annotations

from litestar import get
from litestar.response import Template

from spyglass.accounts.auth import CurrentUser
from spyglass.core.services import Services
from spyglass.feedback.onboarding import onboarding_status


@get("/", include_in_schema=False)
async def home(user: CurrentUser | None, services: Services) -> Template:
    """The landing page, or the signed-in user's overview with the first-run checklist."""
    onboarding = None
    if user is not None:
        async with services.db.session() as session:
            onboarding = await onboarding_status(session, user.id)
    return Template(template_name="home.html", context={"user": user, "onboarding": onboarding})


ROUTES = [home]
