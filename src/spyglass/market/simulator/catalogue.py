"""The simulated market: a deterministic stream of listings that appear, get cheaper and vanish.

Everything is a pure function of ``(seed, step)``: item ``i`` is drawn from ``Random(f"{seed}:{i}")``,
so tests can assert exactly what a marketplace shows at a step, and two runs with the same seed agree.
"""

from __future__ import annotations

import math
import random
import uuid
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

SITES = ("craigslist", "facebook", "offerup", "ebay", "mercari", "ksl", "poshmark", "shop")
INITIAL_ITEMS = 150
NEW_PER_STEP = 4

#: category -> (brand and model pairs, extras that fit the category, price range in dollars)
_CATEGORIES: dict[str, tuple[tuple[str, ...], tuple[str, ...], int, int]] = {
    "bikes": (("Trek Domane AL 2 road bike", "Specialized Allez road bike", "Giant Talon mountain bike",
               "Cannondale Topstone gravel bike", "Surly Long Haul Trucker", "Trek FX 2 hybrid bike"),
              ("56 cm", "54 cm", "size M", "size L", "new tires", "needs tune-up"), 150, 2400),
    "cameras": (("Nikon Z6 II mirrorless camera", "Canon EOS R6 camera body", "Sony a6400 with kit lens",
                 "Fujifilm X-T3 body", "Canon 50mm f/1.8 lens", "Nikon 70-200mm f/2.8 lens"),
                ("low shutter count", "with charger", "boxed", "mint", "two batteries"), 90, 1900),
    "consoles": (("Nintendo Switch OLED", "Sony PS5 disc edition", "Xbox Series X", "Nintendo Switch Lite",
                  "Steam Deck 512GB", "PS5 DualSense controller pair"),
                 ("with 3 games", "boxed", "barely used", "with dock", "2 controllers"), 40, 520),
    "furniture": (("IKEA Billy bookcase", "West Elm mid-century dining table", "Herman Miller Aeron office chair",
                   "Pottery Barn leather sofa", "IKEA Malm dresser", "Steelcase Leap office chair"),
                  ("pickup only", "like new", "solid wood", "smoke-free home", "minor scratches"), 30, 1400),
    "guitars": (("Fender Player Stratocaster", "Gibson Les Paul Studio", "Yamaha FG800 acoustic guitar",
                 "Taylor 114ce acoustic guitar", "Fender Jazz Bass", "Epiphone SG Standard"),
                ("with gig bag", "with hard case", "sunburst", "new strings", "setup done"), 120, 2600),
}  # fmt: skip
_CONDITIONS = ("new", "like new", "good", "fair")
#: (city, region, postal code, latitude, longitude)
PLACES = (
    ("Boston", "MA", "02108", 42.3601, -71.0589),
    ("Cambridge", "MA", "02139", 42.3736, -71.1097),
    ("Somerville", "MA", "02143", 42.3876, -71.0995),
    ("Quincy", "MA", "02169", 42.2529, -71.0023),
    ("Waltham", "MA", "02451", 42.3765, -71.2356),
    ("Salem", "MA", "01970", 42.5195, -70.8967),
    ("Worcester", "MA", "01608", 42.2626, -71.8023),
    ("Providence", "RI", "02903", 41.824, -71.4128),
    ("Seattle", "WA", "98101", 47.6101, -122.3344),
    ("Tacoma", "WA", "98402", 47.2529, -122.4443),
)


@dataclass(frozen=True)
class SimItem:
    """One thing for sale, with its whole future: when it appears, its price drops and when it goes."""

    index: int
    title: str
    category: str
    condition: str
    description: str
    base_price: int
    appears_at: int
    gone_at: int | None
    drops: tuple[tuple[int, float], ...]
    sites: tuple[str, ...]
    place: tuple[str, str, str, float, float]
    seller: str

    def price_at(self, step: int) -> Decimal:
        """The asking price at ``step`` (whole dollars; each drop multiplies it)."""
        price = float(self.base_price)
        for at, factor in self.drops:
            if at <= step:
                price *= factor
        return Decimal(max(1, math.floor(price)))

    def active_at(self, step: int) -> bool:
        return self.appears_at <= step and (self.gone_at is None or step < self.gone_at)

    def site_id(self, site: str) -> str:
        """The id the item has on ``site`` (each site numbers its listings its own way)."""
        if site == "craigslist":
            return str(7_900_000_000 + self.index)
        if site == "offerup":
            return str(uuid.uuid5(uuid.NAMESPACE_URL, f"offerup/{self.index}"))
        if site == "mercari":
            return f"m{80_000_000_000 + self.index}"
        if site == "poshmark":
            return f"{0x6734A1B2C3D4E5F600000000 + self.index:024x}"
        if site == "ebay":
            return str(226_000_000_000 + self.index)
        if site == "facebook":
            return str(1_600_000_000_000_000 + self.index)
        return f"SIM-{self.index:06d}"

    def posted_timestamp(self, epoch: int, step_seconds: float) -> int:
        return int(epoch + self.appears_at * step_seconds)


@lru_cache(maxsize=50_000)
def item(seed: int, index: int) -> SimItem:
    """Item ``index`` of the market with ``seed``."""
    rng = random.Random(f"{seed}:{index}")
    category = rng.choice(sorted(_CATEGORIES))
    models, extras, low, high = _CATEGORIES[category]
    title = rng.choice(models) + (f", {rng.choice(extras)}" if rng.random() < 0.6 else "")
    appears = 0 if index < INITIAL_ITEMS else (index - INITIAL_ITEMS) // NEW_PER_STEP + 1
    gone = None if rng.random() < 0.3 else appears + rng.randint(6, 40)
    drop_count = rng.randint(0, 3)
    drops = tuple(sorted((appears + rng.randint(1, 20), rng.choice((0.95, 0.9, 0.85, 0.8))) for _ in range(drop_count)))
    sites = tuple(sorted(rng.sample(SITES, k=rng.choice((1, 2, 2, 3, 4)))))
    base = rng.randint(low, high)
    condition = rng.choice(_CONDITIONS)
    return SimItem(
        index=index,
        title=title,
        category=category,
        condition=condition,
        description=f"{title}. {condition.capitalize()} condition, pickup only.",
        base_price=base - base % 5,
        appears_at=appears,
        gone_at=gone,
        drops=drops,
        sites=sites,
        place=rng.choice(PLACES),
        seller=rng.choice(("alex", "sam", "jordan", "casey", "riley", "morgan", "taylor", "jamie")) + str(index % 97),
    )


def items_until(seed: int, step: int) -> list[SimItem]:
    """Every item that has appeared by ``step`` (active or gone), oldest first."""
    count = INITIAL_ITEMS + max(0, step) * NEW_PER_STEP
    return [item(seed, index) for index in range(count)]


def matches(entry: SimItem, words: str, price_min: Decimal | None, price_max: Decimal | None, step: int) -> bool:
    """The site's own search: every word in the title (none of those written ``-word``), the price within bounds."""
    title = entry.title.lower()
    for word in words.lower().split():
        if word.startswith("-") and len(word) > 1:
            if word[1:] in title:
                return False
        elif word not in title:
            return False
    price = entry.price_at(step)
    return (price_min is None or price >= price_min) and (price_max is None or price <= price_max)


def search(
    seed: int,
    step: int,
    site: str,
    words: str = "",
    price_min: Decimal | None = None,
    price_max: Decimal | None = None,
    limit: int | None = 120,
) -> list[SimItem]:
    """What ``site`` shows for a search at ``step``: active matching items, newest first, at most ``limit``
    (None: all of them, for the server to page through)."""
    found = [
        entry
        for entry in items_until(seed, step)
        if site in entry.sites and entry.active_at(step) and matches(entry, words, price_min, price_max, step)
    ]
    found.sort(key=lambda entry: (-entry.appears_at, -entry.index))
    return found if limit is None else found[:limit]
