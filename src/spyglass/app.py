"""The web application factory: ``create_app(settings)`` wires every feature's routes and the
cross-cutting middleware. Same code for the embedded and the distributed mode."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.datastructures import State
from litestar.middleware import DefineMiddleware
from litestar.types import ControllerRouterHandler

import spyglass.jobs  # noqa: F401 - registers every feature's job kinds
from spyglass import __version__
from spyglass.accounts.auth import AuthMiddleware
from spyglass.config import Settings, get_settings
from spyglass.core.assets import static_files_router
from spyglass.core.csrf import CSRFGuardMiddleware, csrf_config
from spyglass.core.dependencies import DEPENDENCIES
from spyglass.core.errors import handle_exception
from spyglass.core.health import ROUTES as HEALTH_ROUTES
from spyglass.core.logging import configure_logging
from spyglass.core.middleware import RequestContextMiddleware, security_headers_hook
from spyglass.core.ratelimit_middleware import RateLimitMiddleware
from spyglass.core.services import Services
from spyglass.core.sessions import session_config
from spyglass.core.view_cache import ViewCacheMiddleware
from spyglass.engine.engine import Engine
from spyglass.web.api_docs import openapi_config
from spyglass.web.templating import STATIC_DIR, template_config

logger = logging.getLogger("spyglass.app")


def feature_routes() -> Sequence[ControllerRouterHandler]:
    """Every feature's route handlers, in one explicit list."""
    from spyglass.accounts.routes import ROUTES as ACCOUNT_ROUTES
    from spyglass.accounts.token_routes import ROUTES as TOKEN_ROUTES
    from spyglass.admin.routes import ROUTES as ADMIN_ROUTES
    from spyglass.analytics.routes import ROUTES as ANALYTICS_ROUTES
    from spyglass.engine.routes import ROUTES as ENGINE_ROUTES
    from spyglass.feedback.routes import ROUTES as FEEDBACK_ROUTES
    from spyglass.market.routes import ROUTES as MARKET_ROUTES
    from spyglass.notifications.routes import ROUTES as NOTIFICATION_ROUTES
    from spyglass.scanner.routes import ROUTES as SCANNER_ROUTES
    from spyglass.web.routes import ROUTES as WEB_ROUTES

    return [
        *HEALTH_ROUTES,
        *WEB_ROUTES,
        *ACCOUNT_ROUTES,
        *TOKEN_ROUTES,
        *ADMIN_ROUTES,
        *ENGINE_ROUTES,
        *MARKET_ROUTES,
        *SCANNER_ROUTES,
        *NOTIFICATION_ROUTES,
        *FEEDBACK_ROUTES,
        *ANALYTICS_ROUTES,
    ]


def create_app(
    settings: Settings | None = None, *, services: Services | None = None, run_engine: bool = False
) -> Litestar:
    """Build the Litestar app. ``services`` may be passed in (tests, the embedded server) to share them;
    ``run_engine`` starts the embedded worker and scheduler inside the web process (``spyglass serve``)."""
    settings = settings or get_settings()
    services = services or Services.build(settings)
    secret = settings.secret()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        logger.info("spyglass web starting", extra={"database": services.db.backend, "version": __version__})
        engine = Engine(services, mode="embedded") if run_engine else None
        app.state.engine = engine
        if engine is not None:
            await engine.start()
        try:
            yield
        finally:
            if engine is not None:
                await engine.stop()
            await services.close()

    sessions = session_config(idle_seconds=settings.session_idle_seconds, secure=settings.cookies_secure)
    return Litestar(
        route_handlers=[
            *feature_routes(),
            static_files_router(STATIC_DIR),
        ],
        dependencies=DEPENDENCIES,
        middleware=[
            DefineMiddleware(RequestContextMiddleware, settings=settings, metrics=services.metrics),
            sessions.middleware,
            DefineMiddleware(CSRFGuardMiddleware, config=csrf_config(secret, secure=settings.cookies_secure)),
            AuthMiddleware,
            RateLimitMiddleware,
            ViewCacheMiddleware,
        ],
        stores={"sessions": services.session_store},
        template_config=template_config(),
        exception_handlers={Exception: handle_exception},
        before_send=[security_headers_hook(settings)],
        openapi_config=openapi_config(__version__),
        lifespan=[lifespan],
        request_max_body_size=settings.max_body_bytes,
        state=State({"services": services, "settings": settings}),
        debug=False,
        logging_config=None,
    )


def create_app_from_env() -> Litestar:
    """Entry point for ASGI servers (``uvicorn --factory spyglass.app:create_app_from_env``)."""
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    return create_app(settings)
