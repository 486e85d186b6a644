"""Places (ZIP codes, cities, coordinates) and distances, from the offline gazetteers."""

from __future__ import annotations

import asyncio
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spyglass.config import Settings
from spyglass.market.adapters.base import GeoPoint
from spyglass.market.geo import (
    EARTH_RADIUS_KM,
    UnknownPlace,
    _build_gazetteer,
    distance_km,
    resolve_place,
    within_radius,
)
from spyglass.market.service import SearchSpec, validate_search


@pytest.mark.parametrize(
    ("text", "label", "latitude", "longitude"),
    [
        ("Boston", "Boston, MA", 42.35843, -71.05977),  # beats Boston, England (more populous)
        ("boston, ma", "Boston, MA", 42.35843, -71.05977),
        ("Boston, UK", "Boston, United Kingdom", 52.97633, -0.02664),
        ("Boston, GB", "Boston, United Kingdom", 52.97633, -0.02664),
        ("Paris", "Paris, France", 48.85341, 2.3488),
        ("Paris, France", "Paris, France", 48.85341, 2.3488),
        ("Paris, TX", "Paris, TX", 33.66094, -95.55551),
        ("paris, Texas", "Paris, TX", 33.66094, -95.55551),
        ("Springfield", "Springfield, MO", 37.21533, -93.29824),  # the most populous of six
        ("Springfield, IL", "Springfield, IL", 39.80172, -89.64371),
        ("Portland OR", "Portland, OR", 45.52345, -122.67621),  # no comma
        ("Portland, Maine", "Portland, ME", 43.65737, -70.2589),
        ("Toronto, CA", "Toronto, Canada", 43.70643, -79.39864),  # no Toronto in California: the country
        ("Cambridge, MA, USA", "Cambridge, MA", 42.3751, -71.10561),
        ("St Louis", "St. Louis, MO", 38.62727, -90.19789),
        ("Washington, D.C.", "Washington, DC", 38.89511, -77.03637),
        ("London", "London, United Kingdom", 51.50853, -0.12574),
        ("London, ON", "London, Canada", 42.98339, -81.23304),  # a Canadian province
        ("Halifax, Nova Scotia", "Halifax, Canada", 44.64269, -63.57688),
        ("Vancouver", "Vancouver, Canada", 49.24966, -123.11934),
        ("Vancouver WA", "Vancouver, WA", 45.63873, -122.66149),
        ("Amsterdam, NL", "Amsterdam, The Netherlands", 52.37403, 4.88969),  # NL: no Amsterdam in Newfoundland
        ("Boston, U.K.", "Boston, United Kingdom", 52.97633, -0.02664),
        ("st. louis, mo", "St. Louis, MO", 38.62727, -90.19789),
        ("winston salem", "Winston-Salem, NC", 36.09986, -80.24422),
        ("New York", "New York City, NY", 40.71427, -74.00597),  # an alternate name
        ("Zurich", "Zürich, Switzerland", 47.36667, 8.55),  # accents folded
        ("SAO PAULO, brazil", "São Paulo, Brazil", -23.5475, -46.63611),
        ("München", "Munich, Germany", 48.13743, 11.57549),
        ("Munchen", "Munich, Germany", 48.13743, 11.57549),
        ("  Boston ,  MA  ", "Boston, MA", 42.35843, -71.05977),
    ],
)
def test_cities(text: str, label: str, latitude: float, longitude: float) -> None:
    assert resolve_place(text) == GeoPoint(latitude=latitude, longitude=longitude, label=label)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("02139", GeoPoint(42.3647, -71.1042, "Cambridge, MA 02139", "02139")),
        ("02139-4307", GeoPoint(42.3647, -71.1042, "Cambridge, MA 02139", "02139")),
        ("90210", GeoPoint(34.0901, -118.4065, "Beverly Hills, CA 90210", "90210")),
        ("42.36, -71.06", GeoPoint(42.36, -71.06, "42.36, -71.06")),
        ("-33.8688,151.2093", GeoPoint(-33.8688, 151.2093, "-33.869, 151.21")),
    ],
)
def test_zip_codes_and_coordinates(text: str, expected: GeoPoint) -> None:
    assert resolve_place(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "enter a city name or a ZIP code"),
        ("   ", "enter a city name or a ZIP code"),
        ("99999", "99999 is not a US ZIP code Spyglass knows"),
        ("1234", "'1234' is not a ZIP code: a US ZIP code has five digits"),
        ("Xyzzyville", "Spyglass does not know a city called 'Xyzzyville'; try a larger city or a ZIP code"),
        ("Boston, TX", "Spyglass does not know a city called 'Boston' in TX; try a larger city or a ZIP code"),
        ("Boston, Narnia", "'Narnia' is neither a US state, a Canadian province nor a country"),
        ("Boston, MA, Narnia", "'Narnia' is neither a US state, a Canadian province nor a country"),
        ("Boston, MA, UK", "Spyglass does not know a city called 'Boston' in MA, UK; try a larger city or a ZIP code"),
        (", MA", "enter a city name before the comma"),
        ("95, 200", "coordinates must be a latitude between -90 and 90 and a longitude between -180 and 180"),
        ("B" * 121, "a place name is at most 120 characters"),
        # Alternate names are indexed in Latin script only.
        ("Москва", "Spyglass does not know a city called 'Москва'; try a larger city or a ZIP code"),
        # Other scripts' digits made the zipcodes package panic (a BaseException that escaped as a 500).
        ("\u0661\u0662\u0663\u0664\u0665", "write ZIP codes and coordinates with the digits 0-9"),
        ("\u0663", "write ZIP codes and coordinates with the digits 0-9"),
        ("\uff10\uff12\uff11\uff13\uff19", "write ZIP codes and coordinates with the digits 0-9"),
        ("\u0664\u0662.3, -71.1", "write ZIP codes and coordinates with the digits 0-9"),
    ],
)
def test_unknown_places_say_why(text: str, message: str) -> None:
    with pytest.raises(UnknownPlace) as caught:
        resolve_place(text)
    assert str(caught.value) == message
    assert isinstance(caught.value, ValueError)


def test_known_distances() -> None:
    boston, new_york = resolve_place("Boston"), resolve_place("New York")
    assert distance_km(boston.latitude, boston.longitude, new_york.latitude, new_york.longitude) == pytest.approx(
        305.84, abs=0.01
    )
    # A quarter of the way around the equator, and pole to pole.
    assert distance_km(0, 0, 0, 90) == pytest.approx(math.pi * EARTH_RADIUS_KM / 2)
    assert distance_km(90, 0, -90, 0) == pytest.approx(math.pi * EARTH_RADIUS_KM)
    assert distance_km(10, 179.5, 10, -179.5) == pytest.approx(109.5, abs=0.1)  # across the date line
    assert distance_km(42.0, -71.0, 42.0, -71.0) == 0.0


def test_within_radius_counts_the_boundary() -> None:
    origin = GeoPoint(0.0, 0.0, "origin")
    one_degree = distance_km(0, 0, 0, 1)
    assert one_degree == pytest.approx(111.195, abs=0.001)
    assert within_radius(origin, 0.0, 1.0, one_degree)
    assert not within_radius(origin, 0.0, 1.0, one_degree - 0.001)
    cambridge = resolve_place("02139")
    assert within_radius(cambridge, 42.35843, -71.05977, 5)  # Boston is ~3.4 km away
    assert not within_radius(cambridge, 42.35843, -71.05977, 3)


_latitudes = st.floats(min_value=-90, max_value=90)
_longitudes = st.floats(min_value=-180, max_value=180)


@settings(max_examples=200, deadline=None)
@given(lat1=_latitudes, lon1=_longitudes, lat2=_latitudes, lon2=_longitudes)
def test_distance_is_symmetric_and_bounded(lat1: float, lon1: float, lat2: float, lon2: float) -> None:
    forward = distance_km(lat1, lon1, lat2, lon2)
    assert forward == pytest.approx(distance_km(lat2, lon2, lat1, lon1), abs=1e-6)
    assert 0.0 <= forward <= math.pi * EARTH_RADIUS_KM + 1e-6


async def test_validation_resolves_places_off_the_event_loop() -> None:
    """Building the city index takes seconds of CPU: request validation runs in a thread meanwhile."""
    _build_gazetteer.cache_clear()
    resolve_place.cache_clear()
    done = False
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while not done:
            ticks += 1
            await asyncio.sleep(0)

    raw = {"name": "Bikes", "marketplaces": ["ebay"], "keywords": "bike", "location": "Springfield, IL"}

    async def validate() -> tuple[SearchSpec, int]:
        spec = await validate_search(raw, settings=Settings(market_min_interval_seconds=1))
        return spec, ticks  # how often the loop ran something else meanwhile

    validation = asyncio.create_task(validate())  # scheduled first: done in one step if it never yields
    ticking = asyncio.create_task(ticker())
    spec, ticks_meanwhile = await validation
    done = True
    await ticking
    assert (spec.latitude, spec.longitude) == (39.80172, -89.64371)
    assert ticks_meanwhile > 0  # parse_search on the event loop would give 0
