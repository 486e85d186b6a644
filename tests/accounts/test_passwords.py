"""The password policy, on its own (no database)."""

from __future__ import annotations

from pathlib import Path

import pytest

from spyglass.accounts.passwords import MAX_PASSWORD_LENGTH, password_problems
from spyglass.config import Settings
from tests.conftest import make_settings


@pytest.fixture
def policy_settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path, "sqlite+aiosqlite:///:memory:")


def test_good_password_has_no_problems(policy_settings: Settings) -> None:
    assert password_problems("violet tractor lantern", settings=policy_settings, username="ann") == []


@pytest.mark.parametrize(
    ("password", "expected"),
    [
        ("", "Enter a password."),
        ("short1", "Use at least 8 characters."),
        ("x" * (MAX_PASSWORD_LENGTH + 1), f"Use at most {MAX_PASSWORD_LENGTH} characters."),
        ("password", "most common"),
        ("PassWord123", "most common"),
        ("qwertyuiop", "most common"),
    ],
)
def test_rejections(policy_settings: Settings, password: str, expected: str) -> None:
    problems = password_problems(password, settings=policy_settings)
    assert any(expected in problem for problem in problems), problems


def test_minimum_length_comes_from_settings(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, "sqlite+aiosqlite:///:memory:", password_min_length=12)
    assert password_problems("violet tract", settings=settings) == []
    assert password_problems("violet trac", settings=settings) == ["Use at least 12 characters."]


def test_optional_character_rules(tmp_path: Path) -> None:
    strict = make_settings(
        tmp_path,
        "sqlite+aiosqlite:///:memory:",
        password_require_upper=True,
        password_require_digit=True,
        password_require_special=True,
    )
    problems = password_problems("violet tractor", settings=strict)
    assert "Include at least one upper-case letter." in problems
    assert "Include at least one number." in problems
    assert not any("special" in problem for problem in problems)  # the space counts as special
    assert any("special" in p for p in password_problems("VioletTractor9", settings=strict))
    assert password_problems("Violet-Tractor9", settings=strict) == []


def test_personal_parts_refused(policy_settings: Settings) -> None:
    assert "Do not use your username in your password." in password_problems(
        "xxMarvelousAnnaxx", settings=policy_settings, username="marvelousanna"
    )
    assert "Do not use your email address in your password." in password_problems(
        "my-bluebird-2024", settings=policy_settings, email="Bluebird@example.test"
    )
    # Tiny usernames are not searched for (every password would contain "a").
    assert password_problems("violet tractor", settings=policy_settings, username="vi") == []
