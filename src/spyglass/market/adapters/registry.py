"""The adapter registry: every marketplace adapter, by name."""

from __future__ import annotations

from spyglass.market.adapters.base import Adapter

_ADAPTERS: dict[str, Adapter] = {}


class UnknownAdapter(LookupError):
    """No adapter has that name; the message lists the known ones."""


def register_adapter(adapter: Adapter) -> Adapter:
    """Add ``adapter`` under ``adapter.name`` (re-registering a name replaces it)."""
    _ADAPTERS[adapter.name] = adapter
    return adapter


def get_adapter(name: str) -> Adapter:
    """The adapter called ``name``, or ``UnknownAdapter`` with the names that exist."""
    _load()
    try:
        return _ADAPTERS[name]
    except KeyError:
        known = ", ".join(sorted(_ADAPTERS)) or "none"
        raise UnknownAdapter(f"unknown marketplace {name!r}; known: {known}") from None


def all_adapters() -> list[Adapter]:
    """Every registered adapter, sorted by name."""
    _load()
    return [_ADAPTERS[name] for name in sorted(_ADAPTERS)]


def _load() -> None:
    # Adapter modules register themselves on import; the adapters package lists them in ``load_all``.
    from spyglass.market.adapters import load_all

    load_all()
