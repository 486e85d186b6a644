"""The admins' side of feedback: ``/admin/feedback`` (list, filter, answer, change status) and
``/api/v1/admin/feedback``. Admins only; everyone else gets a 404, like the rest of the admin area."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, get, patch, post
from litestar.params import JSONBody
from litestar.response import Redirect, Template
from litestar.types import ControllerRouterHandler
from sqlalchemy.ext.asyncio import AsyncSession

from spyglass.accounts.auth import CurrentUser, require_admin
from spyglass.core.errors import InvalidInput
from spyglass.core.pagination import Page
from spyglass.core.services import Services
from spyglass.feedback import repository, service
from spyglass.feedback.schemas import (
    KIND_LABELS,
    STATUS_LABELS,
    AnswerIn,
    FeedbackOut,
    PageNumber,
    PageSize,
    StatusIn,
    feedback_out,
    page_request,
    parse_filters,
)
from spyglass.web.templating import flash

Req = Request[Any, Any, Any]
ADMIN_TAGS = ["admin"]


def _labels() -> dict[str, Any]:
    return {"status_labels": STATUS_LABELS, "kind_labels": KIND_LABELS}


@get("/admin/feedback", guards=[require_admin], include_in_schema=False)
async def admin_feedback_list(
    db: AsyncSession,
    services: Services,
    status: str | None = None,
    kind: str | None = None,
    page: PageNumber = None,
    size: PageSize = None,
) -> Template:
    """Everybody's feedback, newest first, filtered by status and kind."""
    request = page_request(services.settings, page, size)
    filters = {"status": status or "", "kind": kind or ""}
    errors: dict[str, str] = {}
    try:
        found = await repository.list_all(db, filters=parse_filters(status=status, kind=kind), page=request)
    except InvalidInput as exc:
        errors, found = dict(exc.detail), Page(items=[], page=request.page, size=request.size, total=0)
    names = await repository.usernames(db, {item.user_id for item in found.items})
    query = {key: value for key, value in filters.items() if value}
    if size is not None:
        query["size"] = str(size)
    context = {
        "section": "feedback",
        "filters": filters,
        "errors": errors,
        "found": found,
        "names": names,
        "pager_query": query,
        **_labels(),
    }
    return Template("feedback/admin_list.html", context=context, status_code=422 if errors else 200)


async def _admin_detail(
    db: AsyncSession, feedback_id: int, *, errors: dict[str, str] | None = None, values: dict[str, str] | None = None
) -> Template:
    feedback = await service.get_feedback(db, feedback_id=feedback_id)
    names = await repository.usernames(
        db, {feedback.user_id, *([feedback.answered_by] if feedback.answered_by else [])}
    )
    context = {
        "section": "feedback",
        "feedback": feedback,
        "names": names,
        "errors": errors or {},
        "values": values or {},
        **_labels(),
    }
    return Template("feedback/admin_detail.html", context=context, status_code=422 if errors else 200)


@get("/admin/feedback/{feedback_id:int}", guards=[require_admin], include_in_schema=False)
async def admin_feedback_detail(db: AsyncSession, feedback_id: int) -> Template:
    """One feedback message with the answer and status forms."""
    return await _admin_detail(db, feedback_id)


@post("/admin/feedback/{feedback_id:int}/answer", guards=[require_admin], include_in_schema=False)
async def admin_feedback_answer(
    request: Req, db: AsyncSession, services: Services, me: CurrentUser, feedback_id: int
) -> Template | Redirect:
    """Answer: the user is told through their notification channels."""
    form = await request.form()
    values = {name: str(form.get(name, "")) for name in ("answer", "answer_status")}
    try:
        await service.answer_feedback(
            db,
            services=services,
            feedback_id=feedback_id,
            admin_id=me.id,
            answer=values["answer"],
            status=values["answer_status"],
            connection=request,
        )
    except InvalidInput as exc:
        errors = {"answer_status" if name == "status" else name: text for name, text in exc.detail.items()}
        return await _admin_detail(db, feedback_id, errors=errors, values=values)
    flash(request, "Your answer was saved and is on its way to the user.", "success")
    return Redirect(f"/admin/feedback/{feedback_id}", status_code=303)


@post("/admin/feedback/{feedback_id:int}/status", guards=[require_admin], include_in_schema=False)
async def admin_feedback_status(
    request: Req, db: AsyncSession, me: CurrentUser, feedback_id: int
) -> Template | Redirect:
    """Move feedback to another status (new, in progress, resolved, closed)."""
    form = await request.form()
    status = str(form.get("status", ""))
    try:
        feedback, changed = await service.change_status(
            db, feedback_id=feedback_id, admin_id=me.id, status=status, connection=request
        )
    except InvalidInput as exc:
        return await _admin_detail(db, feedback_id, errors=dict(exc.detail), values={"status": status})
    label = STATUS_LABELS[feedback.status].lower()
    flash(request, f"The feedback is now {label}." if changed else f"The feedback was already {label}.", "success")
    return Redirect(f"/admin/feedback/{feedback_id}", status_code=303)


# ---------- admin JSON API ----------


@get("/api/v1/admin/feedback", guards=[require_admin], tags=ADMIN_TAGS, summary="List feedback (admins)")
async def api_admin_list_feedback(
    db: AsyncSession,
    services: Services,
    status: str | None = None,
    kind: str | None = None,
    page: PageNumber = None,
    size: PageSize = None,
) -> dict[str, Any]:
    """Everybody's feedback, newest first; filter by ``status`` (new, in_progress, resolved, closed) and
    ``kind`` (bug, feature, question, other). Unknown filter values answer 422."""
    filters = parse_filters(status=status, kind=kind)
    found = await repository.list_all(db, filters=filters, page=page_request(services.settings, page, size))
    names = await repository.usernames(db, {item.user_id for item in found.items})
    items = [
        {**_builtins(feedback_out(item, for_admin=True)), "username": names.get(item.user_id)} for item in found.items
    ]
    return found.to_dict(items)


@get("/api/v1/admin/feedback/{feedback_id:int}", guards=[require_admin], tags=ADMIN_TAGS, summary="One feedback")
async def api_admin_get_feedback(db: AsyncSession, feedback_id: int) -> FeedbackOut:
    """Any user's feedback message."""
    return feedback_out(await service.get_feedback(db, feedback_id=feedback_id), for_admin=True)


@post(
    "/api/v1/admin/feedback/{feedback_id:int}/answer",
    guards=[require_admin],
    tags=ADMIN_TAGS,
    summary="Answer feedback (admins)",
    status_code=200,
)
async def api_admin_answer_feedback(
    request: Req, data: JSONBody[AnswerIn], db: AsyncSession, services: Services, me: CurrentUser, feedback_id: int
) -> FeedbackOut:
    """Store the answer, set the status (``resolved`` unless given) and notify the user."""
    feedback = await service.answer_feedback(
        db,
        services=services,
        feedback_id=feedback_id,
        admin_id=me.id,
        answer=data.answer,
        status=data.status,
        connection=request,
    )
    return feedback_out(feedback, for_admin=True)


@patch(
    "/api/v1/admin/feedback/{feedback_id:int}",
    guards=[require_admin],
    tags=ADMIN_TAGS,
    summary="Change the status of feedback (admins)",
)
async def api_admin_update_feedback(
    request: Req, data: JSONBody[StatusIn], db: AsyncSession, me: CurrentUser, feedback_id: int
) -> FeedbackOut:
    """Move feedback to another status."""
    feedback, _ = await service.change_status(
        db, feedback_id=feedback_id, admin_id=me.id, status=data.status, connection=request
    )
    return feedback_out(feedback, for_admin=True)


def _builtins(out: FeedbackOut) -> dict[str, Any]:
    return msgspec.to_builtins(out)


ROUTES: list[ControllerRouterHandler] = [
    admin_feedback_list,
    admin_feedback_detail,
    admin_feedback_answer,
    admin_feedback_status,
    api_admin_list_feedback,
    api_admin_get_feedback,
    api_admin_answer_feedback,
    api_admin_update_feedback,
]
