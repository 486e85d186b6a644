"""The rules that keep somebody in charge, at the service level: the last admin, admins whose role
was taken away after their request was authenticated, and two admins acting on each other at once."""

from __future__ import annotations

import asyncio

import pytest

from spyglass.accounts.auth import CurrentUser
from spyglass.accounts.models import Role, User
from spyglass.admin import service
from spyglass.core.errors import Forbidden, NotFound
from spyglass.core.services import Services
from tests.admin.conftest import reload_user
from tests.support.factories import create_user


async def test_the_last_active_admin_is_told_so(services: Services, admin: User) -> None:
    await create_user(services, username="dormant", role=Role.ADMIN, active=False)  # inactive admins do not count
    root = CurrentUser.from_user(admin)
    async with services.db.session(write=True) as db:
        with pytest.raises(Forbidden, match="you are the last active admin"):
            await service.change_role(db=db, admin=root, user_id=admin.id, role="user")
        with pytest.raises(Forbidden, match="you are the last active admin"):
            await service.deactivate_user(db=db, admin=root, user_id=admin.id)
    assert (await reload_user(services, admin.id)).role == "admin"


async def test_an_admin_demoted_meanwhile_can_do_nothing(services: Services, admin: User, member: User) -> None:
    deputy = await create_user(services, username="deputy", role=Role.ADMIN)
    stale_deputy = CurrentUser.from_user(deputy)  # what deputy's request authenticated as
    async with services.db.session(write=True) as db:
        assert await service.change_role(db=db, admin=CurrentUser.from_user(admin), user_id=deputy.id, role="user")
    async with services.db.session(write=True) as db:
        with pytest.raises(NotFound):
            await service.change_role(db=db, admin=stale_deputy, user_id=admin.id, role="user")
        with pytest.raises(NotFound):
            await service.deactivate_user(db=db, admin=stale_deputy, user_id=member.id)
    assert (await reload_user(services, admin.id)).role == "admin"
    assert (await reload_user(services, member.id)).is_active


async def test_two_admins_demoting_each_other_at_once_leave_one_admin(services: Services, admin: User) -> None:
    deputy = await create_user(services, username="deputy", role=Role.ADMIN)

    async def demote(actor: User, target: User) -> str:
        try:
            async with services.db.session(write=True) as db:
                await service.change_role(db=db, admin=CurrentUser.from_user(actor), user_id=target.id, role="user")
        except NotFound:
            return "refused"
        return "done"

    outcomes = await asyncio.gather(demote(admin, deputy), demote(deputy, admin))
    assert sorted(outcomes) == ["done", "refused"]
    roles = {(await reload_user(services, u.id)).role for u in (admin, deputy)}
    assert roles == {"admin", "user"}
