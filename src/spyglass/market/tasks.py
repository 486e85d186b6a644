"""Job kinds of the market feature, registered with the engine at import time."""

from __future__ import annotations
