"""Benchmark: the market's pure logic (query matching, deal scores, cross-post grouping, image hashes, places).

    .venv/bin/python bench/market_logic.py                 # default sizes
    .venv/bin/python bench/market_logic.py --listings 5000

Listings are generated to look like one search's results on several marketplaces: a brand and model
from a few dozen, a type, a size, a colour and filler words from a few hundred, prices clustered on
round numbers, coordinates around one city, a fifth of them cross-posted (same title reworded or not,
price within a few dollars, a nearby point, the same photo hash give or take a few bits). Timings are
CPU time of this process (``time.process_time``), not wall-clock, so a busy shared machine does not
inflate them; each figure is the best of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import io
import random
import time
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal

from PIL import Image, ImageDraw, ImageFilter

from spyglass.market.geo import preload, resolve_place
from spyglass.market.grouping import ItemSignature, group_items, image_hash
from spyglass.market.pricing import comparable_sets, comparable_titles, deal_score
from spyglass.market.query import parse_query

BRANDS = ["Trek", "Giant", "Specialized", "Cannondale", "Santa Cruz", "Kona", "Scott", "Bianchi", "Raleigh", "Schwinn"]
MODELS = ["FX 3", "Marlin 5", "Escape 2", "Sirrus X", "Quick 4", "Rockhopper", "Dew", "Contend", "Domane AL2", "Talon"]
KINDS = ["hybrid bike", "mountain bike", "road bike", "gravel bike", "commuter bicycle", "e-bike"]
SIZES = ["small", "medium", "large", "XL", "54cm", "56cm", "17in", "19in"]
COLOURS = ["red", "blue", "black", "white", "green", "silver", "matte grey"]
FILLER = [f"word{number}" for number in range(300)] + ["great", "condition", "like", "new", "barely", "used", "obo"]
PRICES = [60, 75, 80, 100, 120, 150, 175, 200, 225, 250, 275, 300, 350, 400, 450, 500, 600, 750, 900, 1200]
MARKETPLACES = ["craigslist", "ebay", "facebook", "offerup", "mercari", "ksl"]


def make_listings(count: int, rng: random.Random) -> list[tuple[int, ItemSignature]]:
    originals = int(count * 0.8)
    listings: list[tuple[int, ItemSignature]] = []
    for key in range(originals):
        words = [rng.choice(BRANDS), rng.choice(MODELS), rng.choice(KINDS), rng.choice(SIZES), rng.choice(COLOURS)]
        words += rng.sample(FILLER, rng.randrange(0, 4))
        listings.append(
            (
                key,
                ItemSignature(
                    title=" ".join(words),
                    price=Decimal(rng.choice(PRICES)),
                    latitude=42.36 + rng.uniform(-0.3, 0.3),
                    longitude=-71.06 + rng.uniform(-0.3, 0.3),
                    image_hash=f"{rng.getrandbits(64):016x}" if rng.random() < 0.7 else None,
                    marketplace=rng.choice(MARKETPLACES),
                ),
            )
        )
    for key in range(originals, count):
        _, original = listings[rng.randrange(originals)]
        photo = original.image_hash
        if photo is not None:
            photo = f"{int(photo, 16) ^ (1 << rng.randrange(64)):016x}"
        listings.append(
            (
                key,
                replace(
                    original,
                    title=original.title.upper() if rng.random() < 0.5 else original.title + " pickup only",
                    price=(original.price or Decimal(0)) + rng.choice([0, 5, -5]),
                    latitude=(original.latitude or 0) + 0.01,
                    image_hash=photo if rng.random() < 0.8 else None,
                    marketplace=next(m for m in MARKETPLACES if m != original.marketplace),
                ),
            )
        )
    rng.shuffle(listings)
    return listings


def best_of(repeat: int, action: Callable[[], object]) -> float:
    timings = []
    for _ in range(repeat):
        started = time.process_time()
        action()
        timings.append(time.process_time() - started)
    return min(timings)


def photo_bytes(seed: int) -> bytes:
    rng = random.Random(seed)
    image = Image.linear_gradient("L").resize((1024, 768)).convert("RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(8):
        x, y, radius = rng.randrange(1024), rng.randrange(768), rng.randrange(50, 250)
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=(rng.randrange(256), 80, 160))
    buffer = io.BytesIO()
    image.filter(ImageFilter.GaussianBlur(2)).save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listings", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=3)
    arguments = parser.parse_args()
    rng = random.Random(42)
    listings = make_listings(arguments.listings, rng)
    titles = [signature.title for _, signature in listings]
    count = len(listings)

    print(f"{count} listings")
    query = parse_query('(trek OR giant) (hybrid OR "mountain bike") -(kids OR girls) -e-bike')
    seconds = best_of(arguments.repeat, lambda: [query.matches(title) for title in titles])
    print(f"query.matches           {count / seconds:>12,.0f} listings/s")
    seconds = best_of(arguments.repeat, lambda: parse_query('trek (fx OR marlin) -parts -"for parts" bik*'))
    print(f"parse_query             {1 / seconds:>12,.0f} queries/s")

    keyed_titles = list(enumerate(titles))
    seconds = best_of(1, lambda: [comparable_titles(title, keyed_titles) for title in titles[:100]])
    print(f"comparable_titles       {100 / seconds:>12,.0f} listings/s against {count} candidates")
    seconds = best_of(1, lambda: comparable_sets(keyed_titles))
    print(f"comparable_sets         {seconds * 1000:>12,.0f} ms for all {count} listings at once")
    prices = [signature.price or Decimal(1) for _, signature in listings]
    seconds = best_of(arguments.repeat, lambda: [deal_score(price, prices[:200]) for price in prices[:1000]])
    print(f"deal_score (200 comps)  {1000 / seconds:>12,.0f} scores/s")

    groups: list[list[int]] = []

    def run_grouping() -> None:
        groups[:] = group_items(listings)

    seconds = best_of(arguments.repeat, run_grouping)
    multi = sum(1 for group in groups if len(group) > 1)
    print(f"group_items             {seconds * 1000:>12,.0f} ms for {count} listings ({multi} groups of 2+)")

    images = [photo_bytes(seed) for seed in range(20)]
    seconds = best_of(arguments.repeat, lambda: [image_hash(data) for data in images])
    print(f"image_hash (1024x768)   {len(images) / seconds:>12,.0f} images/s")

    seconds = best_of(1, preload)
    print(f"gazetteer load          {seconds * 1000:>12,.0f} ms (once per process)")
    resolve_place("02139")  # loads the ZIP code table
    places = ["Boston, MA", "Paris", "02139", "Springfield", "Portland OR", "Toronto, CA"]
    seconds = best_of(1, lambda: [resolve_place.__wrapped__(place) for place in places])
    print(f"resolve_place (uncached){len(places) / seconds:>12,.0f} places/s")


if __name__ == "__main__":
    main()
