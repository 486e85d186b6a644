"""Saved searches: validation, create/update/delete, start/stop, run now. Never commits.

Forms and the JSON API hand the same raw values to :func:`parse_search`, which answers every
problem at once as ``InvalidInput`` (field → message), so both show the same clear messages.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Integer, Select, and_, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from spyglass.config import Settings
from spyglass.core.errors import Conflict, InvalidInput
from spyglass.core.pagination import Page, PageRequest, paginate
from spyglass.core.tenancy import get_owned, owned_by
from spyglass.engine import service as engine
from spyglass.engine.models import Run, RunStatus, Schedule
from spyglass.market.adapters.base import AdapterError
from spyglass.market.adapters.options import validate_options
from spyglass.market.adapters.registry import UnknownAdapter, get_adapter
from spyglass.market.geo import UnknownPlace, resolve_place
from spyglass.market.matching import CONDITIONS
from spyglass.market.models import AlertMode, SavedSearch
from spyglass.market.query import QueryError, parse_query
from spyglass.market.quotas import UserQuotas, quotas_for

SEARCH_KIND = "market.search"
NAME_MAX = 120
KEYWORDS_MAX = 500
EXCLUDED_MAX_WORDS = 30
EXCLUDED_WORD_MAX = 60
MAX_MARKETPLACES = 10
PRICE_MAX = Decimal("9999999999.99")
RADIUS_MAX_KM = 1000.0
INTERVAL_MAX_SECONDS = 7 * 24 * 3600
OPTIONS_MAX_BYTES = 20_000


@dataclass(frozen=True)
class SearchSpec:
    """A validated saved search, ready to store."""

    name: str
    marketplaces: list[str]
    keywords: str
    excluded_words: list[str] = field(default_factory=list)
    price_min: Decimal | None = None
    price_max: Decimal | None = None
    condition: str | None = None
    location_label: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    radius_km: float | None = None
    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    use_browser: bool = False
    interval_seconds: int = 1800
    enabled: bool = True
    alert_mode: str = AlertMode.INSTANT.value


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _has_control_characters(text: str) -> bool:
    return any(ord(ch) < 32 and ch not in "\t\n\r" for ch in text)


def _price(value: Any, name: str, errors: dict[str, str]) -> Decimal | None:
    if _blank(value):
        return None
    if isinstance(value, bool):
        errors[name] = "Enter a number, e.g. 250 or 99.50."
        return None
    try:
        price = Decimal(str(value).strip().replace(",", "").lstrip("$"))
    except InvalidOperation:
        errors[name] = "Enter a number, e.g. 250 or 99.50."
        return None
    if not price.is_finite() or price < 0:
        errors[name] = "Enter a price of 0 or more."
        return None
    if price > PRICE_MAX:
        errors[name] = "That price is too large."
        return None
    return price.quantize(Decimal("0.01"))


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return _text(value).lower() in {"1", "true", "on", "yes"}


def _words(value: Any, errors: dict[str, str]) -> list[str]:
    if _blank(value):
        return []
    raw = value if isinstance(value, list) else str(value).replace("\n", ",").split(",")
    words: list[str] = []
    for item in raw:
        word = _text(item)
        if not word:
            continue
        if len(word) > EXCLUDED_WORD_MAX or _has_control_characters(word):
            errors["excluded_words"] = f"Each excluded word must be at most {EXCLUDED_WORD_MAX} plain characters."
            return []
        if word.lower() not in (w.lower() for w in words):
            words.append(word)
    if len(words) > EXCLUDED_MAX_WORDS:
        errors["excluded_words"] = f"At most {EXCLUDED_MAX_WORDS} excluded words."
        return []
    return words


def _marketplaces(value: Any, errors: dict[str, str]) -> tuple[list[str], int]:
    """The chosen marketplaces and the shortest interval their sites allow."""
    names = value if isinstance(value, list) else ([] if _blank(value) else str(value).split(","))
    chosen: list[str] = []
    for item in names:
        name = _text(item).lower()
        if name and name not in chosen:
            chosen.append(name)
    if not chosen:
        errors["marketplaces"] = "Choose at least one marketplace."
        return [], 0
    if len(chosen) > MAX_MARKETPLACES:
        errors["marketplaces"] = f"Choose at most {MAX_MARKETPLACES} marketplaces."
        return [], 0
    slowest = 0
    for name in chosen:
        try:
            adapter = get_adapter(name)
        except UnknownAdapter as exc:
            errors["marketplaces"] = str(exc)
            return [], 0
        slowest = max(slowest, adapter.politeness.min_interval_seconds)
    return chosen, slowest


def _options(
    value: Any, marketplaces: list[str], endpoints: Mapping[str, str], errors: dict[str, str]
) -> dict[str, dict[str, Any]]:
    """Each marketplace's options checked by ``adapters.validate_options`` (recipes by ``validate_recipe``)."""
    if _blank(value):
        value = {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            errors["options"] = 'Options must be a JSON object, e.g. {"jsonld": {"url": "https://shop.example/"}}.'
            return {}
    if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
        errors["options"] = "Options must map a marketplace name to an object of its options."
        return {}
    if len(json.dumps(value)) > OPTIONS_MAX_BYTES:
        errors["options"] = f"Options are limited to {OPTIONS_MAX_BYTES:,} characters."
        return {}
    unknown = sorted(set(value) - set(marketplaces))
    if unknown:
        errors["options"] = f"Options given for marketplaces the search does not use: {', '.join(unknown)}."
        return {}
    cleaned: dict[str, dict[str, Any]] = {}
    for name in marketplaces:  # also those without options: a feed or a shop page needs its address
        try:
            checked = validate_options(name, value.get(name) or {}, has_endpoint=name in endpoints)
        except AdapterError as exc:
            errors["options"] = _sentence(exc.message)
            return {}
        url = checked.get("url")
        if url is not None and not urlsplit(url).netloc:
            errors["options"] = f"The {name} URL must be a full http:// or https:// address."
            return {}
        if checked:
            cleaned[name] = checked
    return cleaned


def _sentence(message: str) -> str:
    """An adapter's message ("the page address must be ...") as a sentence for a form."""
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")


def _interval_message(minimum: int) -> str:
    return f"The shortest interval allowed for these marketplaces is {minimum} seconds ({minimum / 60:g} minutes)."


def _interval(value: Any, minimum: int, settings: Settings, errors: dict[str, str]) -> int:
    if _blank(value):
        return max(settings.market_default_interval_seconds, settings.market_min_interval_seconds, minimum)
    try:
        seconds = int(str(value).strip())
    except ValueError:
        errors["interval_seconds"] = "Enter the interval as a whole number of seconds."
        return 0
    if seconds < minimum:
        errors["interval_seconds"] = _interval_message(minimum)
    elif seconds > INTERVAL_MAX_SECONDS:
        errors["interval_seconds"] = "Run at least once a week (604800 seconds)."
    return seconds


def _location(raw: Mapping[str, Any], spec: dict[str, Any], errors: dict[str, str]) -> None:
    label = _text(raw.get("location"))
    radius_raw = raw.get("radius_km")
    radius: float | None = None
    if not _blank(radius_raw):
        try:
            radius = float(str(radius_raw).strip())
        except ValueError:
            errors["radius_km"] = "Enter the radius in kilometres, e.g. 25."
        else:
            if not 0 < radius <= RADIUS_MAX_KM:
                errors["radius_km"] = f"The radius must be between 1 and {RADIUS_MAX_KM:.0f} km."
                radius = None
    if not label:
        if radius is not None:
            errors["location"] = "Give a city or ZIP code for the radius to be measured from."
        return
    # Digits other than 0-9 (e.g. Arabic-Indic) make the zipcodes package panic; no place needs them.
    if (
        len(label) > NAME_MAX
        or _has_control_characters(label)
        or any(ch.isdigit() and ch not in "0123456789" for ch in label)
    ):
        errors["location"] = "Enter a city name or a ZIP code."
        return
    try:
        place = resolve_place(label)
    except UnknownPlace as exc:
        errors["location"] = str(exc) or f"Spyglass does not know the place {label!r}; try a city or ZIP code."
        return
    spec.update(location_label=label, latitude=place.latitude, longitude=place.longitude, radius_km=radius)


def parse_search(raw: Mapping[str, Any], *, settings: Settings) -> SearchSpec:
    """Validate a search from a form or the API; ``InvalidInput`` lists every problem by field."""
    errors: dict[str, str] = {}
    spec: dict[str, Any] = {}

    name = _text(raw.get("name"))
    if not name:
        errors["name"] = "Give the search a name."
    elif len(name) > NAME_MAX or _has_control_characters(name):
        errors["name"] = f"The name must be at most {NAME_MAX} plain characters."
    spec["name"] = name

    marketplaces, slowest = _marketplaces(raw.get("marketplaces"), errors)
    spec["marketplaces"] = marketplaces

    keywords = _text(raw.get("keywords"))
    if not keywords:
        errors["keywords"] = "Enter at least one keyword."
    elif len(keywords) > KEYWORDS_MAX or _has_control_characters(keywords):
        errors["keywords"] = f"Keywords must be at most {KEYWORDS_MAX} plain characters."
    else:
        try:
            if not parse_query(keywords).terms():
                errors["keywords"] = "Enter at least one keyword to look for (not only excluded ones)."
        except QueryError as exc:
            errors["keywords"] = str(exc)
    spec["keywords"] = keywords
    spec["excluded_words"] = _words(raw.get("excluded_words"), errors)

    spec["price_min"] = _price(raw.get("price_min"), "price_min", errors)
    spec["price_max"] = _price(raw.get("price_max"), "price_max", errors)
    if spec["price_min"] is not None and spec["price_max"] is not None and spec["price_min"] > spec["price_max"]:
        errors["price_max"] = "The maximum price is below the minimum price."

    condition = _text(raw.get("condition")).lower() or None
    if condition is not None and condition not in CONDITIONS:
        errors["condition"] = f"Choose a condition among: {', '.join(CONDITIONS)} (or leave it empty)."
    spec["condition"] = condition

    _location(raw, spec, errors)
    if marketplaces:
        spec["options"] = _options(raw.get("options"), marketplaces, settings.market_endpoints, errors)
    else:
        spec["options"] = {}
    spec["use_browser"] = _bool(raw.get("use_browser"))
    # The market minimum is the user's (an admin may lower or raise it): create/update_search check it.
    minimum = max(settings.engine_min_interval_seconds, slowest)
    spec["interval_seconds"] = _interval(raw.get("interval_seconds"), minimum, settings, errors)
    spec["enabled"] = True if raw.get("enabled") is None else _bool(raw.get("enabled"))

    alert_mode = _text(raw.get("alert_mode")).lower() or AlertMode.INSTANT.value
    if alert_mode not in {mode.value for mode in AlertMode}:
        errors["alert_mode"] = "New-listing alerts are instant, digest or off."
    spec["alert_mode"] = alert_mode

    if errors:
        raise InvalidInput(detail=errors)
    return SearchSpec(**spec)


async def validate_search(raw: Mapping[str, Any], *, settings: Settings) -> SearchSpec:
    """:func:`parse_search` in a worker thread, for request handlers.

    Resolving a place builds the offline city index on first use (about 1.5 s of CPU) and looks names
    up in it; doing that on the event loop would stall every other request meanwhile.
    """
    return await asyncio.to_thread(parse_search, raw, settings=settings)


def search_form_values(search: SavedSearch | None) -> dict[str, Any]:
    """The editor's field values for ``search`` (or the defaults of a new search)."""
    if search is None:
        return {"alert_mode": AlertMode.INSTANT.value, "enabled": True, "marketplaces": []}
    return {
        "name": search.name,
        "marketplaces": list(search.marketplaces),
        "keywords": search.keywords,
        "excluded_words": ", ".join(search.excluded_words),
        "price_min": search.price_min,
        "price_max": search.price_max,
        "condition": search.condition or "",
        "location": search.location_label or "",
        "radius_km": search.radius_km if search.radius_km is not None else "",
        "options": json.dumps(search.options) if search.options else "",
        "use_browser": search.use_browser,
        "interval_seconds": search.interval_seconds,
        "enabled": search.enabled,
        "alert_mode": search.alert_mode,
    }


async def _save_schedule(db: AsyncSession, search: SavedSearch, settings: Settings) -> None:
    await engine.save_schedule(
        db,
        kind=SEARCH_KIND,
        user_id=search.user_id,
        subject_id=search.id,
        interval_seconds=search.interval_seconds,
        enabled=search.enabled,
        quota=settings.engine_max_schedules_per_user,
    )


def minimum_interval(marketplaces: list[str], settings: Settings, market_minimum: int) -> int:
    """The shortest interval a search on ``marketplaces`` may use for a user whose market minimum is given:
    the largest of that, the engine's minimum and each marketplace's politeness."""
    slowest = 0
    for name in marketplaces:
        try:
            slowest = max(slowest, get_adapter(name).politeness.min_interval_seconds)
        except UnknownAdapter:
            continue
    return max(market_minimum, settings.engine_min_interval_seconds, slowest)


async def _check_interval(db: AsyncSession, *, user_id: int, spec: SearchSpec, settings: Settings) -> UserQuotas:
    """The user's quotas; ``InvalidInput`` when the search runs more often than they allow."""
    quotas = await quotas_for(db, user_id=user_id, settings=settings)
    minimum = minimum_interval(spec.marketplaces, settings, quotas.min_interval_seconds)
    if spec.interval_seconds < minimum:
        raise InvalidInput(detail={"interval_seconds": _interval_message(minimum)})
    return quotas


async def create_search(db: AsyncSession, *, user_id: int, spec: SearchSpec, settings: Settings) -> SavedSearch:
    """Store a new search and schedule it (its first run starts at once when enabled).

    The user's quotas (``quotas.quotas_for``: an admin's override, else the settings) apply: at most
    ``max_searches`` searches (Conflict beyond), no interval below ``min_interval_seconds``.
    """
    quotas = await _check_interval(db, user_id=user_id, spec=spec, settings=settings)
    count = await db.scalar(select(func.count()).select_from(SavedSearch).where(SavedSearch.user_id == user_id))
    quota = quotas.max_searches
    if (count or 0) >= quota:
        raise Conflict(
            f"You already have {count} saved searches, the most your account allows ({quota}). "
            "Delete one first, or ask an admin for a higher quota."
        )
    search = SavedSearch(user_id=user_id, **asdict(spec))
    db.add(search)
    await db.flush()
    await _save_schedule(db, search, settings)
    return search


async def update_search(
    db: AsyncSession, *, user_id: int, search_id: int, spec: SearchSpec, settings: Settings
) -> SavedSearch:
    """Replace a search's settings; its listings and matches stay. The user's minimum interval applies."""
    search = await get_search(db, user_id=user_id, search_id=search_id)
    await _check_interval(db, user_id=user_id, spec=spec, settings=settings)
    for key, value in asdict(spec).items():
        setattr(search, key, value)
    await db.flush()
    await _save_schedule(db, search, settings)
    return search


async def get_search(db: AsyncSession, *, user_id: int, search_id: int) -> SavedSearch:
    """One of the user's searches, or NotFound."""
    return await get_owned(db, SavedSearch, search_id, user_id, what="search")


async def list_searches(db: AsyncSession, *, user_id: int, page: PageRequest) -> Page[SavedSearch]:
    """The user's searches, newest first."""
    statement = owned_by(select(SavedSearch), SavedSearch, user_id).order_by(
        SavedSearch.created_at.desc(), SavedSearch.id.desc()
    )
    return await paginate(db, statement, page)


@functools.cache
def _searches_with_next_runs() -> Select[SavedSearch, datetime, int]:
    """The page statement of ``list_searches_with_next_runs``, built once (bound parameters for the values)."""
    schedule_of = and_(Schedule.kind == SEARCH_KIND, Schedule.subject_id == SavedSearch.id, Schedule.enabled.is_(True))
    return (
        select(SavedSearch, Schedule.next_run_at, func.count().over().label("total"))
        .outerjoin(Schedule, schedule_of)
        .where(SavedSearch.user_id == bindparam("user_id"))
        .order_by(SavedSearch.created_at.desc(), SavedSearch.id.desc())
        .limit(bindparam("limit", type_=Integer()))
        .offset(bindparam("offset", type_=Integer()))
    )


async def list_searches_with_next_runs(
    db: AsyncSession, *, user_id: int, page: PageRequest
) -> tuple[Page[SavedSearch], dict[int, Any]]:
    """``list_searches`` and ``next_runs`` of its page in one statement (the total comes with the rows)."""
    params = {"user_id": user_id, "limit": page.size, "offset": page.offset}
    rows = (await db.execute(_searches_with_next_runs(), params)).all()
    total = rows[0].total if rows else 0
    if not rows and page.offset:  # past the last page: no row carries the total
        total = await db.scalar(select(func.count()).where(SavedSearch.user_id == user_id)) or 0
    found = Page(items=[row[0] for row in rows], page=page.page, size=page.size, total=int(total))
    return found, {row[0].id: row.next_run_at for row in rows if row.next_run_at is not None}


async def delete_search(db: AsyncSession, *, user_id: int, search_id: int) -> SavedSearch:
    """Delete a search, its schedule and its matches (listings other searches matched stay)."""
    search = await get_search(db, user_id=user_id, search_id=search_id)
    await engine.delete_schedule(db, kind=SEARCH_KIND, subject_id=search.id)
    await db.delete(search)
    await db.flush()
    return search


async def set_enabled(
    db: AsyncSession, *, user_id: int, search_id: int, enabled: bool, settings: Settings
) -> SavedSearch:
    """Start (``enabled``) or stop a search's schedule."""
    search = await get_search(db, user_id=user_id, search_id=search_id)
    search.enabled = enabled
    await _save_schedule(db, search, settings)
    return search


async def set_all_enabled(db: AsyncSession, *, user_id: int, enabled: bool, settings: Settings) -> int:
    """Start or stop every search of the user; answers how many changed."""
    searches = (await db.scalars(owned_by(select(SavedSearch), SavedSearch, user_id))).all()
    changed = 0
    for search in searches:
        if search.enabled != enabled:
            search.enabled = enabled
            changed += 1
        await _save_schedule(db, search, settings)
    return changed


async def run_now(db: AsyncSession, *, user_id: int, search_id: int) -> Run:
    """Queue a run of the search now; refused while one is already queued or running."""
    search = await get_search(db, user_id=user_id, search_id=search_id)
    busy = await db.scalar(
        select(Run.id).where(
            Run.kind == SEARCH_KIND,
            Run.subject_id == search.id,
            Run.status.in_([RunStatus.QUEUED.value, RunStatus.RUNNING.value]),
        )
    )
    if busy is not None:
        raise Conflict(f"The search “{search.name}” is already queued or running (run {busy}).")
    return await engine.enqueue_run(db, kind=SEARCH_KIND, user_id=user_id, subject_id=search.id)


async def next_runs(db: AsyncSession, *, search_ids: list[int]) -> dict[int, Any]:
    """When each search runs next (its schedule's ``next_run_at``; absent when stopped)."""
    if not search_ids:
        return {}
    rows = await db.execute(
        select(Schedule.subject_id, Schedule.next_run_at).where(
            Schedule.kind == SEARCH_KIND, Schedule.subject_id.in_(search_ids), Schedule.enabled.is_(True)
        )
    )
    return {subject_id: moment for subject_id, moment in rows.all()}


async def active_runs(db: AsyncSession, *, search_ids: list[int]) -> dict[int, Run]:
    """The queued or running run of each search, if any."""
    if not search_ids:
        return {}
    runs = await db.scalars(
        select(Run).where(
            Run.kind == SEARCH_KIND,
            Run.subject_id.in_(search_ids),
            Run.status.in_([RunStatus.QUEUED.value, RunStatus.RUNNING.value]),
        )
    )
    return {run.subject_id: run for run in runs if run.subject_id is not None}
