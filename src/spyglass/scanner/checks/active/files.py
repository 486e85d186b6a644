"""Exposed sensitive files (.git, .env, backups, dumps, server status pages): a GET of each well-known path,
reported only when the content matches what such a file contains (not merely a 200)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urljoin

from spyglass.scanner.checks.base import CheckContext
from spyglass.scanner.checks.passive._base import CheckBase, send
from spyglass.scanner.checks.passive._evidence import mark_match, request_excerpt, response_excerpt
from spyglass.scanner.contract import FindingCandidate


@dataclass(frozen=True)
class SensitiveFile:
    path: str
    signature: re.Pattern[str]
    what: str


def _file(path: str, pattern: str, what: str) -> SensitiveFile:
    return SensitiveFile(path, re.compile(pattern, re.MULTILINE), what)


SENSITIVE_FILES = (
    _file("/.git/HEAD", r"^ref: refs/heads/\S+|^[0-9a-f]{40}$", "Git repository metadata (source code can be rebuilt)"),
    _file("/.git/config", r"^\[core\]\s*$", "Git repository configuration"),
    _file("/.svn/entries", r"^\d+\s*$\n^dir$|^svn:", "Subversion metadata"),
    _file("/.hg/hgrc", r"^\[paths\]", "Mercurial configuration"),
    _file(
        "/.env",
        r"^(?:[A-Z][A-Z0-9_]*(?:KEY|SECRET|PASSWORD|PASS|TOKEN|DATABASE_URL|DB_\w+)\w*)\s*=\s*\S+",
        "environment file with credentials",
    ),
    _file("/.env.production", r"^[A-Z][A-Z0-9_]*(?:KEY|SECRET|PASSWORD|TOKEN)\w*\s*=\s*\S+", "environment file"),
    _file("/backup.sql", r"^(?:CREATE TABLE|INSERT INTO|-- MySQL dump|-- PostgreSQL database dump)", "database dump"),
    _file("/dump.sql", r"^(?:CREATE TABLE|INSERT INTO|-- MySQL dump|-- PostgreSQL database dump)", "database dump"),
    _file("/database.sql", r"^(?:CREATE TABLE|INSERT INTO|-- MySQL dump|-- PostgreSQL database dump)", "database dump"),
    _file("/wp-config.php.bak", r"DB_PASSWORD|<\?php", "WordPress configuration backup"),
    _file("/config.php.bak", r"<\?php", "PHP configuration backup"),
    _file("/.htpasswd", r"^[\w.-]+:(?:\$apr1\$|\$2[aby]\$|\{SHA\})", "password hashes"),
    _file("/.DS_Store", r"Bud1", "macOS folder index (lists file names)"),
    _file("/phpinfo.php", r"<title>phpinfo\(\)</title>|PHP Version \d", "phpinfo() page"),
    _file("/server-status", r"Apache Server Status for", "Apache server status"),
    _file("/.aws/credentials", r"^aws_secret_access_key\s*=", "AWS credentials"),
    _file("/id_rsa", r"-----BEGIN (?:RSA|OPENSSH) PRIVATE KEY-----", "private SSH key"),
)


class ExposedFilesCheck(CheckBase):
    """Requests each well-known sensitive path once at the site's root."""

    id = "exposed-files"
    family = "files"
    active = True

    async def scan(self, ctx: CheckContext) -> None:
        for item in SENSITIVE_FILES:
            url = urljoin(ctx.plan.base_url, item.path)
            exchange = await send(ctx, "GET", url)
            if exchange is None or exchange.status != 200:
                continue
            match = item.signature.search(exchange.body[:20_000])
            if match is None:
                continue
            await ctx.report(
                FindingCandidate(
                    type_id="exposed-sensitive-file",
                    url=url,
                    evidence=f"{item.what}: {mark_match(exchange.body, match)}",
                    request=request_excerpt(exchange),
                    response=response_excerpt(exchange, needle=match.group(0)),
                    confidence="confirmed",
                    details={"file": item.path, "what": item.what},
                )
            )


CHECKS = [ExposedFilesCheck()]
