"""Marketplace adapters: one Protocol (``base.Adapter``) and one registry (``registry``)."""

from __future__ import annotations


def load_all() -> None:
    """Import every adapter module so each registers itself (add new modules here)."""
