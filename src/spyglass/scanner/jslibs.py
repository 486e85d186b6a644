"""Vulnerable JavaScript libraries: recognise a library and its version, and list its known vulnerabilities.

The signatures live in ``jslibs.json`` next to this module (maintained by hand, like retire.js's list):
file-name and content patterns capture the version; each vulnerability names the version range it affects.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

DATA_FILE = Path(__file__).with_name("jslibs.json")


@dataclass(frozen=True)
class Vulnerability:
    """Versions ``at_or_above`` (when given) and below ``below`` are affected."""

    below: str
    severity: str
    ids: tuple[str, ...]
    summary: str
    reference: str
    at_or_above: str | None = None

    def affects(self, version: str) -> bool:
        parsed = parse_version(version)
        lower_ok = self.at_or_above is None or parsed >= parse_version(self.at_or_above)
        return lower_ok and parsed < parse_version(self.below)


@dataclass(frozen=True)
class Library:
    name: str
    filename: tuple[re.Pattern[str], ...]
    content: tuple[re.Pattern[str], ...]
    vulnerabilities: tuple[Vulnerability, ...]


@dataclass(frozen=True)
class Detection:
    """A library found in a script, how it was recognised, and the vulnerabilities of that version."""

    library: str
    version: str
    source: str  # "filename" or "content"
    vulnerabilities: tuple[Vulnerability, ...]


def parse_version(version: str) -> tuple[int, ...]:
    """``"1.8.3"`` → ``(1, 8, 3)``; non-numeric parts count as 0."""
    return tuple(int(part) if part.isdigit() else 0 for part in re.split(r"[.-]", version)[:4])


def _library(entry: dict[str, Any]) -> Library:
    return Library(
        name=entry["name"],
        filename=tuple(re.compile(p, re.IGNORECASE) for p in entry["filename"]),
        content=tuple(re.compile(p) for p in entry["content"]),
        vulnerabilities=tuple(
            Vulnerability(
                below=v["below"],
                severity=v["severity"],
                ids=tuple(v["ids"]),
                summary=v["summary"],
                reference=v["reference"],
                at_or_above=v.get("at_or_above"),
            )
            for v in entry["vulnerabilities"]
        ),
    )


@cache
def libraries() -> tuple[Library, ...]:
    """The signature list, loaded once."""
    return tuple(_library(entry) for entry in json.loads(DATA_FILE.read_text())["libraries"])


def detect(url: str, content: str = "") -> list[Detection]:
    """The libraries ``url`` / ``content`` contain, with their version's known vulnerabilities.

    The content's banner wins over the file name (files are often renamed, banners rarely lie).
    """
    file_name = urlsplit(url).path.rsplit("/", 1)[-1]
    head = content[:5000]
    found = []
    for library in libraries():
        version, source = None, ""
        for pattern in library.content:
            match = pattern.search(head)
            if match:
                version, source = match.group(1), "content"
                break
        if version is None:
            for pattern in library.filename:
                match = pattern.fullmatch(file_name)
                if match:
                    version, source = match.group(1), "filename"
                    break
        if version is not None:
            affected = tuple(v for v in library.vulnerabilities if v.affects(version))
            found.append(Detection(library.name, version, source, affected))
    return found
