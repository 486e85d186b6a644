"""The text patterns checks recognise, on samples of real error pages and bodies (and near misses)."""

from __future__ import annotations

import pytest

from spyglass.scanner.checks.active.sqli import DATABASE_ERRORS
from spyglass.scanner.checks.passive.content import DIRECTORY_LISTING
from spyglass.scanner.checks.passive.disclosure import PRIVATE_IP, STACK_TRACES


@pytest.mark.parametrize(
    "body",
    [
        'Traceback (most recent call last):\n  File "/srv/app.py", line 3, in <module>',
        "java.lang.NullPointerException\n\tat com.shop.web.CartController.add(CartController.java:42)",
        "<b>Fatal error</b>:  Uncaught Error: Call to undefined function foo() in /var/www/index.php on line <b>7</b>",
        "<title>Server Error in '/' Application.</title>",
        "You're seeing this error because you have <code>DEBUG = True</code> in your Django settings file.",
        "TypeError: x is undefined\n    at handler (/srv/app/server.js:12:5)",
    ],
)
def test_stack_traces_and_debug_pages(body: str) -> None:
    assert any(pattern.search(body) for pattern in STACK_TRACES)


@pytest.mark.parametrize(
    "body", ["An error occurred. Please try again.", "at least 3 items (see page 4)", "Warning: low stock"]
)
def test_ordinary_error_text_is_not_a_stack_trace(body: str) -> None:
    assert not any(pattern.search(body) for pattern in STACK_TRACES)


@pytest.mark.parametrize(
    ("body", "found"),
    [
        ("backend 10.0.3.17 answered", "10.0.3.17"),
        ("db at 192.168.1.20:5432", "192.168.1.20"),
        ("proxy 172.16.0.1.", "172.16.0.1"),
        ("public 172.32.0.1", None),
        ("version 110.0.3.17", None),
        ("build 10.0.3.17.5", None),
        ("loopback 127.0.0.1", None),
    ],
)
def test_private_addresses(body: str, found: str | None) -> None:
    match = PRIVATE_IP.search(body)
    assert (match.group(0) if match else None) == found


@pytest.mark.parametrize(
    "body",
    [
        'sqlite3.OperationalError: unrecognized token: "\'"',
        "You have an error in your SQL syntax; check the manual that corresponds to your MySQL server version",
        'ERROR:  syntax error at or near "\'" LINE 1',
        "ORA-01756: quoted string not properly terminated",
        "Unclosed quotation mark after the character string ''.",
        "SQLSTATE[42000]: Syntax error or access violation",
    ],
)
def test_database_errors(body: str) -> None:
    assert DATABASE_ERRORS.search(body)


def test_directory_listings() -> None:
    assert DIRECTORY_LISTING.search("<html><head><title>Index of /backup</title></head>")
    assert DIRECTORY_LISTING.search("<title>Directory listing for /</title>")
    assert not DIRECTORY_LISTING.search("<title>Index of products</title>")
