"""docs/scanner.md lists the check families and the finding catalogue as the code has them."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

from spyglass.scanner.catalogue import all_finding_types
from spyglass.scanner.checks.registry import all_checks

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "gen_scanner_docs.py"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_scanner_docs", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_scanner_doc_is_generated_from_the_current_catalogue() -> None:
    """Run ``scripts/gen_scanner_docs.py`` after adding a check or a finding type."""
    result = subprocess.run([sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_check_and_finding_type_is_in_the_tables() -> None:
    families_part, _, catalogue_part = _script().render_tables().partition("### Finding catalogue")
    rows = [line for line in catalogue_part.splitlines() if line.startswith("| `")]
    family_rows = [line for line in families_part.splitlines() if line.startswith("| `")]
    for entry in all_finding_types():
        row = next((line for line in rows if line.startswith(f"| `{entry.id}` | ")), None)
        assert row is not None, f"{entry.id} missing from the catalogue table"
        assert f"| {entry.severity} |" in row and (f"CWE-{entry.cwe}" in row if entry.cwe else True)
    for check in all_checks():
        family_row = next(line for line in family_rows if line.startswith(f"| `{check.family}` | "))
        assert f"`{check.id}`" in family_row
        if check.active:
            assert family_row.startswith(f"| `{check.family}` | active |")


def test_a_stale_doc_is_rewritten_between_the_markers() -> None:
    script = _script()
    stale = f"# Doc\n\nbefore\n\n{script.BEGIN}\n| `old-type` | gone |\n{script.END}\n\nafter\n"
    text = script.render(stale)
    assert "old-type" not in text and text.startswith("# Doc\n\nbefore\n\n") and text.endswith("\n\nafter\n")
    assert script.render(text) == text
