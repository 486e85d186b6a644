"""Job kinds of the scanner feature, registered with the engine at import time."""

from __future__ import annotations
