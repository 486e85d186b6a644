"""The OpenAPI schema at /api/docs/openapi.json and the docs page at /api/docs."""

from __future__ import annotations

import re

from litestar import Litestar
from litestar.testing import AsyncTestClient

from spyglass.core.middleware import CONTENT_SECURITY_POLICY

Client = AsyncTestClient[Litestar]
METHODS = {"get", "put", "post", "patch", "delete"}


async def test_schema_declares_bearer_auth_and_only_api_routes(client: Client) -> None:
    response = await client.get("/api/docs/openapi.json")

    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "Spyglass API"
    assert schema["components"]["securitySchemes"]["BearerToken"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "sg_ personal API token",
        "description": "A personal API token from your account's API tokens page.",
    }
    assert schema["security"] == [{"BearerToken": []}]
    assert schema["paths"], "no operations documented"
    for path, operations in schema["paths"].items():
        assert path.startswith("/api/v1/"), f"{path}: pages and internals stay out of the API schema"
        for method, operation in operations.items():
            if method in METHODS:
                assert operation.get("security", schema["security"]), f"{method} {path} has no security"


async def test_token_operations_document_their_errors(client: Client) -> None:
    schema = (await client.get("/api/docs/openapi.json")).json()
    error = {"$ref": "#/components/schemas/ApiError"}
    create = schema["paths"]["/api/v1/tokens"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/TokenCreate"
    }
    for status in ("400", "401", "409", "413", "422", "429"):
        assert create["responses"][status]["content"]["application/json"]["schema"] == error, status
    assert "token" in schema["components"]["schemas"]["TokenCreated"]["properties"]
    assert "token" not in schema["components"]["schemas"]["TokenOut"]["properties"]
    body = schema["components"]["schemas"]["TokenCreate"]["properties"]
    assert body["name"]["maxLength"] == 80 and body["name"]["minLength"] == 1
    assert schema["components"]["schemas"]["ApiError"]["required"] == ["error"]


async def test_docs_page_loads_its_renderer_from_static_files(client: Client) -> None:
    page = await client.get("/api/docs")

    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY  # no 'unsafe-inline' needed
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", page.text, re.S)
    assert scripts and all('src="' in attrs and not body.strip() for attrs, body in scripts), "inline script"
    assert " style=" not in page.text
    assert 'data-spec-url="/api/docs/openapi.json"' in page.text
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text)
    plain = {re.sub(r"\.[0-9a-f]{12}(\.\w+)$", r"\1", asset) for asset in assets}  # fingerprints (core/assets.py)
    assert {"/static/vendor/swagger-ui-bundle.js", "/static/vendor/swagger-ui.css", "/static/js/api-docs.js"} <= plain
    for asset in assets:
        served = await client.get(asset)
        assert served.status_code == 200, asset
        assert len(served.content) > 100, asset
    bundle = await client.get("/static/vendor/swagger-ui-bundle.js")
    assert "SwaggerUIBundle" in bundle.text
    assert "javascript" in bundle.headers["content-type"]


async def test_litestar_builtin_doc_sites_are_not_served(client: Client) -> None:
    builtin = ("swagger", "redoc", "elements", "rapidoc", "scalar", "openapi.yaml", "openapi.yml", "oauth2-redirect")
    for path in builtin:
        response = await client.get(f"/api/docs/{path}")
        assert response.status_code == 404, path
        assert response.headers["content-type"].startswith("application/json"), path
        assert "cdn" not in response.text.lower()
    assert (await client.get("/schema")).status_code == 404
