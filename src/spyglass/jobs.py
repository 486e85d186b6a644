"""Imports every feature's job kinds so the engine's registry knows them (like ``models.py`` for tables)."""

from spyglass.audit import tasks as audit_tasks
from spyglass.core import retention
from spyglass.engine import probe
from spyglass.feedback import tasks as feedback_tasks
from spyglass.market import tasks as market_tasks
from spyglass.notifications import tasks as notifications_tasks
from spyglass.scanner import tasks as scanner_tasks

__all__ = [
    "audit_tasks",
    "feedback_tasks",
    "market_tasks",
    "notifications_tasks",
    "probe",
    "retention",
    "scanner_tasks",
]
