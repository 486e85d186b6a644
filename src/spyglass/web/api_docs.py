"""The OpenAPI description of the JSON API and its human docs page, both under ``/api/docs``.

``/api/docs/openapi.json`` is Litestar's generated schema; ``/api/docs`` is a
Swagger UI page built from the npm package ``swagger-ui-dist`` (copied into
``static/vendor`` by ``scripts/build_assets.py``) and started by
``static/js/api-docs.js``, so the page needs no inline script. Litestar's own
docs sites (which load their scripts from a CDN) are not served.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import MediaType, Request, Response, Router
from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.openapi.plugins import OpenAPIRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme

API_DOCS_PATH = "/api/docs"
BEARER_SCHEME = "BearerToken"
DESCRIPTION = """\
Spyglass's JSON API, under `/api/v1`.

**Authentication.** Create a personal API token on the *API tokens* page of your
account (or with `POST /api/v1/tokens`) and send it on every request as
`Authorization: Bearer sg_...`. Requests from a signed-in browser session work
too, but unsafe methods then need the `x-csrf-token` header.

**Errors** are JSON: `{"error": "what went wrong", "detail": {"field": "what to fix"}}`
with a 4xx status. **Rate limits**: 429 with `Retry-After` and `RateLimit-*` headers.
**Lists** are paginated with `page` and `size` (the server caps `size`).
"""


class ApiError(msgspec.Struct):
    """The body of every error answer of the API."""

    error: str
    detail: dict[str, str] | str | None = None


_ERROR_DESCRIPTIONS = {
    400: "The request is malformed (bad JSON, a value of the wrong type); `detail` names the fields.",
    401: "No valid API token or session.",
    403: "Refused: a browser session sent an unsafe request without the CSRF header.",
    404: "No such object, or it belongs to somebody else.",
    409: "The change conflicts with existing data or a limit.",
    413: "The request body is too large.",
    422: "Some fields are not acceptable; `detail` maps each field to a message.",
    429: "Too many requests; see the `Retry-After` header.",
}


def error_responses(*status_codes: int) -> dict[int, ResponseSpec]:
    """OpenAPI ``responses`` for a handler's error answers, all in the ``ApiError`` shape."""
    codes = status_codes or (400, 401, 429)
    return {
        code: ResponseSpec(
            data_container=ApiError, description=_ERROR_DESCRIPTIONS.get(code, "Error."), generate_examples=False
        )
        for code in codes
    }


class DocsPage(OpenAPIRenderPlugin):
    """Serves the Swagger UI page at the root of the docs path (a render plugin, so Litestar routes it)."""

    def __init__(self) -> None:
        super().__init__(path="/", media_type=MediaType.HTML)

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        template = request.app.template_engine.get_template("api_docs.html")  # type: ignore[union-attr]
        html: str = template.render(spec_url=self.get_openapi_json_route(request), request=request)
        return html.encode()


def _not_found_as_json(response: Response[Any]) -> Response[Any]:
    """Unknown paths under /api/docs answer like the rest of the API, not with Litestar's HTML stub."""
    if response.status_code == 404 and response.media_type == MediaType.HTML:
        return Response(ApiError(error="Not found."), status_code=404, media_type=MediaType.JSON)
    return response


def openapi_config(version: str) -> OpenAPIConfig:
    """The OpenAPI set-up: bearer security on every operation, our docs page, the JSON schema."""
    return OpenAPIConfig(
        title="Spyglass API",
        version=version,
        path=API_DOCS_PATH,
        description=DESCRIPTION,
        components=Components(
            security_schemes={
                BEARER_SCHEME: SecurityScheme(
                    type="http",
                    scheme="bearer",
                    bearer_format="sg_ personal API token",
                    description="A personal API token from your account's API tokens page.",
                )
            }
        ),
        security=[{BEARER_SCHEME: []}],
        render_plugins=[DocsPage()],
        openapi_router=Router(
            API_DOCS_PATH,
            route_handlers=[],
            include_in_schema=False,
            after_request=_not_found_as_json,
            opt={"rate_limit": "none"},
        ),
    )
