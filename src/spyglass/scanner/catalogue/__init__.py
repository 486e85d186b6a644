"""The finding catalogue: every finding type Spyglass reports, with CWE, OWASP category, severity,
description, remediation and references. Passive and active entries live in their own modules."""

from __future__ import annotations

from spyglass.scanner.contract import FindingType

_CATALOGUE: dict[str, FindingType] = {}


def register(*entries: FindingType) -> None:
    """Add entries to the catalogue (ids are unique)."""
    for entry in entries:
        if entry.id in _CATALOGUE and _CATALOGUE[entry.id] != entry:
            raise ValueError(f"finding type {entry.id!r} is already registered")
        _CATALOGUE[entry.id] = entry


def get_finding_type(type_id: str) -> FindingType:
    """The catalogue entry of ``type_id`` (KeyError when unknown)."""
    _load()
    return _CATALOGUE[type_id]


def all_finding_types() -> list[FindingType]:
    """Every entry, sorted by id."""
    _load()
    return sorted(_CATALOGUE.values(), key=lambda entry: entry.id)


def _load() -> None:
    from spyglass.scanner.catalogue import active, passive  # noqa: F401 - registers the entries
