"""The people most feature tests need, committed to the test database: an administrator (``admin``,
username root) and two members (``alice`` and ``bob``). A plugin of the suite (tests/conftest.py), so every
test can ask for them; a folder that needs other people defines fixtures of the same names."""

from __future__ import annotations

import pytest

from spyglass.accounts.models import Role, User
from spyglass.core.services import Services
from tests.support.factories import create_user


@pytest.fixture
async def admin(services: Services) -> User:
    """An administrator, root."""
    return await create_user(services, username="root", email="root@example.test", role=Role.ADMIN)


@pytest.fixture
async def alice(services: Services) -> User:
    """A member, alice."""
    return await create_user(services, username="alice", email="alice@example.test")


@pytest.fixture
async def bob(services: Services) -> User:
    """Another member, bob."""
    return await create_user(services, username="bob", email="bob@example.test")
