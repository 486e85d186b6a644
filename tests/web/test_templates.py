"""Templates: the form macros render accessible fields, and no template carries inline script
or style (the CSP would block it: script-src 'self'; style-src 'self')."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from jinja2 import Environment
from litestar.contrib.jinja import JinjaTemplateEngine

from spyglass.web.templating import TEMPLATES_DIR

TEMPLATES = sorted(TEMPLATES_DIR.rglob("*.html"))
#: Pages served under the CSP; email templates are not (mail clients need inline styles).
PAGE_TEMPLATES = [path for path in TEMPLATES if path.relative_to(TEMPLATES_DIR).parts[0] != "email"]


class Elements(HTMLParser):
    """Every start tag with its attributes, in document order."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def by_id(self, element_id: str) -> tuple[str, dict[str, str | None]]:
        matches = [e for e in self.elements if e[1].get("id") == element_id]
        assert len(matches) == 1, f"expected one element with id {element_id!r}, found {len(matches)}"
        return matches[0]

    def first(self, tag: str) -> dict[str, str | None]:
        return next(attrs for name, attrs in self.elements if name == tag)


@pytest.fixture(scope="module")
def env() -> Environment:
    return JinjaTemplateEngine(directory=TEMPLATES_DIR).engine


def render(env: Environment, call: str) -> Elements:
    source = '{% from "macros/forms.html" import field, checkbox, select, textarea, errors_summary %}' + call
    parsed = Elements()
    parsed.feed(env.from_string(source).render())
    return parsed


def test_field_with_error_and_help_is_described_and_invalid(env: Environment) -> None:
    html = render(
        env,
        '{{ field("email", "Email address", type="email", value="a@b", error="Enter a valid email address.",'
        ' help="We send a link to confirm it.", required=true, autocomplete="email") }}',
    )

    field = html.first("input")
    assert field["id"] == "field-email"
    assert field["name"] == "email"
    assert field["type"] == "email"
    assert field["value"] == "a@b"
    assert field["aria-invalid"] == "true"
    assert "required" in field
    assert field["autocomplete"] == "email"
    described = (field["aria-describedby"] or "").split()
    assert described == ["field-email-help", "field-email-error"]
    assert html.by_id("field-email-error")[1]["class"] == "field-error"
    assert html.by_id("field-email-help")[1]["class"] == "field-help"
    assert html.first("label")["for"] == "field-email"
    assert "Enter a valid email address." in "".join(html.text)


def test_field_without_error_is_not_invalid(env: Environment) -> None:
    field = render(env, '{{ field("username", "Username") }}').first("input")

    assert "aria-invalid" not in field
    assert "aria-describedby" not in field
    assert field["type"] == "text"
    assert "value" not in field


def test_password_is_never_written_back(env: Environment) -> None:
    field = render(env, '{{ field("password", "Password", type="password", value="hunter2!!") }}').first("input")

    assert "value" not in field


def test_values_are_escaped(env: Environment) -> None:
    html = render(env, '{{ field("q", "Search", value="\\"><script>x</script>") }}')

    assert [tag for tag, _ in html.elements] == ["div", "label", "input"]
    assert html.first("input")["value"] == '"><script>x</script>'


def test_extra_keyword_arguments_become_attributes(env: Environment) -> None:
    field = render(env, '{{ field("username", "Username", minlength=3, autofocus=true, spellcheck="false") }}').first(
        "input"
    )

    assert field["minlength"] == "3"
    assert "autofocus" in field
    assert field["spellcheck"] == "false"


def test_checkbox_and_select(env: Environment) -> None:
    box = render(env, '{{ checkbox("notify", "Email me", checked=true, error="Nope") }}')
    assert box.first("input")["type"] == "checkbox"
    assert "checked" in box.first("input")
    assert box.first("input")["aria-describedby"] == "field-notify-error"
    assert box.first("label")["for"] == "field-notify"

    select = render(env, '{{ select("role", "Role", [("user", "User"), ("admin", "Administrator")], value="admin") }}')
    options = [attrs for tag, attrs in select.elements if tag == "option"]
    assert [o["value"] for o in options] == ["user", "admin"]
    assert "selected" in options[1] and "selected" not in options[0]
    assert select.first("label")["for"] == select.first("select")["id"] == "field-role"


def test_errors_summary_links_to_the_fields(env: Environment) -> None:
    html = render(env, '{{ errors_summary({"email": "Enter an email.", "password": "Too short."}) }}')

    assert html.first("div")["role"] == "alert"
    assert [attrs["href"] for tag, attrs in html.elements if tag == "a"] == ["#field-email", "#field-password"]
    assert render(env, "{{ errors_summary({}) }}").elements == []


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
STYLE_ATTRIBUTE = re.compile(r"\sstyle\s*=", re.IGNORECASE)
STYLE_ELEMENT = re.compile(r"<style[\s>]", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"\son[a-z]+\s*=\s*[\"']", re.IGNORECASE)
JS_URL = re.compile(r"href\s*=\s*[\"']\s*javascript:", re.IGNORECASE)


@pytest.mark.parametrize("template", PAGE_TEMPLATES, ids=lambda p: str(p.relative_to(TEMPLATES_DIR)))
def test_no_inline_script_or_style(template: Path) -> None:
    source = template.read_text()

    for name, pattern in {
        "inline <script>": INLINE_SCRIPT,
        "style= attribute": STYLE_ATTRIBUTE,
        "<style> element": STYLE_ELEMENT,
        "on*= event handler": EVENT_HANDLER,
        "javascript: URL": JS_URL,
    }.items():
        assert not pattern.search(source), f"{template.name} has an {name}, which the CSP blocks"


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: str(p.relative_to(TEMPLATES_DIR)))
def test_every_post_form_carries_the_csrf_field(template: Path) -> None:
    source = template.read_text()
    forms = re.findall(r"<form\b[^>]*method=\"post\"[^>]*>(.*?)</form>", source, re.IGNORECASE | re.DOTALL)

    for body in forms:
        assert "csrf_input" in body, f"a POST form in {template.name} has no {{{{ csrf_input | safe }}}}"
