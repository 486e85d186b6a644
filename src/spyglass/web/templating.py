"""Jinja2 set-up: template folder, globals available in every page (``asset_url`` for fingerprinted static
files, see core/assets.py), flash messages."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from litestar.connection import ASGIConnection
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.template.config import TemplateConfig
from markupsafe import Markup, escape

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


def format_money(amount: Decimal | float | None, currency: str | None) -> Markup:
    """A price as the pages show it: "$1,234.50" in dollars, "1,234.50 EUR" in another currency, a muted
    "no price" without one. Python rather than a Jinja macro: tables call it on every row."""
    if amount is None:
        return Markup('<span class="muted">no price</span>')
    if not currency or currency == "USD":
        return escape(f"${amount:,.2f}")
    return escape(f"{amount:,.2f} {currency}")


def format_when(moment: datetime | None, empty: str = "never") -> Markup:
    """A UTC moment as a ``<time>`` element ("2026-12-02 14:05 UTC"), or ``empty`` (muted) without one."""
    if not moment:
        return Markup('<span class="muted">%s</span>') % empty
    # A formatted date holds digits, dashes, colons, points, "T" and "+": nothing to escape (Markup's own
    # escaping formatter would double the cost of a table row's dates).
    return Markup(f'<time datetime="{moment.isoformat()}">{moment:%Y-%m-%d %H:%M} UTC</time>')  # noqa: S704


def _current_user(context: Mapping[str, Any], /) -> Any:
    request = context.get("request")
    return request.scope.get("user") if request is not None else None


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    """Templates from ``web/templates`` with Spyglass's globals registered."""

    def configure(engine: JinjaTemplateEngine) -> None:
        engine.engine.globals.update(
            {
                "app_name": "Spyglass",
                "app_version": __version__,
                "format_money": format_money,
                "format_when": format_when,
            }
        )
        engine.register_template_callable("flashes", _pop_flashes)
        engine.register_template_callable("current_user", _current_user)
        engine.register_template_callable("asset_url", asset_url_callable(STATIC_DIR))

    return TemplateConfig(directory=TEMPLATES_DIR, engine=JinjaTemplateEngine, engine_callback=configure)
