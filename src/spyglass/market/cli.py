"""Command-line commands of the market feature, added to ``spyglass`` by :func:`register`."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this feature's commands to the main CLI app."""
