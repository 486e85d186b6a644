"""Tables of the scanner feature."""

from __future__ import annotations
