"""Serve a test app on 127.0.0.1 for benchmarks and manual runs (e.g. a Wapiti comparison).

    python -m tests.scanner.apps vulnerable --port 8081
    python -m tests.scanner.apps clean --port 8443 --certs /tmp/spyglass-certs   # HTTPS with a test CA

The clean app's CA certificate is written to ``<certs>/ca.pem`` for the scanner to trust.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from tests.scanner.apps.certs import make_certificates, server_context
from tests.scanner.apps.clean import CleanApp
from tests.scanner.apps.server import AppServer
from tests.scanner.apps.vulnerable import VulnerableApp


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("app", choices=["vulnerable", "clean"])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--certs", type=Path, default=None, help="folder for the clean app's test certificates")
    args = parser.parse_args()
    folder = args.certs or Path(tempfile.mkdtemp(prefix="spyglass-apps-"))
    folder.mkdir(parents=True, exist_ok=True)
    app: AppServer
    if args.app == "vulnerable":
        app = VulnerableApp(folder)
    else:
        app = CleanApp(tls=server_context(make_certificates(folder).valid))
    app.port = args.port
    with app:
        print(f"{args.app} app on {app.url('/')} (files in {folder}); Ctrl-C stops it", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
