"""What the documentation generators (``gen_config_docs.py``, ``gen_scanner_docs.py``) share: write the page, or
with ``--check`` fail when the committed page differs from what the code says."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path


def write_or_check(doc: Path, render: Callable[[], str], description: str, script: str) -> int:
    """Parse ``--check``; write ``render()`` to ``doc``, or compare it with ``doc`` (exit status 1 when stale)."""
    root = Path(script).resolve().parents[1]
    page = doc.relative_to(root)
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--check", action="store_true", help=f"fail when {page} is out of date")
    args = parser.parse_args()
    text = render()
    if args.check:
        if not doc.exists() or doc.read_text() != text:
            print(f"{page} is out of date: run scripts/{Path(script).name}", file=sys.stderr)
            return 1
        return 0
    doc.write_text(text)
    print(f"wrote {page}")
    return 0
