"""Job kinds of the notifications feature, registered with the engine at import time."""

from __future__ import annotations
