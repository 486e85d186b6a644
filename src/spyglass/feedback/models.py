"""Tables of the feedback feature."""

from __future__ import annotations
