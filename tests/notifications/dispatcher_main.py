"""A dispatcher in its own process (settings from SPYGLASS_* variables), for the crash test to SIGKILL."""

from __future__ import annotations

import asyncio
import sys

from spyglass.config import Settings
from spyglass.core.services import Services
from spyglass.notifications.dispatcher import OutboxDispatcher


async def main(linger_seconds: float) -> None:
    services = Services.build(Settings())
    try:
        await OutboxDispatcher(services).run(linger_seconds=linger_seconds)
    finally:
        await services.close()


if __name__ == "__main__":
    asyncio.run(main(float(sys.argv[1]) if len(sys.argv) > 1 else 60.0))
