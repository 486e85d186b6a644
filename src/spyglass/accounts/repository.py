"""All SQL of the accounts feature (users, settings and single-use account tokens)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from spyglass.accounts.models import AccountToken, User, UserSettings


async def get_user(db: AsyncSession, user_id: int) -> User | None:
    """The user with this id."""
    return await db.get(User, user_id)


async def find_user_by_login(db: AsyncSession, login: str) -> User | None:
    """The user whose username or email address is ``login`` (already lower-cased)."""
    return await db.scalar(select(User).where(or_(User.username == login, User.email == login)).limit(1))


async def find_user_by_email(db: AsyncSession, email: str) -> User | None:
    """The user with this (lower-cased) email address."""
    return await db.scalar(select(User).where(User.email == email))


async def username_taken(db: AsyncSession, username: str) -> bool:
    """Whether an account already uses this username."""
    return await db.scalar(select(func.count()).select_from(User).where(User.username == username)) != 0


async def email_taken(db: AsyncSession, email: str, *, except_user_id: int | None = None) -> bool:
    """Whether another account already uses this email address."""
    statement = select(func.count()).select_from(User).where(User.email == email)
    if except_user_id is not None:
        statement = statement.where(User.id != except_user_id)
    return await db.scalar(statement) != 0


async def add_user(db: AsyncSession, *, username: str, email: str, password_hash: str) -> User:
    """Insert a user with default settings; flushes, so a unique clash raises IntegrityError here."""
    user = User(username=username, email=email, password_hash=password_hash)
    db.add(user)
    await db.flush()
    db.add(UserSettings(user_id=user.id))
    await db.flush()
    return user


async def get_settings(db: AsyncSession, user_id: int) -> UserSettings | None:
    """A user's settings row."""
    return await db.get(UserSettings, user_id)


async def get_or_add_settings(db: AsyncSession, user_id: int) -> UserSettings:
    """A user's settings row, created with defaults when the user has none yet."""
    settings = await db.get(UserSettings, user_id)
    if settings is None:
        settings = UserSettings(user_id=user_id)
        db.add(settings)
        await db.flush()
    return settings


async def add_account_token(
    db: AsyncSession, *, user_id: int, purpose: str, token_hash: str, expires_at: datetime, new_email: str | None
) -> AccountToken:
    """Store a single-use token (its hash only)."""
    token = AccountToken(
        user_id=user_id, purpose=purpose, token_hash=token_hash, expires_at=expires_at, new_email=new_email
    )
    db.add(token)
    await db.flush()
    return token


async def find_account_token(db: AsyncSession, token_hash: str, purposes: tuple[str, ...]) -> AccountToken | None:
    """The token with this hash and one of these purposes, whatever its state."""
    return await db.scalar(
        select(AccountToken).where(AccountToken.token_hash == token_hash, AccountToken.purpose.in_(purposes))
    )


async def use_up_account_tokens(db: AsyncSession, *, user_id: int, purpose: str, at: datetime) -> None:
    """Mark every unused token of this user and purpose as used (only the newest link should work)."""
    await db.execute(
        update(AccountToken)
        .where(AccountToken.user_id == user_id, AccountToken.purpose == purpose, AccountToken.used_at.is_(None))
        .values(used_at=at)
    )
