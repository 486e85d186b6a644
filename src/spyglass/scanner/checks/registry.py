"""The registry of check plugins: each module of ``checks.passive`` and ``checks.active`` lists its ``CHECKS``.

Adding a check is adding it to its module's ``CHECKS`` list (or adding a module); nothing here changes.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

from spyglass.scanner.checks.base import Check
from spyglass.scanner.contract import ScanPlan

CHECK_PACKAGES = ("spyglass.scanner.checks.passive", "spyglass.scanner.checks.active")


def _import_package(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name == name:  # the package is not written yet; a missing import inside it is a real error
            return None
        raise


def all_checks() -> list[Check]:
    """Every registered check, passive first, in module order; ids are unique."""
    checks: list[Check] = []
    for package_name in CHECK_PACKAGES:
        package = _import_package(package_name)
        if package is None:
            continue
        checks.extend(getattr(package, "CHECKS", []))
        for module_info in sorted(pkgutil.iter_modules(package.__path__), key=lambda info: info.name):
            if module_info.name.startswith("_"):
                continue
            module = importlib.import_module(f"{package_name}.{module_info.name}")
            checks.extend(getattr(module, "CHECKS", []))
    unique: dict[str, Check] = {}
    for check in checks:
        if check.id in unique and unique[check.id] is not check:
            raise ValueError(f"two checks have the id {check.id!r}")
        unique[check.id] = check
    return list(unique.values())


def families() -> list[str]:
    """The names of every check family, sorted (what the custom profile chooses from)."""
    return sorted({check.family for check in all_checks()})


def select_checks(plan: ScanPlan, checks: list[Check] | None = None) -> list[Check]:
    """The checks a plan runs.

    passive: the passive checks; active: every check; custom: the checks of ``plan.families``. Any
    profile with ``families`` keeps only those families (empty: all the profile allows). Active checks
    run only when ``plan.active_allowed``: never on a target whose ownership is not proven, whatever
    the profile says.
    """
    chosen = all_checks() if checks is None else list(checks)
    if plan.profile == "passive":
        chosen = [check for check in chosen if not check.active]
    if plan.families:
        chosen = [check for check in chosen if check.family in plan.families]
    return [check for check in chosen if not check.active or plan.active_allowed]
