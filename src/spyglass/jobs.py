"""Imports every feature's job kinds so the engine's registry knows them (like ``models.py`` for tables)."""

from spyglass.engine import probe

__all__ = ["probe"]
