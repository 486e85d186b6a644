"""Where the real captured pages are: ``../shared/fixtures`` beside this checkout (data kept outside the
repository by rule). ``SPYGLASS_SHARED_FIXTURES`` names another folder; ``/work/shared/fixtures`` is the
workplace's copy when the checkout lives elsewhere. Tests that need them skip, saying why, when none is there."""

from __future__ import annotations

import os
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]


def _find() -> Path:
    candidates = [Path(value)] if (value := os.environ.get("SPYGLASS_SHARED_FIXTURES")) else []
    candidates += [REPOSITORY.parent / "shared" / "fixtures", Path("/work/shared/fixtures")]
    return next((path for path in candidates if path.is_dir()), candidates[0])


SHARED_FIXTURES = _find()
MARKETPLACES = SHARED_FIXTURES / "marketplaces"
HAVE_MARKETPLACES = MARKETPLACES.is_dir()
MISSING_REASON = f"the captured pages are not here ({MARKETPLACES}); set SPYGLASS_SHARED_FIXTURES"
