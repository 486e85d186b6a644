"""Account logic: registration, sign-in, single-use email tokens, password and email changes, settings.

Functions never commit: the request's unit of work does, after the route returns. Password hashing
runs in a worker thread so argon2 does not stall the event loop.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from spyglass.accounts import repository
from spyglass.accounts.auth import hash_token
from spyglass.accounts.models import AccountToken, AccountTokenPurpose, User
from spyglass.accounts.passwords import password_problems
from spyglass.accounts.schemas import Errors, SettingsChanges, check_email, check_username
from spyglass.config import Settings
from spyglass.core.db import utcnow
from spyglass.core.errors import BadRequest, Conflict, InvalidInput
from spyglass.core.security import hash_password, needs_rehash, new_token, verify_password
from spyglass.core.services import Services

SETTINGS_NAMESPACE = "settings"
MAX_ACCOUNT_TOKEN_LENGTH = 200
PASSWORDS_DIFFER = "The two passwords do not match."
WRONG_CURRENT_PASSWORD = "That is not your current password."


@dataclass(frozen=True)
class LoginOutcome:
    """The result of checking a login: the user when it succeeded, else why it failed (for the audit log)."""

    user: User | None
    failure: str | None = None
    known_user_id: int | None = None


async def hash_password_async(password: str) -> str:
    """An argon2id hash, computed off the event loop."""
    return await asyncio.to_thread(hash_password, password)


async def verify_password_async(password_hash: str, password: str) -> bool:
    """Whether the password matches, checked off the event loop."""
    return await asyncio.to_thread(verify_password, password_hash, password)


@cache
def _dummy_hash() -> str:
    # Checked against when the login is unknown, so both cases take the same time.
    return hash_password(new_token())


def _new_password_errors(
    *, settings: Settings, password: str, confirmation: str, username: str, email: str, field: str
) -> Errors:
    errors: Errors = {}
    problems = password_problems(password, settings=settings, username=username, email=email)
    if problems:
        errors[field] = " ".join(problems)
    elif password != confirmation:
        errors[f"{field}_confirm"] = PASSWORDS_DIFFER
    return errors


async def register_user(
    *, db: AsyncSession, settings: Settings, username: str, email: str, password: str, password_confirm: str
) -> User:
    """Create an account (with default settings); raises InvalidInput with a message per field."""
    username, username_error = check_username(username)
    email, email_error = check_email(email)
    errors: Errors = {}
    if username_error:
        errors["username"] = username_error
    elif await repository.username_taken(db, username):
        errors["username"] = "This username is taken. Choose another one."
    if email_error:
        errors["email"] = email_error
    elif await repository.email_taken(db, email):
        errors["email"] = "An account with this email address already exists. Sign in or reset your password."
    errors.update(
        _new_password_errors(
            settings=settings,
            password=password,
            confirmation=password_confirm,
            username=username,
            email=email,
            field="password",
        )
    )
    if errors:
        raise InvalidInput(detail=errors)
    password_hash = await hash_password_async(password)
    try:
        async with db.begin_nested():
            return await repository.add_user(db, username=username, email=email, password_hash=password_hash)
    except IntegrityError as exc:  # somebody registered the same name or address a moment ago
        raise InvalidInput(detail={"username": "This username or email address was just taken. Try another."}) from exc


async def authenticate(*, db: AsyncSession, user: User | None, password: str) -> LoginOutcome:
    """Check the password of the account a login named; rehash legacy or weak hashes and stamp the login time."""
    if user is None:
        await verify_password_async(_dummy_hash(), password)
        return LoginOutcome(None, "unknown_login")
    if not await verify_password_async(user.password_hash, password):
        return LoginOutcome(None, "wrong_password", user.id)
    if not user.is_active:
        return LoginOutcome(None, "inactive", user.id)
    if needs_rehash(user.password_hash):
        user.password_hash = await hash_password_async(password)
    user.last_login_at = utcnow()
    await db.flush()
    return LoginOutcome(user, None, user.id)


async def issue_account_token(
    *, db: AsyncSession, user_id: int, purpose: AccountTokenPurpose, ttl: timedelta, new_email: str | None = None
) -> str:
    """A new single-use token (only its SHA-256 is stored); earlier unused ones of the purpose stop working."""
    now = utcnow()
    await repository.use_up_account_tokens(db, user_id=user_id, purpose=purpose.value, at=now)
    raw = new_token()
    await repository.add_account_token(
        db,
        user_id=user_id,
        purpose=purpose.value,
        token_hash=hash_token(raw),
        expires_at=now + ttl,
        new_email=new_email,
    )
    return raw


async def valid_account_token(*, db: AsyncSession, raw: str, purposes: tuple[AccountTokenPurpose, ...]) -> AccountToken:
    """The unused, unexpired token; raises BadRequest (400) saying what is wrong with the link."""
    if not raw or len(raw) > MAX_ACCOUNT_TOKEN_LENGTH:
        raise BadRequest("This link is not valid. Check that you copied all of it.")
    token = await repository.find_account_token(db, hash_token(raw), tuple(p.value for p in purposes))
    if token is None:
        raise BadRequest("This link is not valid. Check that you copied all of it.")
    if token.used_at is not None:
        raise BadRequest("This link has already been used. Each link works only once.")
    if token.expires_at <= utcnow():
        raise BadRequest("This link has expired. Ask for a new one.")
    return token


async def confirm_email(*, db: AsyncSession, token: AccountToken) -> tuple[User, str | None]:
    """Use a verify-email or change-email token; returns the user and the previous address on a change."""
    user = await repository.get_user(db, token.user_id)
    if user is None or not user.is_active:
        raise BadRequest("This link is not valid. Check that you copied all of it.")
    now = utcnow()
    token.used_at = now
    previous: str | None = None
    if token.purpose == AccountTokenPurpose.CHANGE_EMAIL.value and token.new_email:
        if await repository.email_taken(db, token.new_email, except_user_id=user.id):
            raise Conflict("Another account now uses this email address, so it cannot be moved to yours.")
        previous, user.email = user.email, token.new_email
        # Links sent to the old address (verification, password reset) no longer apply.
        for purpose in AccountTokenPurpose:
            await repository.use_up_account_tokens(db, user_id=user.id, purpose=purpose.value, at=now)
    elif token.new_email and token.new_email != user.email:
        raise BadRequest("This link was sent to an address your account no longer uses.")
    user.email_verified_at = now
    try:
        await db.flush()
    except IntegrityError as exc:
        raise Conflict("Another account now uses this email address, so it cannot be moved to yours.") from exc
    return user, previous


async def reset_password(
    *, db: AsyncSession, settings: Settings, token: AccountToken, password: str, password_confirm: str
) -> User:
    """Set a new password from a reset link: every other reset link and every session stop working."""
    user = await repository.get_user(db, token.user_id)
    if user is None or not user.is_active:
        raise BadRequest("This link is not valid. Check that you copied all of it.")
    errors = _new_password_errors(
        settings=settings,
        password=password,
        confirmation=password_confirm,
        username=user.username,
        email=user.email,
        field="password",
    )
    if errors:
        raise InvalidInput(detail=errors)
    now = utcnow()
    user.password_hash = await hash_password_async(password)
    user.session_epoch += 1
    if user.email_verified_at is None:  # the link reached the mailbox, which proves the address
        user.email_verified_at = now
    token.used_at = now
    await repository.use_up_account_tokens(db, user_id=user.id, purpose=token.purpose, at=now)
    await db.flush()
    return user


async def change_password(
    *, db: AsyncSession, settings: Settings, user_id: int, current: str, new: str, new_confirm: str
) -> User:
    """Replace the password after checking the current one; ends every session (the caller keeps its own)."""
    user = await repository.get_user(db, user_id)
    if user is None:
        raise BadRequest("Your account no longer exists.")
    if not current or not await verify_password_async(user.password_hash, current):
        raise InvalidInput(detail={"current_password": WRONG_CURRENT_PASSWORD})
    errors = _new_password_errors(
        settings=settings,
        password=new,
        confirmation=new_confirm,
        username=user.username,
        email=user.email,
        field="new_password",
    )
    if not errors and new == current:
        errors["new_password"] = "Choose a password different from your current one."
    if errors:
        raise InvalidInput(detail=errors)
    user.password_hash = await hash_password_async(new)
    user.session_epoch += 1
    await db.flush()
    return user


async def request_email_change(
    *, db: AsyncSession, settings: Settings, user_id: int, new_email: str, password: str
) -> tuple[User, str, str]:
    """Check the password and the new address; returns the user, the normalised address and a token."""
    user = await repository.get_user(db, user_id)
    if user is None:
        raise BadRequest("Your account no longer exists.")
    email, problem = check_email(new_email)
    errors: Errors = {}
    if problem:
        errors["new_email"] = problem
    elif email == user.email:
        errors["new_email"] = "This is already your email address."
    elif await repository.email_taken(db, email, except_user_id=user.id):
        errors["new_email"] = "Another account already uses this email address."
    if not password or not await verify_password_async(user.password_hash, password):
        errors["password_for_email"] = WRONG_CURRENT_PASSWORD
    if errors:
        raise InvalidInput(detail=errors)
    raw = await issue_account_token(
        db=db,
        user_id=user.id,
        purpose=AccountTokenPurpose.CHANGE_EMAIL,
        ttl=timedelta(hours=settings.email_verification_ttl_hours),
        new_email=email,
    )
    return user, email, raw


def _settings_dict(row: Any) -> dict[str, Any]:
    return {
        "display_name": row.display_name,
        "timezone": row.timezone,
        "page_size": row.page_size,
        "email_notifications": row.email_notifications,
    }


DEFAULT_SETTINGS: dict[str, Any] = {
    "display_name": "",
    "timezone": "UTC",
    "page_size": 25,
    "email_notifications": True,
}


async def load_settings(*, services: Services, user_id: int) -> dict[str, Any]:
    """A user's settings as plain values, from the ``settings`` cache or the database."""

    async def load() -> dict[str, Any]:
        async with services.db.session() as session:
            row = await repository.get_settings(session, user_id)
            return _settings_dict(row) if row else dict(DEFAULT_SETTINGS)

    return await services.cache.get_or_load(SETTINGS_NAMESPACE, user_id, load)


async def update_settings(
    *, db: AsyncSession, user_id: int, changes: SettingsChanges
) -> tuple[dict[str, Any], list[str]]:
    """Apply validated changes; returns the new settings and the names of the fields that changed."""
    row = await repository.get_or_add_settings(db, user_id)
    changed = [name for name, value in changes.as_dict().items() if getattr(row, name) != value]
    for name in changed:
        setattr(row, name, getattr(changes, name))
    await db.flush()
    return _settings_dict(row), changed


async def forget_settings(*, services: Services, user_id: int) -> None:
    """Drop the cached settings of a user; call after every settings write."""
    await services.cache.invalidate(SETTINGS_NAMESPACE, user_id)
