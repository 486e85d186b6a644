"""Jinja2 set-up: template folder, globals available in every page (``asset_url`` for fingerprinted static
files, see core/assets.py), flash messages."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from litestar.connection import ASGIConnection
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.template.config import TemplateConfig

from spyglass import __version__
from spyglass.core.assets import asset_url_callable

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent / "static"
FLASH_KEY = "_flash"


def flash(connection: ASGIConnection[Any, Any, Any, Any], message: str, category: str = "info") -> None:
    """Queue a one-time message for the next page this session sees."""
    messages = list(connection.session.get(FLASH_KEY, []))
    messages.append({"message": message, "category": category})
    connection.set_session({**connection.session, FLASH_KEY: messages})


def _pop_flashes(context: Mapping[str, Any], /) -> list[dict[str, str]]:
    request = context.get("request")
    if request is None or "session" not in request.scope:
        return []
    session = request.scope.get("session")
    if not isinstance(session, dict) or FLASH_KEY not in session:
        return []
    messages = session.get(FLASH_KEY, [])
    request.set_session({k: v for k, v in session.items() if k != FLASH_KEY})
    return list(messages)


def _current_user(context: Mapping[str, Any], /) -> Any:
    request = context.get("request")
    return request.scope.get("user") if request is not None else None


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    """Templates from ``web/templates`` with Spyglass's globals registered."""

    def configure(engine: JinjaTemplateEngine) -> None:
        engine.engine.globals.update({"app_name": "Spyglass", "app_version": __version__})
        engine.register_template_callable("flashes", _pop_flashes)
        engine.register_template_callable("current_user", _current_user)
        engine.register_template_callable("asset_url", asset_url_callable(STATIC_DIR))

    return TemplateConfig(directory=TEMPLATES_DIR, engine=JinjaTemplateEngine, engine_callback=configure)
