"""The baseline of the API benchmark: a bare Litestar app answering a constant JSON document,
served by uvicorn with the same settings as ``spyglass serve`` (uvloop when installed, httptools, no access log)."""

from __future__ import annotations

import argparse
import logging

import uvicorn
from litestar import Litestar, get


@get("/", sync_to_thread=False)
def constant() -> dict[str, object]:
    """A document about the size of ``/api/v1/me``'s answer."""
    return {
        "id": 1,
        "username": "bench",
        "email": "bench@example.com",
        "role": "user",
        "email_verified": True,
        "settings": {"display_name": "", "timezone": "UTC", "page_size": 25, "email_notifications": True},
    }


app = Litestar(route_handlers=[constant], debug=False, logging_config=None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--loop", default="auto", choices=["auto", "asyncio", "uvloop"])
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    uvicorn.run(
        app, host=args.host, port=args.port, log_config=None, access_log=False, log_level="warning", loop=args.loop
    )


if __name__ == "__main__":
    main()
