"""Validation of feedback (from the form and the JSON API) and the API's request and response shapes.

Validators return normalised values or raise ``InvalidInput`` with a message per field, in words a
person understands; the routes re-render the form (422) or answer 422 JSON with them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlsplit

import msgspec
from litestar.params import QueryParameter

from spyglass.core.errors import InvalidInput
from spyglass.core.pagination import PageRequest
from spyglass.feedback.models import Feedback, FeedbackKind, FeedbackStatus

if TYPE_CHECKING:
    from spyglass.config import Settings

MAX_PAGE_URL_LENGTH = 2048
MIN_RATING, MAX_RATING = 1, 5
# Newlines and tabs belong in a message; other control characters (NUL, escapes) never do.
_MESSAGE_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_URL_FORBIDDEN_CHARS = re.compile(r"[\x00-\x20\x7f]")
MAX_PAGE = 1_000_000

PageNumber = Annotated[
    int | None, QueryParameter(name="page", ge=1, le=MAX_PAGE, required=False, description="Page number, from 1.")
]
PageSize = Annotated[
    int | None, QueryParameter(name="size", ge=1, required=False, description="Items per page (capped by the server).")
]

KIND_LABELS = {
    FeedbackKind.BUG.value: "Bug report",
    FeedbackKind.FEATURE.value: "Feature request",
    FeedbackKind.QUESTION.value: "Question",
    FeedbackKind.OTHER.value: "Other",
}
STATUS_LABELS = {
    FeedbackStatus.NEW.value: "New",
    FeedbackStatus.IN_PROGRESS.value: "In progress",
    FeedbackStatus.RESOLVED.value: "Resolved",
    FeedbackStatus.CLOSED.value: "Closed",
}


@dataclass(frozen=True)
class FeedbackInput:
    """A validated feedback message, ready to store."""

    kind: str
    message: str
    page_url: str | None
    rating: int | None


@dataclass(frozen=True)
class FeedbackFilters:
    """Validated filters of the admins' feedback list (None: any)."""

    status: str | None = None
    kind: str | None = None


def page_request(settings: Settings, page: int | None, size: int | None) -> PageRequest:
    """The requested page, with the size clamped to the configured maximum."""
    return PageRequest.from_query(page, size, default_size=settings.default_page_size, max_size=settings.max_page_size)


def _text(raw: Mapping[str, Any], name: str) -> str:
    value = raw.get(name)
    return value.strip() if isinstance(value, str) else ""


def check_kind(value: str) -> str | None:
    """The problem with a feedback kind, if any."""
    if not value:
        return "Choose what kind of feedback this is: bug, feature, question or other."
    if value not in KIND_LABELS:
        return "Choose one of: bug, feature, question, other."
    return None


def check_message(value: str, *, max_length: int) -> str | None:
    """The problem with a message (feedback or an answer), if any."""
    if not value:
        return "Write a message."
    if len(value) > max_length:
        return f"Use at most {max_length:,} characters (this one has {len(value):,})."
    if _MESSAGE_CONTROL_CHARS.search(value):
        return "Remove the control characters from the message."
    return None


def check_page_url(value: str) -> str | None:
    """The problem with an optional page address (a web address or a path on this site), if any."""
    if len(value) > MAX_PAGE_URL_LENGTH:
        return f"Use at most {MAX_PAGE_URL_LENGTH:,} characters."
    if _URL_FORBIDDEN_CHARS.search(value):
        return "A page address contains no spaces or control characters."
    if value.startswith("/") and not value.startswith("//"):
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return "Give the page's address (https://…) or its path on this site (/…)."
    return None


def parse_rating(value: Any) -> tuple[int | None, str | None]:
    """A rating from 1 to 5 (or none) from a form string or a JSON number, and the problem, if any."""
    if value is None or value == "":
        return None, None
    problem = f"Rate from {MIN_RATING} to {MAX_RATING}, or leave the rating out."
    if isinstance(value, bool):
        return None, problem
    if isinstance(value, str):
        if not value.strip().isdigit():
            return None, problem
        value = int(value.strip())
    if not isinstance(value, int) or not MIN_RATING <= value <= MAX_RATING:
        return None, problem
    return value, None


def parse_feedback(raw: Mapping[str, Any], *, max_message_length: int) -> FeedbackInput:
    """Validate submitted feedback (form fields or a JSON object); raise InvalidInput naming each bad field."""
    kind = _text(raw, "kind").lower()
    message = _text(raw, "message")
    page_url = _text(raw, "page_url")
    errors: dict[str, str] = {}
    if problem := check_kind(kind):
        errors["kind"] = problem
    if problem := check_message(message, max_length=max_message_length):
        errors["message"] = problem
    if page_url and (problem := check_page_url(page_url)):
        errors["page_url"] = problem
    rating, problem = parse_rating(raw.get("rating"))
    if problem:
        errors["rating"] = problem
    if errors:
        raise InvalidInput(detail=errors)
    return FeedbackInput(kind=kind, message=message, page_url=page_url or None, rating=rating)


def parse_status(value: str | None, *, field: str = "status", required: bool = True) -> str | None:
    """A feedback status from a form or query; raise InvalidInput when it is not one."""
    status = (value or "").strip().lower().replace(" ", "_")
    if not status:
        if required:
            raise InvalidInput(detail={field: "Choose a status: new, in_progress, resolved or closed."})
        return None
    if status not in STATUS_LABELS:
        raise InvalidInput(detail={field: "Choose one of: new, in_progress, resolved, closed."})
    return status


def parse_filters(*, status: str | None, kind: str | None) -> FeedbackFilters:
    """Validated filters of the admins' list; raise InvalidInput with a message per bad filter."""
    errors: dict[str, str] = {}
    parsed_status: str | None = None
    try:
        parsed_status = parse_status(status, required=False)
    except InvalidInput as exc:
        errors.update(exc.detail)
    parsed_kind = (kind or "").strip().lower() or None
    if parsed_kind is not None and parsed_kind not in KIND_LABELS:
        errors["kind"] = "Choose one of: bug, feature, question, other."
    if errors:
        raise InvalidInput(detail=errors)
    return FeedbackFilters(status=parsed_status, kind=parsed_kind)


# ---------- JSON API shapes ----------


class FeedbackIn(msgspec.Struct, forbid_unknown_fields=True):
    """Feedback sent through the API."""

    kind: str
    message: str
    page_url: str | None = None
    rating: int | None = None


class AnswerIn(msgspec.Struct, forbid_unknown_fields=True):
    """An admin's answer; the status defaults to ``resolved``."""

    answer: str
    status: str | None = None


class StatusIn(msgspec.Struct, forbid_unknown_fields=True):
    """A new status for a feedback message."""

    status: str


class FeedbackOut(msgspec.Struct):
    """Feedback as the API shows it (to its author, and to admins with ``user_id``)."""

    id: int
    kind: str
    message: str
    page_url: str | None
    rating: int | None
    status: str
    answer: str | None
    answered_at: str | None
    created_at: str
    updated_at: str
    user_id: int | None = None


def feedback_out(feedback: Feedback, *, for_admin: bool = False) -> FeedbackOut:
    """The API shape of a feedback row."""
    return FeedbackOut(
        id=feedback.id,
        kind=feedback.kind,
        message=feedback.message,
        page_url=feedback.page_url,
        rating=feedback.rating,
        status=feedback.status,
        answer=feedback.answer,
        answered_at=feedback.answered_at.isoformat() if feedback.answered_at else None,
        created_at=feedback.created_at.isoformat(),
        updated_at=feedback.updated_at.isoformat(),
        user_id=feedback.user_id if for_admin else None,
    )
