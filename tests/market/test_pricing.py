"""Market statistics, deal scores and comparable titles."""

from __future__ import annotations

import random
import statistics
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spyglass.market.pricing import (
    MIN_COMPARABLES,
    AgainstAll,
    DealScore,
    MarketStats,
    comparable_sets,
    comparable_titles,
    deal_score,
    market_prices,
    market_stats,
    shared_word_fraction,
    title_key,
)


def prices(*values: str | int) -> list[Decimal]:
    return [Decimal(str(value)) for value in values]


def test_market_stats_of_clean_prices() -> None:
    assert market_stats(prices(100, 200, 300, 400, 500)) == MarketStats(
        count=5,
        median=Decimal("300.00"),
        q1=Decimal("200.00"),
        q3=Decimal("400.00"),
        minimum=Decimal("100.00"),
        maximum=Decimal("500.00"),
        excluded=0,
    )


def test_quartiles_interpolate_between_ranks() -> None:
    # numpy.percentile([10, 20, 30, 40], [25, 50, 75]) == [17.5, 25, 32.5]
    stats = market_stats(prices(40, 10, 30, 20))
    assert stats is not None
    assert (stats.q1, stats.median, stats.q3) == (Decimal("17.50"), Decimal("25.00"), Decimal("32.50"))
    assert (stats.minimum, stats.maximum, stats.count) == (Decimal("10.00"), Decimal("40.00"), 4)


def test_money_is_rounded_to_cents() -> None:
    stats = market_stats(prices("10.005", "10.015", "10.025"))
    assert stats is not None
    assert stats.median == Decimal("10.02")  # half to even
    assert stats.q1 == Decimal("10.01")  # 10.01 exactly


def test_single_price() -> None:
    assert market_stats(prices(250)) == MarketStats(
        1, Decimal("250.00"), Decimal("250.00"), Decimal("250.00"), Decimal("250.00"), Decimal("250.00")
    )


def test_placeholders_and_absurd_prices_are_left_out() -> None:
    raw = prices(0, "0.01", 1, -5, 280, 300, 300, 320, 350, 999999, "NaN", "Infinity")
    assert market_prices(raw) == prices(280, 300, 300, 320, 350)
    stats = market_stats(raw)
    assert stats is not None
    assert (stats.count, stats.excluded, stats.median, stats.minimum, stats.maximum) == (
        5,
        7,
        Decimal("300.00"),
        Decimal("280.00"),
        Decimal("350.00"),
    )


def test_a_cheap_but_plausible_price_is_kept() -> None:
    # $35 is below a tenth of no median here: the median of 35..400 is 300, a tenth is 30.
    assert market_prices(prices(35, 280, 300, 320, 400)) == prices(35, 280, 300, 320, 400)
    assert market_prices(prices(29, 280, 300, 320, 400)) == prices(280, 300, 320, 400)


def test_no_usable_price_gives_no_stats() -> None:
    assert market_stats([]) is None
    assert market_stats(prices(0, -1, "NaN")) is None


def test_deal_score_below_market() -> None:
    score = deal_score(Decimal(230), prices(250, 300, 300, 350, 400))
    assert score == DealScore(
        percent_below_market=pytest.approx(23.3333333),  # type: ignore[arg-type]
        percentile=0.0,
        median=Decimal("300.00"),
        label="23% below market",
    )


def test_deal_score_above_market_and_percentile_counts_ties_as_half() -> None:
    score = deal_score(Decimal(336), prices(250, 300, 300, 336, 400))
    assert score is not None
    assert score.label == "12% above market"
    assert score.percent_below_market == pytest.approx(-12.0)
    assert score.percentile == pytest.approx(70.0)  # 3 cheaper + half of 1 equal, of 5
    assert score.median == Decimal("300.00")


@pytest.mark.parametrize(
    ("price", "label"),
    [(300, "at market price"), (294, "at market price"), ("306.5", "at market price"), (291, "3% below market")],
)
def test_at_market_band(price: int | str, label: str) -> None:
    score = deal_score(Decimal(price), prices(250, 300, 300, 350, 400))
    assert score is not None
    assert score.label == label


def test_deal_score_needs_enough_comparables() -> None:
    assert MIN_COMPARABLES == 5
    assert deal_score(Decimal(200), prices(250, 300, 350, 400)) is None
    # Outliers do not count towards the minimum.
    assert deal_score(Decimal(200), prices(1, 250, 300, 350, 400)) is None
    assert deal_score(Decimal(200), prices(1, 250, 300, 350, 400, 450)) is not None


def test_deal_score_refuses_placeholder_prices() -> None:
    market = prices(250, 300, 300, 350, 400)
    assert deal_score(Decimal(1), market) is None
    assert deal_score(Decimal(0), market) is None
    assert deal_score(Decimal(5000), market) is None
    assert deal_score(Decimal(30), market) is not None  # exactly a tenth of the median is still a price


def test_deal_score_ignores_placeholders_among_comparables() -> None:
    with_placeholders = deal_score(Decimal(240), prices(1, 1, 1, 250, 300, 300, 350, 400, 99999))
    clean = deal_score(Decimal(240), prices(250, 300, 300, 350, 400))
    assert with_placeholders == clean
    assert clean is not None
    assert clean.label == "20% below market"


@settings(max_examples=200, deadline=None)
@given(
    market=st.lists(st.integers(min_value=50, max_value=400).map(Decimal), min_size=5, max_size=40),
    price=st.integers(min_value=50, max_value=400).map(Decimal),
)
def test_deal_score_properties(market: list[Decimal], price: Decimal) -> None:
    score = deal_score(price, market)
    assert score is not None  # prices within 8x of each other are never outliers
    assert score.median == Decimal(statistics.median(market)).quantize(Decimal("0.01"))
    assert 0.0 <= score.percentile <= 100.0
    assert (score.percent_below_market > 0) == (price < statistics.median(market))
    cheaper_score = deal_score(price - 1, market)
    assert cheaper_score is not None
    assert cheaper_score.percent_below_market > score.percent_below_market
    assert cheaper_score.percentile <= score.percentile


@settings(max_examples=200, deadline=None)
@given(
    raw=st.lists(
        st.decimals(min_value=-10, max_value=100_000, places=2)
        | st.sampled_from([Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity")]),
        max_size=40,
    )
)
def test_market_stats_properties(raw: list[Decimal]) -> None:
    stats = market_stats(raw)
    kept = market_prices(raw)
    if stats is None:
        assert kept == []
        return
    assert stats.count == len(kept) > 0
    assert stats.count + stats.excluded == len(raw)
    assert stats.minimum <= stats.q1 <= stats.median <= stats.q3 <= stats.maximum
    usable = [price for price in raw if price.is_finite() and price > 0]
    reference = statistics.median(usable)
    assert kept == sorted(price for price in usable if reference / 10 <= price <= reference * 10)


def test_title_key_and_shared_words() -> None:
    assert title_key("Café-Table, SOLID oak!") == "cafe table  solid oak"
    assert shared_word_fraction(title_key("Trek FX 3 hybrid bike"), title_key("trek fx 3 bike rack")) == 0.8
    assert shared_word_fraction("bike", "trek fx 3 hybrid bike") == 0.2
    assert shared_word_fraction("", "") == 0.0


def test_comparable_titles() -> None:
    candidates = [
        ("a", "trek fx 3 HYBRID bike - medium"),  # the same words and one more
        ("b", "Giant Escape 3 hybrid bike"),  # 3 of 5 words shared, token-set 76
        ("c", "Trek FX 2 hybrid bike 2019"),
        ("d", "bike"),  # token-set 100, but one word of five
        ("e", "Trek bike helmet"),  # token-set 72, two words of five
        ("f", "Specialized Rockhopper 29"),
        ("g", "Trek FX3 Disc hybrid bicycle"),  # token-set 73, but only two words in common
        ("h", ""),
    ]
    assert comparable_titles("Trek FX 3 Hybrid Bike", candidates) == ["a", "b", "c"]
    assert comparable_titles("Trek FX 3 Hybrid Bike", candidates, threshold=90) == ["a", "c"]
    assert comparable_titles("Trek FX 3 Hybrid Bike", candidates, threshold=0) == ["a", "b", "c"]
    assert comparable_titles("!!!", candidates) == []
    assert comparable_titles("Trek FX 3 Hybrid Bike", []) == []


def test_comparable_titles_fold_accents_and_order() -> None:
    candidates = [(1, "Table basse en chêne massif"), (2, "massif chene table basse"), (3, "Chaise en chêne")]
    assert comparable_titles("table basse chêne massif", candidates) == [1, 2]


def test_comparable_sets_lists_the_others_for_each_key() -> None:
    candidates = [
        ("x", "Trek FX 3 Hybrid Bike"),
        ("a", "trek fx 3 HYBRID bike - medium"),
        ("d", "bike"),
        ("e", "Trek bike helmet"),
        ("c", "Trek FX 2 hybrid bike 2019"),
        ("h", ""),
    ]
    assert comparable_sets(candidates) == {"x": ["a", "c"], "a": ["x", "c"], "d": [], "e": [], "c": ["x", "a"], "h": []}
    assert comparable_sets([]) == {}


@settings(max_examples=60, deadline=None)
@given(
    titles=st.lists(
        st.lists(
            st.sampled_from(["trek", "fx", "3", "hybrid", "bike", "Giant", "escape", "blue", "M"]), max_size=6
        ).map(" ".join),
        max_size=25,
    ),
    threshold=st.sampled_from([0.0, 50.0, 70.0, 90.0]),
)
def test_comparable_sets_agrees_with_comparable_titles(titles: list[str], threshold: float) -> None:
    candidates = list(enumerate(titles))
    expected = {
        key: [other for other in comparable_titles(title, candidates, threshold) if other != key]
        for key, title in candidates
    }
    assert comparable_sets(candidates, threshold) == expected


def test_comparable_sets_scale() -> None:
    rng = random.Random(3)
    brands = ["Trek", "Giant", "Specialized", "Cannondale", "Kona", "Scott"]
    models = ["FX 3", "Marlin 5", "Escape 2", "Sirrus X", "Quick 4", "Rockhopper", "Talon"]
    filler = [f"w{number}" for number in range(300)]
    candidates = [
        (index, f"{rng.choice(brands)} {rng.choice(models)} bike {' '.join(rng.sample(filler, rng.randrange(3)))}")
        for index in range(2000)
    ]
    sets = comparable_sets(candidates)
    assert len(sets) == 2000
    for key in (0, 1234, 1999):  # spot-check against the one-title function
        assert sets[key] == [other for other in comparable_titles(candidates[key][1], candidates) if other != key]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.decimals(min_value=-5, max_value=100_000, places=2, allow_nan=False, allow_infinity=False),
            st.sampled_from([Decimal(0), Decimal(100), Decimal(101), Decimal("Infinity")]),
        ),
        max_size=40,
    )
)
def test_against_all_scores_each_price_like_deal_score_against_the_others(prices: list[Decimal]) -> None:
    everyone = AgainstAll(prices)
    for index, price in enumerate(prices):
        others = prices[:index] + prices[index + 1 :]
        assert everyone.score(price) == deal_score(price, others)
