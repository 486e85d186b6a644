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
compares only listings whose prices are close enough (sorted by price, a sliding window), so
thousands of listings group in well under a second; listings without a price are compared with all.

:func:`image_hash` is a 64-bit difference hash ("dHash"): the picture reduced to 9 x 8 grey pixels
(each the average of its area; transparent parts on white; EXIF rotation applied), one bit per pair
of horizontal neighbours (is the left one brighter?), the first row's first pair the highest bit. It survives resizing,
recompression and small colour changes, which is what marketplaces do to a seller's photo.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TypeVar

from PIL import Image, ImageOps
from rapidfuzz import fuzz

from spyglass.market.geo import distance_km
from spyglass.market.pricing import MIN_SHARED_WORDS, shared_word_fraction, title_key

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
    """What grouping knows about one listing; every field but the title may be unknown (None)."""

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
    """A signature with its title folded and its hash parsed once, for comparing many pairs."""

    signature: ItemSignature
    title: str
    image_bits: int | None


def _prepare(signature: ItemSignature) -> _Prepared:
    bits: int | None = None
    if signature.image_hash:
        try:
            bits = int(signature.image_hash, 16)
        except ValueError:
            bits = None
    return _Prepared(signature, title_key(signature.title), bits)


def _prices_close(a: Decimal, b: Decimal) -> bool:
    return abs(a - b) <= max(max(a, b) * PRICE_TOLERANCE, PRICE_TOLERANCE_ABSOLUTE)


def _same(a: _Prepared, b: _Prepared) -> bool:
    first, second = a.signature, b.signature
    if first.marketplace and second.marketplace and first.marketplace == second.marketplace:
        return False
    if first.price is not None and second.price is not None and not _prices_close(first.price, second.price):
        return False
    if (
        first.latitude is not None
        and first.longitude is not None
        and second.latitude is not None
        and second.longitude is not None
        and distance_km(first.latitude, first.longitude, second.latitude, second.longitude) > MAX_DISTANCE_KM
    ):
        return False
    if not a.title or not b.title:
        return False
    if a.image_bits is not None and b.image_bits is not None:
        if (a.image_bits ^ b.image_bits).bit_count() > MAX_IMAGE_DISTANCE:
            return False
        return fuzz.token_set_ratio(a.title, b.title, processor=None) >= TITLE_THRESHOLD_WITH_IMAGE
    return (
        fuzz.token_set_ratio(a.title, b.title, processor=None) >= TITLE_THRESHOLD
        and shared_word_fraction(a.title, b.title) >= MIN_SHARED_WORDS
    )


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


def _upper_price_bound(price: Decimal) -> Decimal:
    """The highest price still close to ``price`` (see :func:`_prices_close`)."""
    relative = price / (1 - PRICE_TOLERANCE)
    return max(relative, price + PRICE_TOLERANCE_ABSOLUTE)


def group_items(signatures: Sequence[tuple[K, ItemSignature]]) -> list[list[K]]:
    """Group the listings that are the same item; every key appears in exactly one group.

    Groups, and the keys inside them, keep the input order (a group is placed where its first key is).
    """
    prepared = [_prepare(signature) for _, signature in signatures]
    groups = _UnionFind(len(prepared))
    by_price = sorted(
        (item.signature.price, index) for index, item in enumerate(prepared) if item.signature.price is not None
    )
    for position, (price, index) in enumerate(by_price):
        bound = _upper_price_bound(price)
        for other_price, other in by_price[position + 1 :]:
            if other_price > bound:
                break
            if groups.find(index) != groups.find(other) and _same(prepared[index], prepared[other]):
                groups.union(index, other)
    priced = [index for _, index in by_price]
    unpriced = [index for index, item in enumerate(prepared) if item.signature.price is None]
    for position, index in enumerate(unpriced):
        for other in [*unpriced[position + 1 :], *priced]:
            if groups.find(index) != groups.find(other) and _same(prepared[index], prepared[other]):
                groups.union(index, other)
    members: dict[int, list[K]] = {}
    for index, (key, _) in enumerate(signatures):
        members.setdefault(groups.find(index), []).append(key)
    return list(members.values())
