"""Imports every feature's job kinds so the engine's registry knows them (like ``models.py`` for tables)."""

from spyglass.audit import tasks as audit_tasks
from spyglass.engine import probe

__all__ = ["audit_tasks", "probe"]
