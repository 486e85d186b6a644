"""Domain errors that carry their HTTP status, and the one handler that renders every error.

JSON callers (``/api/...`` or ``Accept: application/json``) get
``{"error": message, "detail": ...}``; browsers get the error page. A 500 never
shows a traceback: it is logged with the request id and the person sees an apology.
"""

from __future__ import annotations

import logging
import re
from http import HTTPStatus
from typing import Any

import redis.exceptions
import sqlalchemy.exc
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, NotAuthorizedException, SerializationException, ValidationException
from litestar.response import Template
from litestar.status_codes import (
    HTTP_400_BAD_REQUEST,
    HTTP_403_FORBIDDEN,
    HTTP_404_NOT_FOUND,
    HTTP_409_CONFLICT,
    HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    HTTP_422_UNPROCESSABLE_ENTITY,
    HTTP_429_TOO_MANY_REQUESTS,
    HTTP_500_INTERNAL_SERVER_ERROR,
)

logger = logging.getLogger("spyglass.errors")


class SpyglassError(Exception):
    """Base of domain errors. ``message`` is shown to the person; ``detail`` is extra structured context."""

    status_code: int = HTTP_400_BAD_REQUEST
    default_message = "The request could not be completed."

    def __init__(self, message: str | None = None, *, detail: Any = None, headers: dict[str, str] | None = None):
        self.message = message or self.default_message
        self.detail = detail
        self.headers = headers or {}
        super().__init__(self.message)


class BadRequest(SpyglassError):
    """The request is malformed or a value is not acceptable."""


class InvalidInput(SpyglassError):
    """One or more fields are invalid; ``detail`` maps field names to messages."""

    status_code = HTTP_422_UNPROCESSABLE_ENTITY
    default_message = "Some fields need your attention."


class NotFound(SpyglassError):
    """The object does not exist, or belongs to somebody else (we do not say which)."""

    status_code = HTTP_404_NOT_FOUND
    default_message = "Not found."


class Forbidden(SpyglassError):
    """The caller is known but may not do this."""

    status_code = HTTP_403_FORBIDDEN
    default_message = "You are not allowed to do that."


class Conflict(SpyglassError):
    """The change clashes with existing data (a taken username, say)."""

    status_code = HTTP_409_CONFLICT
    default_message = "That conflicts with existing data."


class RateLimited(SpyglassError):
    """Too many requests; headers carry ``Retry-After`` and ``RateLimit-*``."""

    status_code = HTTP_429_TOO_MANY_REQUESTS
    default_message = "Too many requests. Please wait a moment and try again."


def wants_json(request: Request[Any, Any, Any]) -> bool:
    """Whether the caller expects JSON rather than a page."""
    if request.url.path.startswith("/api/"):
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def error_response(
    request: Request[Any, Any, Any],
    status_code: int,
    message: str,
    detail: Any = None,
    headers: dict[str, str] | None = None,
) -> Response[Any]:
    """Render an error for this caller, as JSON or as the HTML error page."""
    if wants_json(request):
        return Response(
            content={"error": message, "detail": detail},
            status_code=status_code,
            media_type=MediaType.JSON,
            headers=headers,
        )
    return Template(
        template_name="error.html",
        context={"status_code": status_code, "message": message, "detail": detail},
        status_code=status_code,
        headers=headers,
    )


_MISSING_FIELD = re.compile(r"Object missing required field `([^`]+)`")


def _validation_detail(exc: ValidationException) -> dict[str, str] | None:
    extra = exc.extra if isinstance(exc.extra, list) else []
    detail: dict[str, str] = {}
    for item in extra:
        if isinstance(item, dict):
            key = str(item.get("key") or item.get("source") or "body")
            message = str(item.get("message", "is not valid"))
            if missing := _MISSING_FIELD.search(message):  # msgspec names the field only in the message
                key, message = ".".join(filter(None, [key.removeprefix("data").lstrip("."), missing[1]])), "Required."
            elif key == "data" and message == "'data'":  # no body at all
                message = "Send a JSON object in the request body."
            detail["body" if key == "data" else key] = message
    return detail or None


def handle_exception(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """The single exception handler of the app."""
    if isinstance(exc, SpyglassError):
        return error_response(request, exc.status_code, exc.message, exc.detail, exc.headers)
    if isinstance(exc, ValidationException):
        return error_response(request, exc.status_code, "The request is not valid.", _validation_detail(exc))
    if isinstance(exc, NotAuthorizedException):
        if not wants_json(request):
            return Response(content=None, status_code=303, headers={"Location": f"/login?next={request.url.path}"})
        return error_response(request, 401, "Sign in, or send a valid API token.", headers=exc.headers)
    if isinstance(exc, HTTPException) and isinstance(exc.__cause__, SerializationException):
        return error_response(request, 400, "The request body is not valid JSON.", {"body": str(exc.detail)})
    if isinstance(exc, HTTPException) and exc.status_code == HTTP_413_REQUEST_ENTITY_TOO_LARGE:
        limit = request.app.state.settings.max_body_bytes
        return error_response(request, 413, f"The request body is too large: the limit is {limit:,} bytes.")
    if isinstance(exc, HTTPException):
        generic = exc.detail == HTTPStatus(exc.status_code).phrase
        message = exc.detail if exc.detail and exc.status_code < 500 and not generic else None
        message = message or _STATUS_MESSAGES.get(exc.status_code)
        return error_response(request, exc.status_code, message or "The request failed.", headers=exc.headers)
    if database_unavailable(exc):
        logger.warning(
            "database unavailable",
            extra={"path": request.url.path, "error": type(exc).__name__, "detail": str(exc)[:200]},
        )
        return error_response(
            request,
            503,
            "The service is busy or restarting; please try again in a moment.",
            headers={"Retry-After": "5"},
        )
    logger.exception("unhandled error", extra={"path": request.url.path, "method": request.method})
    return error_response(
        request,
        HTTP_500_INTERNAL_SERVER_ERROR,
        "Something went wrong on our side. It has been logged; please try again.",
    )


_STATUS_MESSAGES = {
    404: "Not found.",
    405: "That method is not allowed here.",
    413: "The request body is too large.",
    500: "Something went wrong on our side.",
    503: "The service is temporarily unavailable.",
}


def database_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` means the database (or Redis) could not serve the request now (every pooled connection
    busy, the server restarting or unreachable, SQLite's write lock held too long): worth a retry, not a 500."""
    if isinstance(exc, sqlalchemy.exc.TimeoutError):  # no pooled connection within the pool timeout
        return True
    if isinstance(exc, sqlalchemy.exc.DBAPIError):
        if exc.connection_invalidated or isinstance(exc, sqlalchemy.exc.InterfaceError):
            return True
        cause = exc.orig
        if isinstance(cause, OSError) or "database is locked" in str(cause):
            return True
        # asyncpg: "the database system is shutting down / starting up" and friends (SQLSTATE class 57P, 08).
        sqlstate = getattr(cause, "sqlstate", None) or getattr(getattr(cause, "__cause__", None), "sqlstate", None)
        return isinstance(sqlstate, str) and sqlstate.startswith(("57P", "08"))
    if isinstance(exc, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError):
        return True  # Redis (sessions, cache, rate limits) restarting or unreachable
    return isinstance(exc, OSError) and isinstance(exc, ConnectionError)
