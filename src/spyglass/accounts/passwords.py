"""The password policy: length, optional character rules from the settings, common passwords refused,
and no password built from the person's own username or email address.

Used by registration, password change and reset, and the CLI's ``create-admin``.
"""

from __future__ import annotations

from functools import cache

from spyglass.config import Settings

MAX_PASSWORD_LENGTH = 128
#: Usernames or email local parts shorter than this are not searched for inside passwords.
MIN_PERSONAL_PART = 3


@cache
def common_passwords() -> frozenset[str]:
    """The 30,000 most common passwords (zxcvbn's list), lower-cased; loaded on first use."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(word.lower() for word in FREQUENCY_LISTS["passwords"])


def password_problems(
    password: str, *, settings: Settings, username: str | None = None, email: str | None = None
) -> list[str]:
    """What is wrong with ``password`` in words a person understands; an empty list means it is acceptable."""
    if not password:
        return ["Enter a password."]
    problems: list[str] = []
    if len(password) < settings.password_min_length:
        problems.append(f"Use at least {settings.password_min_length} characters.")
    if len(password) > MAX_PASSWORD_LENGTH:
        problems.append(f"Use at most {MAX_PASSWORD_LENGTH} characters.")
    if settings.password_require_upper and not any(char.isupper() for char in password):
        problems.append("Include at least one upper-case letter.")
    if settings.password_require_digit and not any(char.isdigit() for char in password):
        problems.append("Include at least one number.")
    if settings.password_require_special and all(char.isalnum() for char in password):
        problems.append("Include at least one special character, such as ! ? # or %.")
    lowered = password.lower()
    if lowered in common_passwords():
        problems.append("This password is one of the most common ones; choose something harder to guess.")
    if username and len(username) >= MIN_PERSONAL_PART and username.lower() in lowered:
        problems.append("Do not use your username in your password.")
    local_part = email.rsplit("@", 1)[0].lower() if email else ""
    if len(local_part) >= MIN_PERSONAL_PART and local_part in lowered:
        problems.append("Do not use your email address in your password.")
    return problems
