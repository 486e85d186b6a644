"""Cross-post grouping: the same-item rule, image hashes of real images, grouping many listings."""

from __future__ import annotations

import io
import random
from dataclasses import replace
from decimal import ROUND_DOWN, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw, ImageFilter

from spyglass.market.grouping import (
    MAX_DISTANCE_KM,
    MAX_IMAGE_DISTANCE,
    ItemSignature,
    group_items,
    hamming,
    image_hash,
    same_item,
)

# --- images ------------------------------------------------------------------------------------


def photo(seed: int, size: tuple[int, int] = (640, 480)) -> Image.Image:
    """A photo-like picture: a gradient background with a few blurred shapes placed by ``seed``."""
    rng = random.Random(seed)
    width, height = size
    image = Image.linear_gradient("L").resize(size).convert("RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(6):
        x, y = rng.randrange(width), rng.randrange(height)
        radius = rng.randrange(width // 10, width // 4)
        color = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        if rng.random() < 0.5:
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=color)
        else:
            draw.rectangle((x - radius, y - radius // 2, x + radius, y + radius // 2), fill=color)
    return image.filter(ImageFilter.GaussianBlur(2))


def encode(image: Image.Image, image_format: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, image_format, **options)
    return buffer.getvalue()


def test_image_hash_is_64_bits_of_hex_and_deterministic() -> None:
    data = encode(photo(1), "JPEG", quality=90)
    digest = image_hash(data)
    assert digest is not None
    assert len(digest) == 16
    assert int(digest, 16) < 2**64
    assert image_hash(data) == digest


def test_image_hash_of_a_known_pattern() -> None:
    # Left half black, right half white: reduced to 9 columns (each averaging 10 pixels), column 4
    # straddles the edge and is grey. No left neighbour is ever brighter, so every bit is 0. Mirrored,
    # white > grey and grey > black set bits 3 and 4 of every row: 0b00011000.
    left_dark = Image.new("L", (90, 80), 0)
    left_dark.paste(255, (45, 0, 90, 80))
    assert image_hash(encode(left_dark, "PNG")) == "0000000000000000"
    mirrored = Image.new("L", (90, 80), 255)
    mirrored.paste(0, (45, 0, 90, 80))
    assert image_hash(encode(mirrored, "PNG")) == "1818181818181818"


def test_resized_and_recompressed_copies_stay_close() -> None:
    original = photo(7)
    reference = image_hash(encode(original, "JPEG", quality=95))
    assert reference is not None
    variants = [
        encode(original.resize((320, 240)), "JPEG", quality=60),  # what a marketplace does to uploads
        encode(original.resize((1024, 768)), "PNG"),
        encode(original, "WEBP", quality=50),
        encode(original.convert("L"), "JPEG", quality=80),
    ]
    for data in variants:
        digest = image_hash(data)
        assert digest is not None
        assert hamming(reference, digest) <= MAX_IMAGE_DISTANCE


def test_different_photos_are_far_apart() -> None:
    hashes = [image_hash(encode(photo(seed), "JPEG", quality=85)) for seed in range(8)]
    assert all(digest is not None for digest in hashes)
    for first in range(len(hashes)):
        for second in range(first + 1, len(hashes)):
            assert hamming(hashes[first], hashes[second]) > MAX_IMAGE_DISTANCE  # type: ignore[arg-type]


def test_exif_rotation_is_applied() -> None:
    upright = photo(3)
    # The camera stored the pixels sideways and the EXIF orientation tag (6: rotate 90 clockwise to view).
    sideways = upright.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    rotated_data = encode(sideways, "JPEG", quality=95, exif=exif)
    plain_sideways = image_hash(encode(sideways, "JPEG", quality=95))
    upright_hash = image_hash(encode(upright, "JPEG", quality=95))
    rotated_hash = image_hash(rotated_data)
    assert upright_hash is not None and rotated_hash is not None and plain_sideways is not None
    assert hamming(upright_hash, rotated_hash) <= MAX_IMAGE_DISTANCE
    assert hamming(upright_hash, plain_sideways) > MAX_IMAGE_DISTANCE


def test_transparent_images_are_hashed_on_white() -> None:
    shape = Image.new("RGBA", (90, 80), (0, 0, 0, 0))  # transparent black
    ImageDraw.Draw(shape).rectangle((45, 0, 89, 79), fill=(0, 0, 0, 255))  # opaque black right half
    # On white, the left half is white and the right half black: the mirrored pattern above (read
    # without its alpha channel the picture would be all black, all zeros).
    assert image_hash(encode(shape, "PNG")) == "1818181818181818"
    palette = shape.convert("P")  # GIF-style palette transparency
    assert image_hash(encode(palette, "PNG")) == "1818181818181818"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not an image at all",
        b"<html><body>404</body></html>",
        encode(photo(2), "JPEG")[:200],  # truncated
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 40,  # a PNG signature and garbage
    ],
)
def test_unreadable_images_have_no_hash(data: bytes) -> None:
    assert image_hash(data) is None


def test_images_too_large_to_decode_have_no_hash() -> None:
    huge = encode(Image.new("1", (8000, 8000)), "PNG")  # 64 million pixels in a few kilobytes
    assert len(huge) < 100_000
    assert image_hash(huge) is None


def test_hamming() -> None:
    assert hamming("0000000000000000", "0000000000000000") == 0
    assert hamming("0000000000000000", "ffffffffffffffff") == 64
    assert hamming("00000000000000f0", "000000000000000f") == 8
    assert hamming("8000000000000001", "0000000000000000") == 2
    with pytest.raises(ValueError, match="different lengths"):
        hamming("ff", "fff")
    with pytest.raises(ValueError):
        hamming("zz", "00")


# --- the same-item rule ------------------------------------------------------------------------

BIKE = ItemSignature(
    title="Trek FX 3 Hybrid Bike - Medium",
    price=Decimal(450),
    latitude=42.3601,
    longitude=-71.0589,
    image_hash="f0e4c2d6a8b0c3e1",
    marketplace="craigslist",
)


def test_a_cross_post_is_the_same_item() -> None:
    cross_post = ItemSignature(
        title="trek fx 3 hybrid bike, medium",
        price=Decimal(460),
        latitude=42.3736,  # Cambridge, ~2 km away
        longitude=-71.1097,
        image_hash="f0e4c2d6a8b0c3e3",  # one bit off: the same photo recompressed
        marketplace="facebook",
    )
    assert same_item(BIKE, cross_post)
    assert same_item(cross_post, BIKE)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"marketplace": "craigslist"}, False),  # two offers on one site
        ({"marketplace": None}, True),
        ({"price": Decimal(405)}, True),  # 10% of 450
        ({"price": Decimal("404.99")}, False),
        ({"price": Decimal(500)}, True),  # 50 is 10% of the higher price
        ({"price": Decimal(501)}, False),
        ({"price": None}, True),
        ({"latitude": None}, True),
        ({"latitude": 42.3601 + 0.089, "longitude": -71.0589}, True),  # ~9.9 km north
        ({"latitude": 42.3601 + 0.091, "longitude": -71.0589}, False),  # ~10.1 km north
        ({"image_hash": "f0e4c2d6a8b0c0f0"}, True),  # 5 bits off
        ({"image_hash": "0f1b3d2957f43c1e"}, False),  # a different photo
        ({"image_hash": None}, True),
        ({"title": "Trek hybrid bicycle FX3, size M"}, True),  # reworded, but the same photo
        ({"title": "Trek hybrid bicycle FX3, size M", "image_hash": None}, False),  # reworded, nothing else
        ({"title": "Bike", "image_hash": None}, False),  # one word in common of six
        ({"title": "Medium hybrid bike Trek FX 3", "image_hash": None}, True),  # word order does not count
        ({"title": "", "image_hash": None}, False),
        ({"title": "Specialized Sirrus", "image_hash": "f0e4c2d6a8b0c3e1"}, False),  # same photo, other item
    ],
)
def test_same_item_rule(change: dict[str, object], expected: bool) -> None:
    other = replace(BIKE, **{"marketplace": "ebay", **change})  # type: ignore[arg-type]
    assert same_item(BIKE, other) is expected
    assert same_item(other, BIKE) is expected


def test_non_finite_values_count_as_unknown() -> None:
    odd = replace(BIKE, price=Decimal("NaN"), latitude=float("nan"), image_hash="not hex", marketplace="ebay")
    # Unknown price, place and photo: the title alone decides (it is the same title).
    assert same_item(BIKE, odd)
    assert group_items([(1, BIKE), (2, odd)]) == [[1, 2]]
    assert not same_item(BIKE, replace(odd, title="Trek bike helmet"))


def test_small_prices_use_the_absolute_tolerance() -> None:
    lamp = ItemSignature("IKEA lamp", Decimal(20), None, None, None, "craigslist")
    assert same_item(lamp, replace(lamp, price=Decimal(25), marketplace="ebay"))  # 5 > 10% of 25
    assert not same_item(lamp, replace(lamp, price=Decimal("25.01"), marketplace="ebay"))


def test_distance_limit_matches_the_documented_few_kilometres() -> None:
    assert MAX_DISTANCE_KM == 10.0


# --- grouping many -----------------------------------------------------------------------------


def signature(title: str, price: int | None, marketplace: str, **extra: object) -> ItemSignature:
    fields: dict[str, object] = {"latitude": None, "longitude": None, "image_hash": None}
    fields.update(extra)
    return ItemSignature(
        title=title,
        price=None if price is None else Decimal(price),
        marketplace=marketplace,
        **fields,  # type: ignore[arg-type]
    )


def test_group_items_keeps_input_order_and_every_key_once() -> None:
    items = [
        ("cl-1", signature("Trek FX 3 hybrid bike", 450, "craigslist")),
        ("cl-2", signature("Vitamix 5200 blender", 200, "craigslist")),
        ("fb-1", signature("trek fx 3 hybrid bike", 440, "facebook")),
        ("eb-1", signature("TREK FX 3 Hybrid Bike", None, "ebay")),  # no price: compared with all
        ("fb-2", signature("Vitamix 5200 Blender", 400, "facebook")),  # price too far
        ("ol-1", signature("Herman Miller Aeron chair", 600, "offerup")),
    ]
    assert group_items(items) == [["cl-1", "fb-1", "eb-1"], ["cl-2"], ["fb-2"], ["ol-1"]]


def test_group_items_is_transitive() -> None:
    # 400 ~ 440 and 440 ~ 484 but 400 !~ 484: one chain, one group.
    items = [
        (1, signature("Vintage Schwinn bike", 400, "a")),
        (2, signature("Vintage Schwinn bike", 484, "c")),
        (3, signature("Vintage Schwinn bike", 440, "b")),
    ]
    assert not same_item(items[0][1], items[1][1])
    assert group_items(items) == [[1, 2, 3]]


def test_group_items_of_nothing() -> None:
    assert group_items([]) == []


def test_group_items_agrees_with_pairwise_rule() -> None:
    rng = random.Random(5)
    brands = ["Trek", "Giant", "Specialized", "Cannondale"]
    models = ["FX 3", "Escape", "Sirrus", "Quick 4"]
    items = []
    for index in range(120):
        title = f"{rng.choice(brands)} {rng.choice(models)} bike"
        price = rng.choice([None, *range(300, 340, 10)])
        items.append((index, signature(title, price, rng.choice(["craigslist", "ebay", "facebook"]))))
    groups = group_items(items)
    assert sorted(key for group in groups for key in group) == list(range(120))
    group_of = {key: number for number, group in enumerate(groups) for key in group}
    # Every pair the rule accepts ends up in one group, and every group is connected by accepted pairs.
    for first in range(120):
        for second in range(first + 1, 120):
            if same_item(items[first][1], items[second][1]):
                assert group_of[first] == group_of[second]
    for group in groups:
        reached = {group[0]}
        frontier = [group[0]]
        while frontier:
            current = frontier.pop()
            for other in group:
                if other not in reached and same_item(items[current][1], items[other][1]):
                    reached.add(other)
                    frontier.append(other)
        assert reached == set(group)


def test_group_items_blocking_never_misses_a_pair() -> None:
    # Dense data on the edges of the blocking: prices around the lowest bucket's edge (50-56) and
    # bucket boundaries, unknown prices, photo hashes a few bits from a handful of originals, points
    # a few kilometres apart, short and long titles sharing words.
    rng = random.Random(23)
    base_photos = [rng.getrandbits(64) for _ in range(3)]
    vocabulary = ["trek", "fx", "3", "hybrid", "bike", "medium", "blue", "commuter"]
    items = []
    for index in range(160):
        photo = None
        if rng.random() < 0.6:
            bits = rng.choice(base_photos)
            for _ in range(rng.randrange(0, 14)):
                bits ^= 1 << rng.randrange(64)
            photo = f"{bits:016x}"
        price = rng.choice([None, "45", "50", "54.99", "55", "55.56", "56", "90", "100", "111.11", "111.12", "123"])
        point = rng.choice([(None, None), (42.36, -71.06), (42.40, -71.06), (42.45, -71.06)])
        items.append(
            (
                index,
                ItemSignature(
                    title=" ".join(rng.sample(vocabulary, rng.randrange(1, 7))),
                    price=None if price is None else Decimal(price),
                    latitude=point[0],
                    longitude=point[1],
                    image_hash=photo,
                    marketplace=rng.choice(["a", "b", "c", None]),
                ),
            )
        )
    group_of = {key: number for number, group in enumerate(group_items(items)) for key in group}
    accepted = 0
    for first in range(len(items)):
        for second in range(first + 1, len(items)):
            if same_item(items[first][1], items[second][1]):
                accepted += 1
                assert group_of[first] == group_of[second], (items[first], items[second])
    assert accepted > 200  # the data really exercises the rule


def test_group_items_finds_the_same_photo_under_a_reworded_title() -> None:
    # Ten bits flipped, spread so that they touch every 8-bit byte of the hash: only a finer banding
    # (eleven bands, one left intact by pigeonhole) brings the two listings together. Their titles
    # share too few words for the title index to pair them.
    photo = 0x9F3A5C7E1B2D4F60
    flipped = photo
    for bit in (0, 6, 12, 18, 24, 30, 36, 42, 48, 59):
        flipped ^= 1 << bit
    first = ItemSignature("Trek FX 3 Hybrid Bike - Medium", Decimal(450), None, None, f"{photo:016x}", "craigslist")
    second = ItemSignature("Trek hybrid bicycle FX3, size M", Decimal(450), None, None, f"{flipped:016x}", "ebay")
    assert hamming(f"{photo:016x}", f"{flipped:016x}") == MAX_IMAGE_DISTANCE
    assert same_item(first, second)
    others = [(f"other-{n}", signature(f"Lamp {n}", 20 + n, "craigslist")) for n in range(5)]
    assert group_items([("a", first), *others, ("b", second)])[0] == ["a", "b"]


@settings(max_examples=300, deadline=None)
@given(
    cents=st.integers(min_value=1, max_value=10_000_000),
    step=st.sampled_from(["relative", "absolute", "just-over"]),
)
def test_group_items_groups_prices_on_the_tolerance_edge(cents: int, step: str) -> None:
    low = Decimal(cents) / 100
    if step == "relative":
        high = (low / Decimal("0.9")).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
    elif step == "absolute":
        high = low + 5
    else:
        high = max(low / Decimal("0.9"), low + 5).quantize(Decimal("0.01"), rounding=ROUND_DOWN) + Decimal("0.01")
    first = signature("Vintage Schwinn bike", 0, "craigslist")
    first = replace(first, price=low)
    second = replace(first, price=high, marketplace="ebay")
    together = same_item(first, second)
    assert together is (step != "just-over")
    assert (group_items([(1, first), (2, second)]) == [[1, 2]]) is together


def test_group_items_handles_thousands() -> None:
    rng = random.Random(11)
    words = [
        "trek",
        "giant",
        "bike",
        "hybrid",
        "road",
        "mountain",
        "carbon",
        "frame",
        "wheels",
        "helmet",
        "lamp",
        "chair",
        "desk",
        "sofa",
        "table",
        "oak",
    ]
    items = []
    for index in range(3000):
        title = " ".join(rng.sample(words, 4)) + f" {index % 700}"
        items.append((index, signature(title, rng.randrange(20, 2000), rng.choice(["craigslist", "ebay"]))))
    # Plant 50 cross-posts of existing items on a third marketplace.
    for index in range(50):
        original = items[index * 7][1]
        items.append((3000 + index, replace(original, marketplace="facebook")))
    groups = group_items(items)
    assert sum(len(group) for group in groups) == 3050
    group_of = {key: number for number, group in enumerate(groups) for key in group}
    for index in range(50):
        assert group_of[3000 + index] == group_of[index * 7]
