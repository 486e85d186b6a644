"""Input validation for the account forms and the JSON API, and the API's request/response shapes.

Validators return normalised values and a ``{field: message}`` mapping of problems in words a person
understands; the routes re-render the form (or answer 422 JSON) with them.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any

import msgspec
from email_validator import EmailNotValidError, validate_email

USERNAME_PATTERN = re.compile(r"^[a-z0-9._-]{3,32}$")
MAX_EMAIL_LENGTH = 254
MAX_LOGIN_LENGTH = 254
MAX_DISPLAY_NAME = 80
MIN_PAGE_SIZE = 10
MAX_PAGE_SIZE = 100
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")

Errors = dict[str, str]


def form_text(form: Mapping[str, Any], name: str) -> str:
    """A text field of a submitted form ('' when missing or not text), stripped of surrounding spaces."""
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def form_secret(form: Mapping[str, Any], name: str) -> str:
    """A password field, exactly as typed (spaces are part of a password)."""
    value = form.get(name)
    return value if isinstance(value, str) else ""


def has_control_chars(value: str) -> bool:
    """Whether ``value`` holds control characters (NUL and friends), which no name or address contains."""
    return bool(_CONTROL_CHARS.search(value))


def check_username(value: str) -> tuple[str, str | None]:
    """The normalised (lower-case) username and the problem with it, if any."""
    username = value.strip().lower()
    if not username:
        return username, "Choose a username."
    if len(username) < 3 or len(username) > 32:
        return username, "Use between 3 and 32 characters."
    if not USERNAME_PATTERN.match(username):
        return username, "Use only letters, digits, dots, dashes and underscores."
    return username, None


def check_email(value: str) -> tuple[str, str | None]:
    """The normalised (lower-case) email address and the problem with it, if any."""
    raw = value.strip()
    if not raw:
        return raw, "Enter your email address."
    if len(raw) > MAX_EMAIL_LENGTH:
        return raw, f"Use at most {MAX_EMAIL_LENGTH} characters."
    try:
        result = validate_email(raw, check_deliverability=False)
    except EmailNotValidError as exc:
        return raw, f"This is not a valid email address: {exc}"
    return result.normalized.lower(), None


@cache
def known_timezones() -> frozenset[str]:
    """Every IANA time zone name this system knows."""
    return frozenset(zoneinfo.available_timezones())


@cache
def timezone_choices() -> list[str]:
    """Time zone names for the settings form, UTC first."""
    return ["UTC", *sorted(name for name in known_timezones() if name != "UTC")]


@dataclass
class SettingsChanges:
    """Validated new values of a user's settings; None means "leave as it is"."""

    display_name: str | None = None
    timezone: str | None = None
    page_size: int | None = None
    email_notifications: bool | None = None

    def as_dict(self) -> dict[str, Any]:
        return {key: value for key, value in vars(self).items() if value is not None}


def check_settings(values: Mapping[str, Any]) -> tuple[SettingsChanges, Errors]:
    """Validate settings given as JSON values or form strings; absent keys are left unchanged."""
    changes = SettingsChanges()
    errors: Errors = {}
    if (name := values.get("display_name")) is not None:
        name = str(name).strip()
        if len(name) > MAX_DISPLAY_NAME:
            errors["display_name"] = f"Use at most {MAX_DISPLAY_NAME} characters."
        elif _CONTROL_CHARS.search(name):
            errors["display_name"] = "Use letters, digits, spaces and punctuation only."
        else:
            changes.display_name = name
    if (zone := values.get("timezone")) is not None:
        zone = str(zone).strip()
        if zone not in known_timezones():
            errors["timezone"] = "Choose a time zone from the list, such as Europe/Paris or America/New_York."
        else:
            changes.timezone = zone
    if (size := values.get("page_size")) is not None:
        number = _as_int(size)
        if number is None or not MIN_PAGE_SIZE <= number <= MAX_PAGE_SIZE:
            errors["page_size"] = f"Enter a whole number between {MIN_PAGE_SIZE} and {MAX_PAGE_SIZE}."
        else:
            changes.page_size = number
    if (notify := values.get("email_notifications")) is not None:
        if not isinstance(notify, bool):
            errors["email_notifications"] = "Use true or false."
        else:
            changes.email_notifications = notify
    return changes, errors


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*\d{1,6}\s*", value):
        return int(value)
    return None


# ---------- JSON API shapes ----------


class UserSettingsOut(msgspec.Struct):
    """A user's preferences."""

    display_name: str
    timezone: str
    page_size: int
    email_notifications: bool


class MeOut(msgspec.Struct):
    """The signed-in user."""

    id: int
    username: str
    email: str
    role: str
    email_verified: bool
    settings: UserSettingsOut


def _documented(description: str, **schema: Any) -> msgspec.Meta:
    # Constraints are documented for OpenAPI but checked by check_settings, which words its messages for people.
    return msgspec.Meta(extra_json_schema={"description": description, "extra": schema or None})


class UserSettingsPatch(msgspec.Struct, forbid_unknown_fields=True):
    """A partial update of the user's preferences: only the fields given change."""

    display_name: Annotated[str | None, _documented("Name shown in the interface, at most 80 characters.")] = None
    timezone: Annotated[str | None, _documented("IANA time zone name, such as Europe/Paris.")] = None
    page_size: Annotated[
        int | None, _documented("Rows per page in lists, 10 to 100.", minimum=MIN_PAGE_SIZE, maximum=MAX_PAGE_SIZE)
    ] = None
    email_notifications: Annotated[bool | None, _documented("Whether to send notifications by email.")] = None

    def values(self) -> dict[str, Any]:
        return {field: getattr(self, field) for field in self.__struct_fields__}
