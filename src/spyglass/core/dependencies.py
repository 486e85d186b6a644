"""Request-scoped dependencies shared by every feature's routes."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from litestar import Request
from litestar.di import Provide
from sqlalchemy.ext.asyncio import AsyncSession

from spyglass.accounts.auth import CurrentUser
from spyglass.core.request_context import SAFE_METHODS
from spyglass.core.services import Services

# Every provider below takes ``services`` although most do not need it: Litestar resolves the
# dependencies of one level concurrently in an anyio task group (a task per dependency, per request),
# which cost a third of a cached API read. With ``services`` as the one root, a handler asking for
# ``me`` and ``services`` resolves them one after the other without a task group.


async def provide_services(request: Request[Any, Any, Any]) -> Services:
    return request.app.state.services


async def provide_db_session(request: Request[Any, Any, Any], services: Services) -> AsyncGenerator[AsyncSession, None]:
    """The request's unit of work: a writer for unsafe methods, committed after the handler returns.

    A safe request to a route with ``opt={"replica_ok": True}`` reads from the read replica when one is
    configured (except right after the user wrote: read-your-writes, see core/replica.py).
    """
    if request.method in SAFE_METHODS:
        replica_ok = bool(request.route_handler.opt.get("replica_ok"))
        async with services.db.session(replica_ok=replica_ok) as session:
            yield session
        return
    async with services.db.session(write=True) as session:
        yield session


async def provide_user(request: Request[Any, Any, Any], services: Services) -> CurrentUser | None:
    return request.scope.get("user")


async def provide_required_user(request: Request[Any, Any, Any], services: Services) -> CurrentUser:
    """The signed-in user; use together with the ``require_user`` guard."""
    user = request.scope.get("user")
    assert user is not None, "route needs the require_user guard"
    return user


DEPENDENCIES = {
    "services": Provide(provide_services),
    "db": Provide(provide_db_session),
    "user": Provide(provide_user),
    "me": Provide(provide_required_user),
}
