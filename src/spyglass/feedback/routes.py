"""Feedback over HTTP: the page where users send feedback and read the answers, ``/api/v1/feedback``,
the onboarding checklist's dismiss button, and (from ``admin_routes``) the admins' pages and API."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, get, post
from litestar.params import JSONBody
from litestar.response import Redirect, Template
from litestar.types import ControllerRouterHandler
from sqlalchemy.ext.asyncio import AsyncSession

from spyglass.accounts.auth import CurrentUser, require_user
from spyglass.core.errors import InvalidInput, RateLimited
from spyglass.core.services import Services
from spyglass.feedback import onboarding, repository, service
from spyglass.feedback.admin_routes import ROUTES as ADMIN_ROUTES
from spyglass.feedback.schemas import (
    KIND_LABELS,
    STATUS_LABELS,
    FeedbackIn,
    FeedbackOut,
    PageNumber,
    PageSize,
    feedback_out,
    page_request,
)
from spyglass.web.templating import flash

Req = Request[Any, Any, Any]
FEEDBACK_TAGS = ["feedback"]


def _form_values(form: Any) -> dict[str, str]:
    return {
        name: value for name in ("kind", "message", "page_url", "rating") if isinstance(value := form.get(name), str)
    }


async def _feedback_page(
    db: AsyncSession,
    services: Services,
    me: CurrentUser,
    *,
    page: int | None = None,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Template:
    mine = await repository.list_for_user(db, user_id=me.id, page=page_request(services.settings, page, None))
    context = {
        "values": values or {},
        "errors": errors or {},
        "mine": mine,
        "kinds": list(KIND_LABELS.items()),
        "status_labels": STATUS_LABELS,
        "kind_labels": KIND_LABELS,
        "max_length": services.settings.feedback_max_message_length,
    }
    return Template("feedback/index.html", context=context, status_code=status, headers=headers)


@get("/feedback", guards=[require_user], include_in_schema=False)
async def feedback_page(
    db: AsyncSession, services: Services, me: CurrentUser, page: PageNumber = None, page_url: str | None = None
) -> Template:
    """The feedback form (``?page_url=`` fills in the page it is about) and the user's feedback with answers."""
    values = {"page_url": page_url[:2048]} if page_url else {}
    return await _feedback_page(db, services, me, page=page, values=values)


@post("/feedback", guards=[require_user], include_in_schema=False)
async def feedback_submit(request: Req, db: AsyncSession, services: Services, me: CurrentUser) -> Template | Redirect:
    """Send feedback; the form comes back with a message per problem (422), or 429 past the rate limit."""
    values = _form_values(await request.form())
    try:
        feedback = await service.submit_feedback(db, services=services, user_id=me.id, raw=values, connection=request)
    except InvalidInput as exc:
        return await _feedback_page(db, services, me, values=values, errors=dict(exc.detail), status=422)
    except RateLimited as exc:
        limit, wait = exc.detail["limit"], max(1, round(exc.detail["retry_after"] / 60))
        errors = {
            "form": f"You have sent {limit} messages recently, the most we accept in a row. "
            f"Please try again in {wait} minute{'s' if wait != 1 else ''}; your text is kept below."
        }
        return await _feedback_page(db, services, me, values=values, errors=errors, status=429, headers=exc.headers)
    flash(request, "Thank you! Your feedback was sent; you will be told when an admin answers.", "success")
    return Redirect(f"/feedback/{feedback.id}", status_code=303)


@get("/feedback/{feedback_id:int}", guards=[require_user], include_in_schema=False)
async def feedback_detail(db: AsyncSession, me: CurrentUser, feedback_id: int) -> Template:
    """One of the user's feedback messages and the admin's answer."""
    feedback = await service.get_own_feedback(db, feedback_id=feedback_id, user_id=me.id)
    context = {"feedback": feedback, "status_labels": STATUS_LABELS, "kind_labels": KIND_LABELS}
    return Template("feedback/detail.html", context=context)


@post("/onboarding/dismiss", guards=[require_user], include_in_schema=False)
async def onboarding_dismiss(request: Req, db: AsyncSession, me: CurrentUser) -> Redirect:
    """Hide the first-run checklist from the overview page."""
    await onboarding.dismiss(db, user_id=me.id)
    flash(request, "The getting-started checklist is hidden.", "info")
    return Redirect("/", status_code=303)


# ---------- JSON API ----------


@post(
    "/api/v1/feedback",
    guards=[require_user],
    tags=FEEDBACK_TAGS,
    summary="Send feedback",
    status_code=201,
)
async def api_submit_feedback(
    request: Req, data: JSONBody[FeedbackIn], db: AsyncSession, services: Services, me: CurrentUser
) -> FeedbackOut:
    """Send a bug report, feature request, question or other message (rating 1-5 optional). Invalid fields
    answer 422 with a message each; past the ``feedback`` rate limit the answer is 429."""
    feedback = await service.submit_feedback(
        db, services=services, user_id=me.id, raw=msgspec.structs.asdict(data), connection=request
    )
    return feedback_out(feedback)


@get("/api/v1/feedback", guards=[require_user], tags=FEEDBACK_TAGS, summary="List your feedback")
async def api_list_feedback(
    db: AsyncSession, services: Services, me: CurrentUser, page: PageNumber = None, size: PageSize = None
) -> dict[str, Any]:
    """Your feedback, newest first, with the admins' answers."""
    found = await repository.list_for_user(db, user_id=me.id, page=page_request(services.settings, page, size))
    return found.to_dict([msgspec.to_builtins(feedback_out(item)) for item in found.items])


@get("/api/v1/feedback/{feedback_id:int}", guards=[require_user], tags=FEEDBACK_TAGS, summary="One of your feedback")
async def api_get_feedback(db: AsyncSession, me: CurrentUser, feedback_id: int) -> FeedbackOut:
    """One of your feedback messages and its answer (404 for anybody else's)."""
    return feedback_out(await service.get_own_feedback(db, feedback_id=feedback_id, user_id=me.id))


@get("/api/v1/onboarding", guards=[require_user], tags=FEEDBACK_TAGS, summary="Your getting-started checklist")
async def api_onboarding(db: AsyncSession, me: CurrentUser) -> dict[str, Any]:
    """The first-run checklist: each step and whether it is done, progress, and whether it was dismissed."""
    return (await onboarding.onboarding_status(db, me.id)).to_dict()


@post(
    "/api/v1/onboarding/dismiss",
    guards=[require_user],
    tags=FEEDBACK_TAGS,
    summary="Hide your getting-started checklist",
    status_code=200,
)
async def api_onboarding_dismiss(db: AsyncSession, me: CurrentUser) -> Response[dict[str, Any]]:
    """Hide the first-run checklist (idempotent)."""
    await onboarding.dismiss(db, user_id=me.id)
    return Response({"dismissed": True})


ROUTES: list[ControllerRouterHandler] = [
    feedback_page,
    feedback_submit,
    feedback_detail,
    onboarding_dismiss,
    api_submit_feedback,
    api_list_feedback,
    api_get_feedback,
    api_onboarding,
    api_onboarding_dismiss,
    *ADMIN_ROUTES,
]
