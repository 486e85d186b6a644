"""Job kinds of the feedback feature (admin alerts), registered with the engine at import time."""

from __future__ import annotations
