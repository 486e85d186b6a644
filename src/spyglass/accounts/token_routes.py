"""Personal API tokens over HTTP: the ``/account/tokens`` pages and the ``/api/v1/tokens`` JSON API.

The pages need a signed-in browser session; the API takes a session (with the
CSRF header) or a bearer token. A token is shown once: in the page that answers
the create form (not cacheable) or in the 201 response of the API.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, delete, get, post
from litestar.params import JSONBody, PathParameter, QueryParameter
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT, HTTP_303_SEE_OTHER
from sqlalchemy.ext.asyncio import AsyncSession

from spyglass.accounts import token_service
from spyglass.accounts.auth import CurrentUser, forget_token, require_session, require_user
from spyglass.accounts.token_schemas import TokenCreate, TokenCreated, TokenPage
from spyglass.core.errors import Conflict, InvalidInput
from spyglass.core.pagination import PageRequest
from spyglass.core.services import Services
from spyglass.web.api_docs import error_responses
from spyglass.web.templating import flash

PageNumber = Annotated[int, QueryParameter(ge=1, le=100_000, description="Page number, from 1.")]
PageSize = Annotated[int | None, QueryParameter(ge=1, le=1000, description="Items per page (capped by the server).")]
TokenId = Annotated[int, PathParameter(ge=1, le=2**63 - 1, description="The token's id.")]
NO_STORE = {"cache-control": "no-store"}


def _page_request(services: Services, page: int, size: int | None = None) -> PageRequest:
    settings = services.settings
    return PageRequest.from_query(page, size, default_size=settings.default_page_size, max_size=settings.max_page_size)


async def _tokens_page(
    *,
    db: AsyncSession,
    services: Services,
    me: CurrentUser,
    page: int = 1,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    tokens = await token_service.list_tokens(db=db, user_id=me.id, page=_page_request(services, page))
    return Template(
        template_name="accounts/tokens.html",
        context={
            "tokens": tokens,
            "status_of": token_service.token_status,
            "form": form or {},
            "errors": errors or {},
            "name_max": token_service.NAME_MAX_LENGTH,
            "expiry_max": token_service.EXPIRY_MAX_DAYS,
            "token_cap": token_service.MAX_USABLE_TOKENS,
        },
        status_code=status_code,
    )


@get("/account/tokens", guards=[require_session], include_in_schema=False)
async def tokens_page(db: AsyncSession, services: Services, me: CurrentUser, page: PageNumber = 1) -> Template:
    """The list of the user's tokens and the form to create one."""
    return await _tokens_page(db=db, services=services, me=me, page=page)


@post("/account/tokens", guards=[require_session], include_in_schema=False, opt={"rate_limit": "settings"})
async def create_token_form(
    request: Request[Any, Any, Any], db: AsyncSession, services: Services, me: CurrentUser
) -> Template:
    """Create a token from the form and show it once (or the form again with what to fix)."""
    submitted = await request.form()
    form = {key: str(submitted.get(key, "")) for key in ("name", "expires_in_days")}
    try:
        wanted = token_service.parse_token_request(name=form["name"], expires_in_days=form["expires_in_days"])
        issued = await token_service.create_token(db=db, user_id=me.id, request=wanted, connection=request)
    except InvalidInput as exc:
        return await _tokens_page(db=db, services=services, me=me, form=form, errors=exc.detail, status_code=422)
    except Conflict as exc:
        return await _tokens_page(
            db=db, services=services, me=me, form=form, errors={"form": exc.message}, status_code=409
        )
    return Template(
        template_name="accounts/tokens_created.html",
        context={"issued": issued},
        status_code=HTTP_201_CREATED,
        headers=NO_STORE,
    )


@post(
    "/account/tokens/{token_id:int}/revoke",
    guards=[require_session],
    include_in_schema=False,
    opt={"rate_limit": "settings"},
)
async def revoke_token_form(
    request: Request[Any, Any, Any], db: AsyncSession, services: Services, me: CurrentUser, token_id: TokenId
) -> Redirect:
    """Revoke one of the user's tokens and go back to the list."""
    token = await token_service.revoke_token(db=db, user_id=me.id, token_id=token_id, connection=request)
    await db.commit()
    await forget_token(services, token.token_hash)
    flash(request, f"The token “{token.name}” is revoked; programs using it are now refused.", "success")
    return Redirect("/account/tokens", status_code=HTTP_303_SEE_OTHER)


@get(
    "/api/v1/tokens",
    guards=[require_user],
    tags=["API tokens"],
    summary="List your API tokens",
    responses=error_responses(400, 401, 429),
)
async def list_tokens_api(
    db: AsyncSession, services: Services, me: CurrentUser, page: PageNumber = 1, size: PageSize = None
) -> TokenPage:
    """Your personal API tokens, newest first. The tokens themselves are never shown again, only a prefix."""
    tokens = await token_service.list_tokens(db=db, user_id=me.id, page=_page_request(services, page, size))
    return TokenPage.of(tokens)


@post(
    "/api/v1/tokens",
    guards=[require_user],
    tags=["API tokens"],
    summary="Create an API token",
    status_code=HTTP_201_CREATED,
    responses=error_responses(400, 401, 403, 409, 413, 422, 429),
    response_headers={"cache-control": "no-store"},
)
async def create_token_api(
    request: Request[Any, Any, Any], db: AsyncSession, me: CurrentUser, data: JSONBody[TokenCreate]
) -> TokenCreated:
    """Create a personal API token. The response holds the token this one time; store it now."""
    wanted = token_service.parse_token_request(name=data.name, expires_in_days=data.expires_in_days)
    issued = await token_service.create_token(db=db, user_id=me.id, request=wanted, connection=request)
    return TokenCreated.of(issued)


@delete(
    "/api/v1/tokens/{token_id:int}",
    guards=[require_user],
    tags=["API tokens"],
    summary="Revoke an API token",
    status_code=HTTP_204_NO_CONTENT,
    responses=error_responses(400, 401, 403, 404, 429),
)
async def revoke_token_api(
    request: Request[Any, Any, Any], db: AsyncSession, services: Services, me: CurrentUser, token_id: TokenId
) -> None:
    """Revoke one of your tokens; it is refused from the next request on. Revoking twice is harmless."""
    token = await token_service.revoke_token(db=db, user_id=me.id, token_id=token_id, connection=request)
    await db.commit()
    await forget_token(services, token.token_hash)


ROUTES = [tokens_page, create_token_form, revoke_token_form, list_tokens_api, create_token_api, revoke_token_api]
