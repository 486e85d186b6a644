"""Tables of the market feature."""

from __future__ import annotations
