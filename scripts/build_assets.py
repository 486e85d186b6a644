#!/usr/bin/env python3
"""Copy the npm-managed front-end libraries into the package's static folder.

Run after ``npm ci``; ``make run`` and ``make test`` do both. The list below is
the only place that names a vendored file.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENDOR = ROOT / "src" / "spyglass" / "web" / "static" / "vendor"
ASSETS = {
    "htmx.min.js": "node_modules/htmx.org/dist/htmx.min.js",
    "swagger-ui-bundle.js": "node_modules/swagger-ui-dist/swagger-ui-bundle.js",
    "swagger-ui.css": "node_modules/swagger-ui-dist/swagger-ui.css",
    "chart.umd.min.js": "node_modules/chart.js/dist/chart.umd.min.js",
}


def main(argv: list[str] | None = None) -> int:
    """Copy every asset; ``--dest FOLDER`` copies them somewhere else (the tests use it)."""
    args = sys.argv[1:] if argv is None else argv
    dest = Path(args[args.index("--dest") + 1]).resolve() if "--dest" in args else VENDOR
    dest.mkdir(parents=True, exist_ok=True)
    missing = [source for source in ASSETS.values() if not (ROOT / source).exists()]
    if missing:
        print(f"missing {', '.join(missing)}: run `npm ci` first", file=sys.stderr)
        return 1
    for target, source in ASSETS.items():
        # copy next to the target, then rename: a server reading the file never sees half of it
        partial = dest / f".{target}.partial"
        shutil.copyfile(ROOT / source, partial)
        partial.replace(dest / target)
    print(f"copied {len(ASSETS)} assets into {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
