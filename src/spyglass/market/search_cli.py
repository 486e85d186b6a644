"""``spyglass market search``: a one-off search from the terminal (added to the ``market`` command group)."""

from __future__ import annotations

import typer


def add_search_command(market_app: typer.Typer) -> None:
    """Add the ``search`` command to the ``spyglass market`` group."""
