"""Feedback logic: users send it, admins answer it and move it through its statuses.

Never commits: the request's unit of work does, so the feedback row, its audit event and the
notification of an answer (an outbox row) are saved together or not at all.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from litestar.connection import ASGIConnection
from sqlalchemy.ext.asyncio import AsyncSession

from spyglass.audit.service import AuditAction, record
from spyglass.core.db import utcnow
from spyglass.core.errors import InvalidInput, NotFound
from spyglass.core.services import Services
from spyglass.core.tenancy import get_owned
from spyglass.feedback import repository
from spyglass.feedback.models import Feedback, FeedbackStatus
from spyglass.feedback.schemas import KIND_LABELS, check_message, parse_feedback, parse_status
from spyglass.notifications.outbox import EVENT_FEEDBACK_ANSWERED, notify

Connection = ASGIConnection[Any, Any, Any, Any]

#: Audited actions of this feature.
FEEDBACK_SUBMITTED = AuditAction.FEEDBACK_SUBMITTED
FEEDBACK_ANSWERED = AuditAction.FEEDBACK_ANSWERED
FEEDBACK_STATUS_CHANGED = AuditAction.FEEDBACK_STATUS_CHANGED

RATE_LIMIT_CATEGORY = "feedback"
SUBJECT_LENGTH = 80


async def submit_feedback(
    session: AsyncSession,
    *,
    services: Services,
    user_id: int,
    raw: Mapping[str, Any],
    connection: Connection | None = None,
) -> Feedback:
    """Validate and store a user's feedback. Only accepted messages count against the ``feedback`` rate
    limit (raises RateLimited past it), so somebody correcting a typo is not locked out."""
    data = parse_feedback(raw, max_message_length=services.settings.feedback_max_message_length)
    await services.limiter.hit(RATE_LIMIT_CATEGORY, f"user:{user_id}")
    feedback = Feedback(
        user_id=user_id,
        kind=data.kind,
        message=data.message,
        page_url=data.page_url,
        rating=data.rating,
        status=FeedbackStatus.NEW.value,
    )
    session.add(feedback)
    await session.flush()
    record(
        session,
        FEEDBACK_SUBMITTED,
        user_id=user_id,
        connection=connection,
        details={"feedback_id": feedback.id, "kind": feedback.kind},
    )
    return feedback


async def get_own_feedback(session: AsyncSession, *, feedback_id: int, user_id: int) -> Feedback:
    """One of the user's own feedback messages, or NotFound (also for somebody else's)."""
    return await get_owned(session, Feedback, feedback_id, user_id, what="feedback")


async def get_feedback(session: AsyncSession, *, feedback_id: int) -> Feedback:
    """Any feedback message (admins), or NotFound."""
    feedback = await repository.get(session, feedback_id)
    if feedback is None:
        raise NotFound("No such feedback.")
    return feedback


def subject_of(feedback: Feedback) -> str:
    """A short title for a feedback message: its kind and the start of its first line."""
    first_line = feedback.message.strip().splitlines()[0] if feedback.message.strip() else ""
    if len(first_line) > SUBJECT_LENGTH:
        first_line = first_line[: SUBJECT_LENGTH - 1].rstrip() + "…"
    return f"{KIND_LABELS.get(feedback.kind, 'Feedback')}: {first_line}"


def answer_key(feedback_id: int, answer: str) -> str:
    """The outbox key of an answer: the same answer sent twice (a double click) is one notification,
    a changed answer is a new one."""
    digest = hashlib.sha256(answer.encode()).hexdigest()[:16]
    return f"feedback:{feedback_id}:answer:{digest}"


async def answer_feedback(
    session: AsyncSession,
    *,
    services: Services,
    feedback_id: int,
    admin_id: int,
    answer: str,
    status: str | None = None,
    connection: Connection | None = None,
) -> Feedback:
    """Store an admin's answer, set the status (``resolved`` unless given) and tell the user through the
    outbox, in the caller's transaction."""
    answer = answer.strip()
    errors: dict[str, str] = {}
    if problem := check_message(answer, max_length=services.settings.feedback_max_message_length):
        errors["answer"] = problem.replace("a message", "an answer")
    new_status = FeedbackStatus.RESOLVED.value
    if status:
        try:
            new_status = parse_status(status) or new_status
        except InvalidInput as exc:
            errors.update(exc.detail)
    if errors:
        raise InvalidInput(detail=errors)
    feedback = await get_feedback(session, feedback_id=feedback_id)
    feedback.answer = answer
    feedback.answered_by = admin_id
    feedback.answered_at = utcnow()
    feedback.status = new_status
    await session.flush()
    await notify(
        session,
        user_id=feedback.user_id,
        event=EVENT_FEEDBACK_ANSWERED,
        payload={
            "feedback_id": feedback.id,
            "subject": subject_of(feedback),
            "answer": answer,
            "message": feedback.message,
            "status": new_status,
            "url": f"{services.settings.base_url}/feedback/{feedback.id}",
        },
        key=answer_key(feedback.id, answer),
    )
    record(
        session,
        FEEDBACK_ANSWERED,
        user_id=feedback.user_id,
        actor_id=admin_id,
        connection=connection,
        details={"feedback_id": feedback.id, "status": new_status},
    )
    return feedback


async def change_status(
    session: AsyncSession,
    *,
    feedback_id: int,
    admin_id: int,
    status: str | None,
    connection: Connection | None = None,
) -> tuple[Feedback, bool]:
    """Move feedback to another status; returns it and whether anything changed (only changes are audited)."""
    new_status = parse_status(status)
    feedback = await get_feedback(session, feedback_id=feedback_id)
    if feedback.status == new_status:
        return feedback, False
    old_status, feedback.status = feedback.status, str(new_status)
    await session.flush()
    record(
        session,
        FEEDBACK_STATUS_CHANGED,
        user_id=feedback.user_id,
        actor_id=admin_id,
        connection=connection,
        details={"feedback_id": feedback.id, "from": old_status, "to": new_status},
    )
    return feedback, True
