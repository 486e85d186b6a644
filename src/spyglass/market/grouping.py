"""Cross-post grouping: the same item offered on several marketplaces is shown once.

Market logic - two listings are the same item (:func:`same_item`) when none of the known facts
tells them apart and the titles agree:

1. **Marketplace**: when both are known they differ (a marketplace's own re-runs are de-duplicated
   by its listing id, and two listings on one site are two offers).
2. **Price**: when both are known they differ by at most :data:`PRICE_TOLERANCE` (10%) of the higher
   price or :data:`PRICE_TOLERANCE_ABSOLUTE` (5 currency units), whichever is larger - sellers round
   differently or add a platform's fee.
3. **Place**: when both have coordinates they are at most :data:`MAX_DISTANCE_KM` (10 km) apart -
   marketplaces blur a seller's location to a neighbourhood or a town centre.
4. **Photo**: when both have an image hash, the hashes differ in at most :data:`MAX_IMAGE_DISTANCE`
   of 64 bits (the same photo, resized or recompressed). Different photos mean different items.
5. **Title**: rapidfuzz's token-set ratio (case, accents, punctuation, word order and extra words in
   the longer title ignored) reaches :data:`TITLE_THRESHOLD` (90) and the titles share at least half
   of the longer one's words (so "bike" is not "Trek FX 3 hybrid bike"); when the photos match, a
   token-set ratio of :data:`TITLE_THRESHOLD_WITH_IMAGE` (60) is enough, since sellers reword titles
   from one site to the next but reuse their photos.

:func:`group_items` joins listings transitively (if A is B and B is C, all three are one group). It
compares only the pairs that can pass the rule - prices in neighbouring buckets (or unknown), and one
of their rarest title words in common or one of eleven bands of their photo hashes equal - instead of
every pair.

:func:`image_hash` is a 64-bit difference hash ("dHash"): the picture reduced to 9 x 8 grey pixels
(each the average of its area; transparent parts on white; EXIF rotation applied), one bit per pair
of horizontal neighbours (is the left one brighter?), the first row's first pair the highest bit. It survives resizing,
recompression and small colour changes, which is what marketplaces do to a seller's photo.
"""

from __future__ import annotations

import io
import math
import warnings
from collections import defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TypeVar

from PIL import Image, ImageOps
from rapidfuzz import fuzz

from spyglass.market.geo import EARTH_RADIUS_KM, distance_km
from spyglass.market.pricing import MIN_SHARED_WORDS, rarest_shared_words, title_key

__all__ = [
    "MAX_DISTANCE_KM",
    "MAX_IMAGE_DISTANCE",
    "PRICE_TOLERANCE",
    "PRICE_TOLERANCE_ABSOLUTE",
    "TITLE_THRESHOLD",
    "TITLE_THRESHOLD_WITH_IMAGE",
    "ItemSignature",
    "group_items",
    "hamming",
    "image_hash",
    "same_item",
]

K = TypeVar("K", bound=Hashable)

PRICE_TOLERANCE = Decimal("0.10")
PRICE_TOLERANCE_ABSOLUTE = Decimal(5)
MAX_DISTANCE_KM = 10.0
MAX_IMAGE_DISTANCE = 10
TITLE_THRESHOLD = 90.0
TITLE_THRESHOLD_WITH_IMAGE = 60.0
#: Images larger than this many pixels are not decoded (decompression bombs).
MAX_IMAGE_PIXELS = 50_000_000


@dataclass(frozen=True)
class ItemSignature:
    """What grouping knows about one listing; every field but the title may be unknown (None).

    A price that is not a finite number and coordinates that are not finite count as unknown.
    """

    title: str
    price: Decimal | None
    latitude: float | None
    longitude: float | None
    image_hash: str | None
    marketplace: str | None = None


def hamming(a: str, b: str) -> int:
    """The number of differing bits between two hex hashes of the same length (ValueError otherwise)."""
    if len(a) != len(b):
        raise ValueError(f"hashes of different lengths: {len(a)} and {len(b)} hex digits")
    return (int(a, 16) ^ int(b, 16)).bit_count()


def image_hash(data: bytes) -> str | None:
    """The 64-bit difference hash of an image as 16 hex digits, or None when the bytes are not a readable image."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                if image.width * image.height > MAX_IMAGE_PIXELS:
                    return None
                image.draft("L", (64, 64))  # JPEG: decode at a reduced size, much faster
                upright = ImageOps.exif_transpose(image)
                if upright.mode in ("RGBA", "LA", "PA") or (upright.mode == "P" and "transparency" in upright.info):
                    rgba = upright.convert("RGBA")
                    upright = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba)
                pixels = upright.convert("L").resize((9, 8), Image.Resampling.BOX).tobytes()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        return None
    bits = 0
    for row in range(8):
        for column in range(8):
            left, right = pixels[row * 9 + column], pixels[row * 9 + column + 1]
            bits = (bits << 1) | (1 if left > right else 0)
    return f"{bits:016x}"


# --- comparing two listings --------------------------------------------------------------------


@dataclass(frozen=True)
class _Prepared:
    """What :func:`_same` compares, computed once per listing: comparing many pairs stays cheap."""

    marketplace: str | None
    price: Decimal | None
    highest_close_price: Decimal | None
    point: tuple[float, float] | None  # (latitude, longitude) when both are known
    image_bits: int | None
    title: str
    words: frozenset[str]


def _highest_close_price(price: Decimal) -> Decimal:
    """The highest price still close to ``price``: within 10% of the higher price, or 5 units."""
    return max(price / (1 - PRICE_TOLERANCE), price + PRICE_TOLERANCE_ABSOLUTE)


def _prepare(signature: ItemSignature) -> _Prepared:
    bits: int | None = None
    if signature.image_hash:
        try:
            bits = int(signature.image_hash, 16)
        except ValueError:
            bits = None
    point = None
    latitude, longitude = signature.latitude, signature.longitude
    if latitude is not None and longitude is not None and math.isfinite(latitude) and math.isfinite(longitude):
        point = (latitude, longitude)
    price = signature.price if signature.price is not None and signature.price.is_finite() else None
    title = title_key(signature.title)
    return _Prepared(
        marketplace=signature.marketplace or None,
        price=price,
        highest_close_price=None if price is None else _highest_close_price(price),
        point=point,
        image_bits=bits,
        title=title,
        words=frozenset(title.split()),
    )


#: Kilometres per degree of latitude: two points further apart in latitude alone are too far.
_KM_PER_DEGREE = math.pi * EARTH_RADIUS_KM / 180


def _same(a: _Prepared, b: _Prepared) -> bool:
    if a.marketplace is not None and a.marketplace == b.marketplace:
        return False
    if (
        a.price is not None
        and b.price is not None
        and a.highest_close_price is not None
        and b.highest_close_price is not None
        and (b.price > a.highest_close_price if a.price <= b.price else a.price > b.highest_close_price)
    ):
        return False
    if a.point is not None and b.point is not None:
        if abs(a.point[0] - b.point[0]) * _KM_PER_DEGREE > MAX_DISTANCE_KM:
            return False
        if distance_km(*a.point, *b.point) > MAX_DISTANCE_KM:
            return False
    if not a.words or not b.words:
        return False
    if a.image_bits is not None and b.image_bits is not None:
        if (a.image_bits ^ b.image_bits).bit_count() > MAX_IMAGE_DISTANCE:
            return False
        return fuzz.token_set_ratio(a.title, b.title, processor=None) >= TITLE_THRESHOLD_WITH_IMAGE
    if len(a.words & b.words) < MIN_SHARED_WORDS * max(len(a.words), len(b.words)):
        return False
    return fuzz.token_set_ratio(a.title, b.title, processor=None) >= TITLE_THRESHOLD


def same_item(a: ItemSignature, b: ItemSignature) -> bool:
    """Whether two listings are one item cross-posted (the rule is in this module's docstring)."""
    return _same(_prepare(a), _prepare(b))


# --- grouping many -----------------------------------------------------------------------------


class _UnionFind:
    def __init__(self, size: int) -> None:
        self.parent = list(range(size))

    def find(self, item: int) -> int:
        while self.parent[item] != item:
            self.parent[item] = self.parent[self.parent[item]]
            item = self.parent[item]
        return item

    def union(self, a: int, b: int) -> None:
        root_a, root_b = self.find(a), self.find(b)
        if root_a != root_b:
            self.parent[max(root_a, root_b)] = min(root_a, root_b)


#: Bit widths of the image-hash bands: 11 bands, so two hashes at most 10 bits apart share a band.
_IMAGE_BANDS = (6, 6, 6, 6, 6, 6, 6, 6, 6, 5, 5)


def _image_band_keys(bits: int) -> list[tuple[int, int]]:
    keys = []
    offset = 0
    for band, width in enumerate(_IMAGE_BANDS):
        keys.append((band, (bits >> offset) & ((1 << width) - 1)))
        offset += width
    return keys


def _price_bucket(price: Decimal | None) -> int | None:
    """Buckets such that two close prices (see :func:`_highest_close_price`) are at most one bucket apart.

    Bucket ``b`` holds prices in [r**b, r**(b+1)) with r = 1 / (1 - PRICE_TOLERANCE); every price up to
    PRICE_TOLERANCE_ABSOLUTE / PRICE_TOLERANCE (50) shares the lowest bucket, where the absolute
    tolerance is the larger one.
    """
    if price is None:
        return None
    floor = float(PRICE_TOLERANCE_ABSOLUTE / PRICE_TOLERANCE)  # below it the absolute tolerance is the larger
    # A hair wider than the tolerance, so that float rounding never puts two close prices two buckets apart.
    width = -math.log(1 - float(PRICE_TOLERANCE)) * (1 + 1e-9)
    return math.floor(math.log(max(float(price), floor)) / width)


def group_items(signatures: Sequence[tuple[K, ItemSignature]]) -> list[list[K]]:
    """Group the listings that are the same item; every key appears in exactly one group.

    Groups, and the keys inside them, keep the input order (a group is placed where its first key is).
    Only pairs that can pass the rule are compared: prices in neighbouring buckets (or unknown), and
    sharing one of their rarest title words or agreeing on one of eleven bands of their photo hashes.
    """
    prepared = [_prepare(signature) for _, signature in signatures]
    groups = _UnionFind(len(prepared))
    # Keys are (word or band, price bucket); listings without a price are also filed under bucket None
    # and look in every bucket through the *_any indexes.
    exact: dict[tuple[object, int | None], list[int]] = defaultdict(list)
    any_bucket: dict[object, list[int]] = defaultdict(list)
    for index, (item, prefix) in enumerate(
        zip(prepared, rarest_shared_words([p.words for p in prepared]), strict=True)
    ):
        bucket = _price_bucket(item.price)
        keys: list[object] = [("word", word) for word in prefix]
        if item.image_bits is not None:
            keys += [("band", band) for band in _image_band_keys(item.image_bits)]
        candidates: set[int] = set()
        for key in keys:
            if bucket is None:
                candidates.update(any_bucket[key])
            else:
                for neighbour in (bucket - 1, bucket, bucket + 1, None):
                    candidates.update(exact[key, neighbour])
            exact[key, bucket].append(index)
            any_bucket[key].append(index)
        for other in sorted(candidates):
            if groups.find(index) != groups.find(other) and _same(prepared[other], item):
                groups.union(other, index)
    members: dict[int, list[K]] = {}
    for index, (key, _) in enumerate(signatures):
        members.setdefault(groups.find(index), []).append(key)
    return list(members.values())
