"""The saved-search keyword language: parsing, matching, normalised form, refusals."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spyglass.market.query import MAX_DEPTH, MAX_QUERY_LENGTH, MAX_TERMS, QueryError, fold_text, parse_query


def test_fold_text_lowercases_and_removes_accents() -> None:
    assert fold_text("Crème Brûlée à São Paulo") == "creme brulee a sao paulo"
    assert fold_text("Ørsted Straße Łódź Æble") == "orsted strasse lodz aeble"


@pytest.mark.parametrize(
    ("query", "text", "expected"),
    [
        ("bike", "Trek bike for sale", True),
        ("bike", "TREK BIKE", True),
        ("bike", "Two bikes", True),  # plural with s
        ("box", "moving boxes", True),  # plural with es
        ("bikes", "one bike", False),  # the plural does not match the singular
        ("bike", "biker jacket", False),  # whole words only
        ("bike", "motorbike", False),
        ("bik*", "biker jacket", True),
        ("bik*", "a bike", True),
        ("bik*", "abiker", False),
        ("cafe", "Café table", True),
        ("café", "CAFE table", True),
        ("12", "iPhone 12 Pro", True),
        ("12", "iPhone 12s", False),  # numbers get no plural
        ("12", "iPhone 128GB", False),
        ("e-bike", "Rad e bike", True),
        ("e-bike", "Rad E-Bike!", True),
        ("e-bike", "ebike", False),
        ('monitor 27"', "Dell 27 inch monitor", True),
        ('"red bike"', "Big red bike, like new", True),
        ('"red bike"', "red, bike", True),  # punctuation between words is ignored
        ('"red bike"', "bike, red", False),
        ('"red bike"', "red mountain bike", False),
        ('"red bike*"', "red bikers club", True),
        ("not working", "Printer not working", True),  # lower-case operators are words
        ("not working", "Printer working", False),
    ],
)
def test_words_and_phrases_match_whole_words(query: str, text: str, expected: bool) -> None:
    assert parse_query(query).matches(text) is expected


@pytest.mark.parametrize(
    ("query", "matching", "not_matching"),
    [
        ("trek bike", ["trek hybrid bike"], ["trek helmet", "giant bike"]),
        ("trek AND bike", ["bike by trek"], ["trek helmet"]),
        ("trek OR giant", ["Trek", "GIANT"], ["specialized"]),
        ("(red|blue) bike", ["blue bike", "red bike"], ["green bike", "red car"]),
        ("bike -part", ["bike complete"], ["bike for parts", "bike part"]),
        ("bike -parts", ["bike part"], ["bike for parts"]),  # type the singular to exclude both
        ("bike NOT parts", ["bike"], ["parts bike"]),
        ('bike -"for parts"', ["bike parts included"], ["bike for parts only"]),
        ("bike -(kids OR girls)", ["adult bike"], ["kids bike", "girls bike"]),
        ("iphone 12 OR 13", ["iphone 12", "samsung 13"], ["iphone 11"]),  # AND binds tighter than OR
        ("iphone (12 OR 13)", ["iphone 12", "iphone 13"], ["samsung 13"]),
        ("NOT NOT bike", ["bike"], ["car"]),
        ("a b OR c d", ["a b", "c d"], ["a c", "b d"]),
    ],
)
def test_operators(query: str, matching: list[str], not_matching: list[str]) -> None:
    parsed = parse_query(query)
    for text in matching:
        assert parsed.matches(text), text
    for text in not_matching:
        assert not parsed.matches(text), text


@pytest.mark.parametrize(
    ("query", "normalised"),
    [
        ("Trek  (FX OR Marlin) -Parts", "trek (fx OR marlin) -parts"),
        ("iphone 12 OR 13", "(iphone 12) OR 13"),
        ("a AND b AND (c OR d OR (e f))", "a b (c OR d OR (e f))"),
        ("(a OR b) OR c", "a OR b OR c"),
        ("((a))", "a"),
        ("bike Bike (bike) OR bike", "bike"),
        ("a b OR b a OR a b", "(a b) OR (b a)"),
        ('"Red  Bike" Café', '"red bike" cafe'),
        ("\u201cred bike\u201d -\u00abfor parts\u00bb", '"red bike" -"for parts"'),  # typographic quotes
        ('-"for parts" bike', '-"for parts" bike'),
        ("x -(a OR b)", "x -(a OR b)"),
        ("NOT NOT bike", "bike"),
        ("(red|blue) bik*", "(red OR blue) bik*"),
        ('e-bike 27"', '"e bike" 27'),
        ("bike - $ !!", "bike"),  # tokens without letters or digits are ignored
        ('bike ""', "bike"),
    ],
)
def test_normalised_form(query: str, normalised: str) -> None:
    assert str(parse_query(query)) == normalised


def test_terms_are_the_positive_words_as_typed() -> None:
    query = parse_query('Trek ("Hybrid Bike" OR bik*) -parts -(kids OR girls) trek 27"')
    assert query.terms() == ["Trek", "Hybrid Bike", "bik", "27"]
    assert query.required_terms() == ["Trek", "27"]
    assert query.source == 'Trek ("Hybrid Bike" OR bik*) -parts -(kids OR girls) trek 27"'


def test_double_negation_is_positive_in_terms() -> None:
    assert str(parse_query("bike -(-helmet)")) == "bike helmet"
    query = parse_query("bike -(-helmet OR lock)")  # bike AND helmet AND NOT lock
    assert query.terms() == ["bike", "helmet"]
    assert query.required_terms() == ["bike"]  # only terms reached through AND are certain
    assert query.matches("bike with helmet")
    assert not query.matches("bike with helmet and lock")


@pytest.mark.parametrize(
    ("query", "excluded"),
    [
        ('bike -parts -"for parts"', ["parts", "for parts"]),
        ("bike -(Kids OR girls) NOT helmet", ["Kids", "girls", "helmet"]),
        ("bike -(kids girls)", []),  # only both together exclude a listing
        ("(bike -parts) OR trike", []),  # a trike for parts still matches
        ("bike -(-helmet OR lock)", ["lock"]),  # bike AND helmet AND NOT lock
        ("bike", []),
    ],
)
def test_excluded_terms(query: str, excluded: list[str]) -> None:
    parsed = parse_query(query)
    assert parsed.excluded_terms() == excluded
    for term in excluded:  # a listing that contains an excluded term never matches
        assert not parsed.matches(f"bike helmet trike {term}")


def test_required_terms_of_pure_or_query_is_empty() -> None:
    assert parse_query("trek OR giant").required_terms() == []
    assert parse_query("trek OR giant").terms() == ["trek", "giant"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ('"red bike', 'unclosed quote after "red bike'),
        ('bike "a very long phrase that goes on and on', 'unclosed quote after "a very long phrase that goes o'),
        ("", "enter at least one word to search for"),
        ("   ", "enter at least one word to search for"),
        ("() - !!", "enter at least one word to search for"),
        ("-parts", '"-parts" would match listings that contain none of its words; add a word to look for'),
        ("NOT parts", '"NOT parts" would match listings that contain none of its words; add a word to look for'),
        (
            "bike OR -parts",
            '"bike OR -parts" would match listings that contain none of its words; add a word to look for',
        ),
        ("bike OR", '"OR" needs a word on both sides'),
        ("bike AND", '"AND" needs a word on both sides'),
        ("bike | ", '"|" needs a word on both sides'),
        ("bike AND OR car", '"AND" needs a word on both sides'),
        ("OR bike", '"OR" needs a word before it'),
        ("bike NOT", '"NOT" needs a word after it'),
        ("bike (", 'unclosed parenthesis: a "(" has no matching ")"'),
        ("bike -)", '"-" needs a word after it'),
        ("(bike OR car", 'unclosed parenthesis: a "(" has no matching ")"'),
        ("bike)", 'unexpected ")" without a matching "("'),
        ("bike () car", 'empty parentheses "()"'),
        ("(" * (MAX_DEPTH + 1) + "a" + ")" * (MAX_DEPTH + 1), f"the query is nested more than {MAX_DEPTH} levels deep"),
        ("a " + "NOT " * (MAX_DEPTH + 1) + "b", f"the query is nested more than {MAX_DEPTH} levels deep"),
        ("a" * (MAX_QUERY_LENGTH + 1), f"the query is longer than {MAX_QUERY_LENGTH} characters"),
        (
            " ".join(f"w{i}" for i in range(MAX_TERMS + 1)),
            f"the query has more than {MAX_TERMS} words and phrases",
        ),
    ],
)
def test_refused_queries_say_why(query: str, message: str) -> None:
    with pytest.raises(QueryError) as caught:
        parse_query(query)
    assert str(caught.value) == message


def test_limits_are_inclusive() -> None:
    assert str(parse_query("(" * MAX_DEPTH + "a" + ")" * MAX_DEPTH)) == "a"
    assert parse_query(" ".join(f"w{i}" for i in range(MAX_TERMS))).matches(" ".join(f"w{i}" for i in range(MAX_TERMS)))
    long_query = ("ab " * MAX_QUERY_LENGTH)[:MAX_QUERY_LENGTH]
    assert str(parse_query(long_query)) == "ab"


def test_query_error_is_a_value_error() -> None:
    assert issubclass(QueryError, ValueError)


# --- properties --------------------------------------------------------------------------------

_VOCABULARY = ["bike", "trek", "red", "café", "box", "12", "e-bike", "parts"]
_TEXT_WORDS = ["bike", "bikes", "trek", "Red", "cafe", "boxes", "12", "E-Bike", "parts", "e", "car"]


def _expressions() -> st.SearchStrategy[str]:
    word = st.sampled_from(_VOCABULARY) | st.sampled_from(_VOCABULARY).map(lambda w: f"{w[:2]}*")
    phrase = st.lists(st.sampled_from(_VOCABULARY), min_size=2, max_size=3).map(lambda ws: '"' + " ".join(ws) + '"')
    leaf = word | phrase
    return st.recursive(
        leaf,
        lambda inner: st.one_of(
            st.tuples(inner, inner).map(lambda pair: f"{pair[0]} {pair[1]}"),
            st.tuples(inner, inner).map(lambda pair: f"{pair[0]} AND {pair[1]}"),
            st.tuples(inner, inner).map(lambda pair: f"{pair[0]} OR {pair[1]}"),
            inner.map(lambda e: f"-({e})"),
            inner.map(lambda e: f"({e})"),
        ),
        max_leaves=8,
    )


_texts = st.lists(st.sampled_from(_TEXT_WORDS), max_size=8).map(" ".join)


@settings(max_examples=200, deadline=None)
@given(expression=_expressions(), texts=st.lists(_texts, min_size=1, max_size=8))
def test_normalised_form_parses_to_an_equivalent_query(expression: str, texts: list[str]) -> None:
    try:
        query = parse_query(expression)
    except QueryError:
        return  # e.g. "-(bike)" alone: refused, nothing to compare
    reparsed = parse_query(str(query))
    assert str(reparsed) == str(query)
    for text in texts:
        assert reparsed.matches(text) == query.matches(text)


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=60))
def test_any_input_parses_or_is_refused_cleanly(text: str) -> None:
    try:
        query = parse_query(text)
    except QueryError as error:
        assert str(error)
    else:
        assert str(query)
        assert not query.matches("")


@settings(max_examples=300, deadline=None)
@given(expression=_expressions(), text=_texts)
def test_terms_required_terms_and_excluded_terms_hold_for_matches(expression: str, text: str) -> None:
    if "*" in expression:
        return  # terms() drops the "*", so a prefix term is not re-checkable as a word
    try:
        query = parse_query(expression)
    except QueryError:
        return

    def contains(term: str) -> bool:
        return parse_query(f'"{term}"').matches(text)

    if query.matches(text):
        assert any(contains(term) for term in query.terms())
        assert all(contains(term) for term in query.required_terms())
        assert not any(contains(term) for term in query.excluded_terms())
