"""Active finding types of the catalogue."""

from __future__ import annotations
