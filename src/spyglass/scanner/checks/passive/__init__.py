"""Passive checks: they read what the crawl saw (and send at most a few harmless requests)."""

from __future__ import annotations

from spyglass.scanner.checks.base import Check
from spyglass.scanner.checks.passive import components, content, cookies, cors, disclosure, forms, headers, transport

CHECKS: list[Check] = [
    *headers.CHECKS,
    *cookies.CHECKS,
    *cors.CHECKS,
    *disclosure.CHECKS,
    *forms.CHECKS,
    *content.CHECKS,
    *components.CHECKS,
    *transport.CHECKS,
]
