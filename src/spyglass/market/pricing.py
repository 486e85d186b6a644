"""Market prices and deal scores: how a listing's price compares with comparable listings.

Market logic:

* **Comparables** are the other listings of the same search whose titles are similar
  (:func:`comparable_titles`): rapidfuzz's token-set ratio reaches the threshold (70 by default;
  word order, case, accents and punctuation ignored) *and* the two titles share at least half of
  the longer title's words (:func:`shared_word_fraction`). The token-set ratio alone scores 100
  whenever one title's words are all in the other, so "bike" or "Trek bike" would be comparable to
  every bike listing; the shared-words rule stops that. :func:`comparable_sets` answers the same
  question for every listing of a search at once, comparing only titles that share a rare word.
* **Placeholder and absurd prices are left out** before any statistic: zero or negative prices,
  and prices more than ten times below or above the median of the rest (a "$1" or "$0.01"
  placeholder on a $300 bike, a "$999,999 - do not buy" listing). They are an order of magnitude
  away from the market, so they describe no real market price. A listing whose own price is left
  out this way gets no deal score: we cannot tell a placeholder from a real bargain, so we say nothing.
* **Statistics** (:func:`market_stats`) are computed on the remaining prices: count, median, first and
  third quartiles (linear interpolation between the closest ranks, as in numpy's default), minimum
  and maximum; money values are rounded to cents.
* **Deal score** (:func:`deal_score`) needs at least :data:`MIN_COMPARABLES` comparable prices after
  outliers are left out. ``percent_below_market`` is ``(median - price) / median * 100`` (negative when
  above the market); ``percentile`` is the share of comparables cheaper than the price, counting equal
  prices as half (10 means cheaper than about 90% of the market). The label rounds the percentage
  and calls anything within :data:`AT_MARKET_PERCENT` percent "at market price".
"""

from __future__ import annotations

import bisect
import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from functools import lru_cache
from typing import TypeVar

from rapidfuzz import fuzz, process, utils

from spyglass.market.query import fold_text

__all__ = [
    "AT_MARKET_PERCENT",
    "COMPARABLE_TITLE_THRESHOLD",
    "MIN_COMPARABLES",
    "MIN_SHARED_WORDS",
    "OUTLIER_RATIO",
    "AgainstAll",
    "DealScore",
    "MarketStats",
    "comparable_sets",
    "comparable_titles",
    "deal_score",
    "market_prices",
    "market_stats",
    "rarest_shared_words",
    "shared_word_fraction",
    "title_key",
]

K = TypeVar("K", bound=Hashable)

#: Fewer comparable prices than this and a deal score would be noise.
MIN_COMPARABLES = 5
#: A price this many times below or above the median is a placeholder or a joke, not a market price.
OUTLIER_RATIO = Decimal(10)
#: Within this many percent of the median (after rounding) a price is "at market price".
AT_MARKET_PERCENT = 2
#: Token-set ratio (0-100) from which two titles describe comparable items.
COMPARABLE_TITLE_THRESHOLD = 70.0
#: The share of the longer title's words that two comparable titles must have in common.
MIN_SHARED_WORDS = 0.5

_CENT = Decimal("0.01")


@dataclass(frozen=True)
class MarketStats:
    """Prices of a market after outliers are left out; ``excluded`` counts the prices left out."""

    count: int
    median: Decimal
    q1: Decimal
    q3: Decimal
    minimum: Decimal
    maximum: Decimal
    excluded: int = 0


@dataclass(frozen=True)
class DealScore:
    """One price against its market; ``label`` is "23% below market", "12% above market" or "at market price"."""

    percent_below_market: float
    percentile: float
    median: Decimal
    label: str


def market_prices(prices: Sequence[Decimal]) -> list[Decimal]:
    """The prices that describe the market, sorted: without non-positive, non-finite and outlier prices."""
    usable = sorted(price for price in prices if price.is_finite() and price > 0)
    if not usable:
        return []
    median = statistics.median(usable)
    return [price for price in usable if median / OUTLIER_RATIO <= price <= median * OUTLIER_RATIO]


def _quantile(ordered: Sequence[Decimal], fraction: Decimal) -> Decimal:
    """Linear interpolation between closest ranks (numpy's default ``linear`` method)."""
    position = (len(ordered) - 1) * fraction
    lower = int(position)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


def _money(value: Decimal) -> Decimal:
    return value.quantize(_CENT, rounding=ROUND_HALF_EVEN)


def market_stats(prices: Sequence[Decimal]) -> MarketStats | None:
    """Median, quartiles, minimum and maximum of ``prices`` without outliers; None when no usable price is left."""
    kept = market_prices(prices)
    if not kept:
        return None
    return MarketStats(
        count=len(kept),
        median=_money(_quantile(kept, Decimal("0.5"))),
        q1=_money(_quantile(kept, Decimal("0.25"))),
        q3=_money(_quantile(kept, Decimal("0.75"))),
        minimum=_money(kept[0]),
        maximum=_money(kept[-1]),
        excluded=len(prices) - len(kept),
    )


def _label(percent_below: float) -> str:
    rounded = round(abs(percent_below))
    if rounded <= AT_MARKET_PERCENT:
        return "at market price"
    return f"{rounded}% {'below' if percent_below > 0 else 'above'} market"


def deal_score(price: Decimal, comparable_prices: Sequence[Decimal]) -> DealScore | None:
    """Score ``price`` against comparable listings' prices; None with too few comparables or an outlier price."""
    return _score(price, market_prices(comparable_prices))


def _score(price: Decimal, kept: Sequence[Decimal]) -> DealScore | None:
    """``price`` against market prices ``kept`` (sorted, outliers already left out)."""
    if len(kept) < MIN_COMPARABLES or not price.is_finite() or price <= 0:
        return None
    median = _quantile(kept, Decimal("0.5"))
    if not median / OUTLIER_RATIO <= price <= median * OUTLIER_RATIO:
        return None
    cheaper = bisect.bisect_left(kept, price)
    equal = bisect.bisect_right(kept, price) - cheaper
    percent_below = float((median - price) / median * 100)
    return DealScore(
        percent_below_market=percent_below,
        percentile=(cheaper + equal / 2) / len(kept) * 100,
        median=_money(median),
        label=_label(percent_below),
    )


class AgainstAll:
    """Deal scores of a search's prices, each against all the others: ``AgainstAll(prices).score(price)``.

    The same as ``deal_score(price, prices without that one listing)``, in logarithmic time per distinct
    price instead of a pass over every price (a search may have thousands).
    """

    def __init__(self, prices: Sequence[Decimal]) -> None:
        self._usable = sorted(price for price in prices if price.is_finite() and price > 0)
        self._scores: dict[Decimal, DealScore | None] = {}

    def score(self, price: Decimal) -> DealScore | None:
        """``price`` (one of the prices given) against the others."""
        if not price.is_finite() or price <= 0:
            return None
        if price not in self._scores:
            at = bisect.bisect_left(self._usable, price)
            others = self._usable[:at] + self._usable[at + 1 :]
            if not others:
                return None
            median = statistics.median(others)
            low = bisect.bisect_left(others, median / OUTLIER_RATIO)
            high = bisect.bisect_right(others, median * OUTLIER_RATIO)
            self._scores[price] = _score(price, others[low:high])
        return self._scores[price]


@lru_cache(maxsize=8192)
def title_key(title: str) -> str:
    """A title as compared: lower case, accents removed, punctuation as spaces ("Café-Table!" -> "cafe table")."""
    return utils.default_process(fold_text(title))


def shared_word_fraction(a: str, b: str) -> float:
    """The share (0-1) of the longer title's distinct words found in both; pass titles made by :func:`title_key`."""
    words_a, words_b = set(a.split()), set(b.split())
    longer = max(len(words_a), len(words_b))
    return len(words_a & words_b) / longer if longer else 0.0


def comparable_titles(
    title: str, candidates: Sequence[tuple[K, str]], threshold: float = COMPARABLE_TITLE_THRESHOLD
) -> list[K]:
    """The keys of ``candidates`` whose titles are similar to ``title`` (the rule is in this module's docstring).

    Keys come back in the candidates' order.
    """
    wanted = title_key(title)
    if not wanted:
        return []
    titles = [title_key(candidate_title) for _, candidate_title in candidates]
    found = process.extract(
        wanted, titles, scorer=fuzz.token_set_ratio, processor=None, score_cutoff=threshold, limit=None
    )
    indexes = sorted(index for _, _, index in found if shared_word_fraction(wanted, titles[index]) >= MIN_SHARED_WORDS)
    return [candidates[index][0] for index in indexes]


def rarest_shared_words(word_sets: Sequence[frozenset[str]]) -> list[list[str]]:
    """For each word set, its rarest words: two sets sharing half the longer one's words share one of these.

    Prefix filtering: with the words of every set in one order (rarest first), two sets that share at
    least ``t`` words share one among the first ``len - t + 1`` words of each; ``t`` is half of the
    longer set, so at least half of each set's own size. Indexing only these words finds every such
    pair while the common words ("bike" in a bike search) stay out of the index.
    """
    frequency: Counter[str] = Counter(word for words in word_sets for word in words)
    prefixes = []
    for words in word_sets:
        ordered = sorted(words, key=lambda word: (frequency[word], word))
        required = math.ceil(len(ordered) * MIN_SHARED_WORDS)
        prefixes.append(ordered[: len(ordered) - required + 1] if ordered else [])
    return prefixes


def comparable_sets(
    candidates: Sequence[tuple[K, str]], threshold: float = COMPARABLE_TITLE_THRESHOLD
) -> dict[K, list[K]]:
    """For every key, the other keys whose titles are comparable (the rule of :func:`comparable_titles`).

    The same answer as calling :func:`comparable_titles` for each title (without the key itself), but
    only pairs that share a rare word are compared, so a search's thousands of listings take a
    fraction of a second instead of one pass over all titles per listing. Keys must be distinct;
    each list keeps the candidates' order.
    """
    titles = [title_key(title) for _, title in candidates]
    word_sets = [frozenset(title.split()) for title in titles]
    similar: dict[int, list[int]] = defaultdict(list)
    by_word: dict[str, list[int]] = defaultdict(list)
    for index, prefix in enumerate(rarest_shared_words(word_sets)):
        earlier: set[int] = set()
        for word in prefix:
            earlier.update(by_word[word])
            by_word[word].append(index)
        words = word_sets[index]
        for other in earlier:
            other_words = word_sets[other]
            if (
                len(words & other_words) >= MIN_SHARED_WORDS * max(len(words), len(other_words))
                and fuzz.token_set_ratio(titles[index], titles[other], processor=None) >= threshold
            ):
                similar[index].append(other)
                similar[other].append(index)
    return {
        key: [candidates[other][0] for other in sorted(similar[index])] for index, (key, _) in enumerate(candidates)
    }
