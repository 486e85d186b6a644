"""Validation of feedback fields: normalised values, and a message a person understands for each problem."""

from __future__ import annotations

import pytest

from spyglass.core.errors import InvalidInput
from spyglass.feedback.schemas import parse_feedback, parse_filters, parse_status

MAX = 200


def problems(raw: dict[str, object]) -> dict[str, str]:
    with pytest.raises(InvalidInput) as caught:
        parse_feedback(raw, max_message_length=MAX)
    return dict(caught.value.detail)


def test_valid_feedback_is_normalised() -> None:
    parsed = parse_feedback(
        {"kind": " Bug ", "message": "  The page breaks\nwhen I click.  ", "page_url": " /account ", "rating": "4"},
        max_message_length=MAX,
    )
    assert (parsed.kind, parsed.message, parsed.page_url, parsed.rating) == (
        "bug",
        "The page breaks\nwhen I click.",
        "/account",
        4,
    )


def test_optional_fields_may_be_left_out() -> None:
    parsed = parse_feedback(
        {"kind": "question", "message": "How?", "page_url": "", "rating": ""}, max_message_length=MAX
    )
    assert parsed.page_url is None and parsed.rating is None
    assert parse_feedback({"kind": "other", "message": "Hi", "rating": None}, max_message_length=MAX).rating is None


def test_missing_kind_and_message_are_named() -> None:
    found = problems({})
    assert found["kind"].startswith("Choose what kind of feedback")
    assert found["message"] == "Write a message."


@pytest.mark.parametrize("kind", ["praise", "BUGS", "1"])
def test_unknown_kinds_are_refused(kind: str) -> None:
    assert problems({"kind": kind, "message": "x"}) == {"kind": "Choose one of: bug, feature, question, other."}


def test_a_message_over_the_limit_says_how_long_it_is() -> None:
    assert problems({"kind": "bug", "message": "x" * (MAX + 1)})["message"] == (
        f"Use at most {MAX} characters (this one has {MAX + 1})."
    )


@pytest.mark.parametrize("message", ["nul\x00byte", "escape\x1b[31m"])
def test_control_characters_are_refused_but_newlines_and_tabs_are_kept(message: str) -> None:
    assert "control characters" in problems({"kind": "bug", "message": message})["message"]
    assert parse_feedback({"kind": "bug", "message": "a\tb\r\nc"}, max_message_length=MAX).message == "a\tb\r\nc"


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "ftp://example.test/x", "//evil.test/x", "example.test/page", "https:///x"]
)
def test_page_urls_must_be_web_addresses_or_paths(url: str) -> None:
    assert problems({"kind": "bug", "message": "m", "page_url": url})["page_url"].startswith("Give the page's address")


def test_page_urls_with_spaces_or_too_long_are_refused() -> None:
    assert "no spaces" in problems({"kind": "bug", "message": "m", "page_url": "/a b"})["page_url"]
    too_long = "https://example.test/" + "a" * 2048
    assert (
        problems({"kind": "bug", "message": "m", "page_url": too_long})["page_url"] == "Use at most 2,048 characters."
    )


@pytest.mark.parametrize("url", ["https://spyglass.example.test/market?q=1", "http://localhost:8000/", "/admin/users"])
def test_good_page_urls_are_kept(url: str) -> None:
    assert parse_feedback({"kind": "bug", "message": "m", "page_url": url}, max_message_length=MAX).page_url == url


@pytest.mark.parametrize("rating", [0, 6, -1, "seven", "3.5", True, 2.0])
def test_ratings_outside_one_to_five_are_refused(rating: object) -> None:
    assert problems({"kind": "bug", "message": "m", "rating": rating}) == {
        "rating": "Rate from 1 to 5, or leave the rating out."
    }


def test_status_and_filters() -> None:
    assert parse_status("In progress") == "in_progress"
    with pytest.raises(InvalidInput) as caught:
        parse_status("done")
    assert caught.value.detail == {"status": "Choose one of: new, in_progress, resolved, closed."}
    assert parse_filters(status="", kind=None).status is None
    filters = parse_filters(status="resolved", kind="Feature")
    assert (filters.status, filters.kind) == ("resolved", "feature")
    with pytest.raises(InvalidInput) as caught:
        parse_filters(status="nope", kind="nope")
    assert set(caught.value.detail) == {"status", "kind"}
