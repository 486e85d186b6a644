"""Turning an event and its payload into what a channel sends: an email (subject, plain text, HTML
with the CSS inlined) or a short text for chat services.

Templates live in ``web/templates/email/<name>.{html,txt}`` and ``web/templates/notifications/chat/<name>.txt``.
HTML templates autoescape everything, so a scraped listing title or a finding payload holding
``<script>`` arrives as text; links from payloads pass ``safe_url`` (http and https only).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import css_inline
from jinja2 import Environment, FileSystemLoader, Undefined, select_autoescape

from spyglass.notifications import outbox
from spyglass.web.templating import TEMPLATES_DIR

EVENT_DIGEST = "digest"


@dataclass(frozen=True)
class Message:
    """One rendered notification."""

    subject: str
    text: str
    html: str
    short: str


def safe_url(value: Any) -> str:
    """``value`` when it is an absolute http(s) URL, else ``#`` (no ``javascript:`` from a scraped page)."""
    text = str(value or "").strip()
    try:
        scheme = urlsplit(text).scheme.lower()
    except ValueError:
        return "#"
    return text if scheme in ("http", "https") else "#"


def money(value: Any, currency: Any = "") -> str:
    """A price for people: ``1,234.50 USD``."""
    if isinstance(value, Undefined) or value is None:
        return ""
    if isinstance(currency, Undefined) or currency is None:
        currency = ""
    try:
        amount = f"{float(value):,.2f}"
    except (TypeError, ValueError):
        return str(value or "")
    return f"{amount} {currency}".strip()


def _clip(value: Any, length: int = 200) -> str:
    text = " ".join(str(value or "").split())
    return text if len(text) <= length else text[: length - 1] + "…"


# Media queries stay in a <style> block (mail clients that honour them get the narrow layout);
# never fetch remote stylesheets while rendering.
_INLINER = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)


@functools.cache
def _environment() -> Environment:
    # .html templates escape everything; .txt ones are plain text (no markup to inject into).
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True, default=False),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,  # no stat() of every template file per message: templates change with a deploy
    )
    env.filters.update({"safe_url": safe_url, "money": money, "clip": _clip})
    return env


#: event → (template name, subject from the payload)
_TEMPLATES: dict[str, tuple[str, Callable[[dict[str, Any]], str]]] = {
    outbox.EVENT_WELCOME: ("welcome", lambda p: "Welcome to Spyglass"),
    outbox.EVENT_VERIFY_EMAIL: ("verify_email", lambda p: "Confirm your email address for Spyglass"),
    outbox.EVENT_RESET_PASSWORD: ("reset_password", lambda p: "Reset your Spyglass password"),
    outbox.EVENT_CHANGE_EMAIL: ("change_email", lambda p: "Confirm your new email address for Spyglass"),
    outbox.EVENT_NEW_LISTINGS: (
        "new_listings",
        lambda p: f"{len(p.get('listings') or [])} new listing(s) for {_clip(p.get('search_name'), 80)}",
    ),
    outbox.EVENT_PRICE_DROP: ("price_drop", lambda p: f"Price drop: {_clip(p.get('title'), 80)}"),
    outbox.EVENT_SCAN_COMPLETED: (
        "scan_completed",
        lambda p: f"Scan completed for {_clip(p.get('target_url'), 80)}: risk {p.get('risk_score', '?')}/100",
    ),
    outbox.EVENT_HIGH_RISK_FINDING: ("high_risk_finding", lambda p: f"High-risk finding: {_clip(p.get('title'), 80)}"),
    outbox.EVENT_FEEDBACK_ANSWERED: (
        "feedback_answered",
        lambda p: f"An answer to your feedback: {_clip(p.get('subject'), 80)}",
    ),
    outbox.EVENT_ADMIN_ALERT: ("admin_alert", lambda p: f"[Spyglass admin] {_clip(p.get('title'), 100)}"),
    outbox.EVENT_WEEKLY_SUMMARY: ("weekly_summary", lambda p: "Your Spyglass week"),
    outbox.EVENT_CHANNEL_TEST: ("channel_test", lambda p: "Spyglass test notification"),
    outbox.EVENT_CHANNEL_VERIFY: ("channel_verify", lambda p: "Confirm this address for Spyglass notifications"),
    EVENT_DIGEST: ("digest", lambda p: f"Spyglass digest: {len(p.get('entries') or [])} update(s)"),
}


def known_events() -> frozenset[str]:
    """Events that have templates."""
    return frozenset(_TEMPLATES)


def render(
    event: str,
    payload: dict[str, Any],
    *,
    base_url: str,
    username: str,
    unsubscribe_url: str | None,
    email: bool = True,
    chat: bool = True,
) -> Message:
    """Render ``event`` for people: subject, text, HTML (CSS inlined) and the chat text. ``email=False``
    leaves text and HTML empty, ``chat=False`` the chat text (the dispatcher renders only what the
    channel sends: inlining the CSS is the costliest step and chat services never use it)."""
    name, subject_of = _TEMPLATES[event]
    base = base_url.rstrip("/")
    context = {
        "p": payload,
        "base_url": base,
        "username": username,
        "unsubscribe_url": unsubscribe_url,
        "settings_url": f"{base}/notifications",
        "event": event,
        "subject_of": subject_of_event,
    }
    subject = _clip(subject_of(payload), 200)
    context["subject"] = subject
    text = html = short = ""
    if email:
        text = _environment().get_template(f"email/{name}.txt").render(context)
        html = _INLINER.inline(_environment().get_template(f"email/{name}.html").render(context))
    if chat:
        short = _environment().get_template(f"notifications/chat/{name}.txt").render(context).strip()
    return Message(subject=subject, text=text, html=html, short=short)


def subject_of_event(event: str, payload: dict[str, Any]) -> str:
    """The one-line summary of an event (digests list these)."""
    entry = _TEMPLATES.get(event)
    return _clip(entry[1](payload), 200) if entry else event
