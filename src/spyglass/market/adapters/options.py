"""The adapter-specific options a saved search may carry (``SearchQuery.options``), checked before saving.

``validate_options("craigslist", {"site": "boston"})`` returns the cleaned options or raises
``AdapterError`` with a message naming the option, for the search editor and the API to show.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from spyglass.market.adapters.base import AdapterError
from spyglass.market.adapters.recipe import validate_recipe

_SLUG = re.compile(r"[a-z0-9][a-z0-9-]{1,39}")
MAX_URL_LENGTH = 2000


def _url(label: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if not isinstance(value, str) or not value.strip().lower().startswith(("http://", "https://")):
            raise AdapterError(f"{label} must be an http:// or https:// address")
        if len(value) > MAX_URL_LENGTH or any(ord(ch) < 33 for ch in value.strip()):
            raise AdapterError(f"{label} is not a valid address")
        return value.strip()

    return check


def _slug(label: str, example: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if not isinstance(value, str) or not _SLUG.fullmatch(value.strip().lower()):
            raise AdapterError(f"{label} must be a name like {example!r} (letters, digits and dashes)")
        return value.strip().lower()

    return check


def _choice(label: str, *choices: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if value not in choices:
            raise AdapterError(f"{label} must be one of {', '.join(choices)}")
        return str(value)

    return check


def _area_id(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit() or int(value) < 1:
        raise AdapterError("the Craigslist area id must be a positive whole number")
    return int(value)


def _recipe(value: Any) -> dict[str, str]:
    return validate_recipe(value).as_dict()


#: adapter name -> option name -> checker
OPTIONS: dict[str, dict[str, Callable[[Any], Any]]] = {
    "jsonld": {"url": _url("the page address")},
    "rss": {"url": _url("the feed address")},
    "recipe": {"url": _url("the page address"), "recipe": _recipe},
    "craigslist": {
        "site": _slug("the Craigslist site", "boston"),
        "mode": _choice("the Craigslist mode", "page", "sapi"),
        "area_id": _area_id,
        "areas_url": _url("the area list address"),
        "sapi_url": _url("the sapi address"),
    },
    "ebay": {"mode": _choice("the eBay mode", "api", "html")},
    "facebook": {"city": _slug("the Facebook Marketplace city", "boston")},
    "ksl": {},
    "mercari": {},
    "poshmark": {},
    "offerup": {},
}
REQUIRED: dict[str, tuple[str, ...]] = {"jsonld": ("url",), "rss": ("url",), "recipe": ("url", "recipe")}


def validate_options(adapter_name: str, options: Any, *, has_endpoint: bool = False) -> dict[str, Any]:
    """``options`` checked for ``adapter_name``: unknown or malformed options and missing required ones refused.

    ``has_endpoint``: the settings give this adapter a base URL (simulator, self-hosted shop), which stands
    in for a missing ``url`` option.
    """
    known = OPTIONS.get(adapter_name)
    if known is None:
        raise AdapterError(f"unknown marketplace {adapter_name!r}")
    if options is None:
        options = {}
    if not isinstance(options, dict):
        raise AdapterError("marketplace options must be a set of names and values")
    unknown = sorted(str(name) for name in options if name not in known)
    if unknown:
        allowed = ", ".join(sorted(known)) or "none"
        raise AdapterError(f"unknown option(s) {', '.join(unknown)} for {adapter_name}; its options: {allowed}")
    cleaned = {name: known[name](value) for name, value in options.items() if value not in (None, "")}
    required = [name for name in REQUIRED.get(adapter_name, ()) if not (has_endpoint and name == "url")]
    missing = [name for name in required if name not in cleaned]
    if missing:
        raise AdapterError(f"{adapter_name} needs the option(s) {', '.join(missing)}")
    return cleaned
