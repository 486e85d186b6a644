"""The admin JSON API under ``/api/v1/admin`` (admins only; everyone else gets a 404). Same rules
and audit trail as the admin pages."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, delete, get, patch, put
from litestar.params import JSONBody, QueryParameter
from litestar.types import ControllerRouterHandler
from sqlalchemy.ext.asyncio import AsyncSession

from spyglass.accounts.auth import CurrentUser, forget_user, require_admin
from spyglass.admin import service
from spyglass.admin.schemas import (
    AuditEventOut,
    AuditPageOut,
    MarketQuotasIn,
    MarketQuotasOut,
    PageNumber,
    PageSize,
    RateLimitOut,
    UserId,
    UserOut,
    UserPageOut,
    UserPatch,
    parse_audit_filters,
    parse_user_query,
)
from spyglass.core.services import Services
from spyglass.market.quotas import parse_override


class AdminApi(Controller):
    """Users, their rate limits, and the audit log."""

    path = "/api/v1/admin"
    guards = [require_admin]
    tags = ["admin"]

    @get("/users", operation_id="adminListUsers")
    async def list_users(
        self,
        db: AsyncSession,
        services: Services,
        q: Annotated[str | None, QueryParameter(required=False, description="username or email contains")] = None,
        role: Annotated[str | None, QueryParameter(required=False, description="user or admin")] = None,
        active: bool | None = None,
        page: PageNumber = None,
        size: PageSize = None,
    ) -> UserPageOut:
        """Users, newest first, filtered by a search text, role and active state."""
        query = parse_user_query(search=q, role=role, active=active)
        found = await service.list_users(db=db, query=query, page=service.page_request(services, page, size))
        return UserPageOut(**found.to_dict([UserOut.of(user) for user in found.items]))

    @get("/users/{user_id:int}", operation_id="adminGetUser")
    async def get_user(self, db: AsyncSession, user_id: UserId) -> UserOut:
        """One user."""
        return UserOut.of(await service.get_user(db=db, user_id=user_id))

    @patch("/users/{user_id:int}", operation_id="adminUpdateUser")
    async def update_user(
        self,
        request: Request[Any, Any, Any],
        db: AsyncSession,
        services: Services,
        me: CurrentUser,
        user_id: UserId,
        data: UserPatch,
    ) -> UserOut:
        """Change a user's role and/or active state; both changes succeed or neither does."""
        if data.role is not None:
            await service.change_role(db=db, admin=me, user_id=user_id, role=data.role, connection=request)
        if data.is_active is False:
            await service.deactivate_user(db=db, admin=me, user_id=user_id, connection=request)
        elif data.is_active is True:
            await service.reactivate_user(db=db, admin=me, user_id=user_id, connection=request)
        target = await service.get_user(db=db, user_id=user_id)
        await db.commit()
        await forget_user(services, user_id)
        return UserOut.of(target)

    @get("/users/{user_id:int}/rate-limits", operation_id="adminGetUserRateLimits")
    async def rate_limits(self, db: AsyncSession, services: Services, user_id: UserId) -> list[RateLimitOut]:
        """Where the user stands in every rate-limit category."""
        target = await service.get_user(db=db, user_id=user_id)
        return [RateLimitOut.of(status) for status in await service.rate_limits(services=services, user=target)]

    @delete("/users/{user_id:int}/rate-limits", status_code=200, operation_id="adminResetUserRateLimits")
    async def reset_rate_limits(
        self, request: Request[Any, Any, Any], db: AsyncSession, services: Services, me: CurrentUser, user_id: UserId
    ) -> list[RateLimitOut]:
        """Empty every rate-limit window of the user; returns the fresh windows."""
        await service.reset_rate_limits(db=db, services=services, admin=me, user_id=user_id, connection=request)
        target = await service.get_user(db=db, user_id=user_id)
        return [RateLimitOut.of(status) for status in await service.rate_limits(services=services, user=target)]

    @get("/users/{user_id:int}/market-quotas", operation_id="adminGetUserMarketQuotas")
    async def market_quotas(self, db: AsyncSession, services: Services, user_id: UserId) -> MarketQuotasOut:
        """The market quotas that apply to the user, and the admin override (null: the global setting)."""
        return MarketQuotasOut.of(await service.market_quotas_of(db=db, services=services, user_id=user_id))

    @put("/users/{user_id:int}/market-quotas", operation_id="adminSetUserMarketQuotas")
    async def set_market_quotas(
        self,
        request: Request[Any, Any, Any],
        db: AsyncSession,
        services: Services,
        me: CurrentUser,
        user_id: UserId,
        data: JSONBody[MarketQuotasIn],
    ) -> MarketQuotasOut:
        """Set the user's maximum saved searches and minimum interval; null returns a field to the global setting."""
        override = parse_override(data.model_dump())
        quotas = await service.set_market_quotas(
            db=db, services=services, admin=me, user_id=user_id, override=override, connection=request
        )
        return MarketQuotasOut.of(quotas)

    @get("/audit", operation_id="adminListAuditEvents")
    async def audit(
        self,
        db: AsyncSession,
        services: Services,
        username: Annotated[
            str | None, QueryParameter(required=False, description="events about or by this user")
        ] = None,
        action: str | None = None,
        date_from: Annotated[str | None, QueryParameter(name="from", required=False, description="YYYY-MM-DD")] = None,
        date_to: Annotated[str | None, QueryParameter(name="to", required=False, description="YYYY-MM-DD")] = None,
        page: PageNumber = None,
        size: PageSize = None,
    ) -> AuditPageOut:
        """Audit events, newest first, filtered by user (subject or actor), action and UTC dates."""
        filters = parse_audit_filters(username=username, action=action, date_from=date_from, date_to=date_to)
        found = await service.search_audit(db=db, filters=filters, page=service.page_request(services, page, size))
        return AuditPageOut(**found.to_dict([AuditEventOut.of(entry) for entry in found.items]))


ROUTES: list[ControllerRouterHandler] = [AdminApi]
