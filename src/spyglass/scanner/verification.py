"""Proof that a user controls a target: a token file, a meta tag or a DNS TXT record.

Each target has its own random token. The proof is any one of:

- ``<base>/.well-known/spyglass-verification.txt`` whose content contains the token;
- ``<meta name="spyglass-verification" content="TOKEN">`` on the base URL's page;
- a TXT record ``spyglass-verification=TOKEN`` on the target's host name.

HTTP proofs are fetched through ``services.fetcher`` (URL policy, politeness, size cap); DNS proofs
ask the servers in ``scanner_dns_nameservers`` (or the system's). Hosts in ``SPYGLASS_VERIFIED_TARGETS``
count as proven without a check.
"""

from __future__ import annotations

import ipaddress
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import dns.asyncresolver
import dns.exception
import dns.nameserver
import dns.resolver
from selectolax.lexbor import LexborHTMLParser

from spyglass.config import Settings
from spyglass.core.fetch import Fetcher, FetchError
from spyglass.core.urlpolicy import TargetList
from spyglass.scanner.models import VerificationMethod

WELL_KNOWN_PATH = "/.well-known/spyglass-verification.txt"
META_NAME = "spyglass-verification"
TXT_PREFIX = "spyglass-verification="
PROOF_MAX_BYTES = 512_000
METHODS = (VerificationMethod.FILE, VerificationMethod.META, VerificationMethod.DNS)


def new_token() -> str:
    """A fresh verification token (URL- and DNS-safe)."""
    return "sgv-" + secrets.token_hex(16)


@dataclass(frozen=True)
class VerificationResult:
    """The outcome of one check: whether it proved ownership, by which method, and what was seen."""

    verified: bool
    method: VerificationMethod | None
    message: str


def origin_of(base_url: str) -> str:
    """``scheme://host[:port]`` of a URL."""
    parts = urlsplit(base_url)
    return urlunsplit((parts.scheme, parts.netloc, "", "", ""))


def proof_file_url(base_url: str) -> str:
    """Where the token file must be served."""
    return origin_of(base_url) + WELL_KNOWN_PATH


def is_allow_listed(settings: Settings, host: str) -> bool:
    """Whether the operator vouches for ``host`` in ``SPYGLASS_VERIFIED_TARGETS``."""
    listed = TargetList.parse(settings.verified_targets)
    if not listed:
        return False
    if listed.matches_host(host):
        return True
    try:
        return listed.matches_address(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return False


def _left_the_host(base_url: str, final_url: str) -> str | None:
    """Why a proof that redirected to another host does not count (None when it stayed)."""
    wanted = (urlsplit(base_url).hostname or "").lower()
    landed = (urlsplit(final_url).hostname or "").lower()
    if landed == wanted:
        return None
    return f"The proof must be served by {wanted} itself; the request was redirected to {landed}."


async def check_file(fetcher: Fetcher, base_url: str, token: str) -> VerificationResult:
    """The token file under ``/.well-known/``."""
    url = proof_file_url(base_url)
    try:
        result = await fetcher.fetch(url, max_bytes=PROOF_MAX_BYTES, truncate=True, raise_for_status=False)
    except FetchError as exc:
        return VerificationResult(False, None, f"{url}: {exc.message}")
    if moved := _left_the_host(base_url, result.url):
        return VerificationResult(False, None, moved)
    if result.status_code != 200:
        return VerificationResult(False, None, f"{url} answered {result.status_code}, not 200.")
    if token not in result.text.split():
        return VerificationResult(False, None, f"{url} does not contain this target's token.")
    return VerificationResult(True, VerificationMethod.FILE, f"Token file found at {url}.")


async def check_meta(fetcher: Fetcher, base_url: str, token: str) -> VerificationResult:
    """The ``<meta name="spyglass-verification">`` tag on the base URL's page."""
    try:
        result = await fetcher.fetch(base_url, max_bytes=PROOF_MAX_BYTES, truncate=True, raise_for_status=False)
    except FetchError as exc:
        return VerificationResult(False, None, f"{base_url}: {exc.message}")
    if moved := _left_the_host(base_url, result.url):
        return VerificationResult(False, None, moved)
    if result.status_code != 200:
        return VerificationResult(False, None, f"{base_url} answered {result.status_code}, not 200.")
    tree = LexborHTMLParser(result.text)
    values = [
        (node.attributes.get("content") or "").strip()
        for node in tree.css("meta")
        if (node.attributes.get("name") or "").strip().lower() == META_NAME
    ]
    if not values:
        return VerificationResult(False, None, f'{base_url} has no <meta name="{META_NAME}"> tag.')
    if token not in values:
        return VerificationResult(False, None, f"The {META_NAME} meta tag on {base_url} holds another token.")
    return VerificationResult(True, VerificationMethod.META, f"Meta tag found on {base_url}.")


def _resolver(settings: Settings) -> dns.asyncresolver.Resolver:
    configured = [entry.strip() for entry in settings.scanner_dns_nameservers.split(",") if entry.strip()]
    resolver = dns.asyncresolver.Resolver(configure=not configured)
    if configured:
        servers: list[str | dns.nameserver.Nameserver] = []
        for entry in configured:
            host, _, port = entry.rpartition(":") if entry.count(":") == 1 else (entry, "", "")
            servers.append(dns.nameserver.Do53Nameserver(host, int(port) if port else 53))
        resolver.nameservers = servers
    resolver.lifetime = settings.scanner_dns_timeout_seconds
    resolver.timeout = settings.scanner_dns_timeout_seconds
    return resolver


def is_ip_address(host: str) -> bool:
    """Whether ``host`` is an IP address (which has no TXT records of its own)."""
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


async def check_dns(settings: Settings, host: str, token: str) -> VerificationResult:
    """A TXT record ``spyglass-verification=TOKEN`` on ``host``."""
    if is_ip_address(host):
        return VerificationResult(False, None, f"{host} is an IP address; DNS proof needs a host name.")
    try:
        answer = await _resolver(settings).resolve(host, "TXT")
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return VerificationResult(False, None, f"{host} has no TXT record.")
    except dns.exception.DNSException as exc:
        return VerificationResult(False, None, f"The DNS lookup of {host} failed ({type(exc).__name__}).")
    texts = [b"".join(record.strings).decode("utf-8", "replace").strip() for record in answer]
    if f"{TXT_PREFIX}{token}" in texts:
        return VerificationResult(True, VerificationMethod.DNS, f"TXT record found on {host}.")
    return VerificationResult(False, None, f"No TXT record of {host} holds {TXT_PREFIX}<this target's token>.")


async def verify(
    *,
    settings: Settings,
    fetcher: Fetcher,
    base_url: str,
    host: str,
    token: str,
    method: VerificationMethod | None = None,
) -> VerificationResult:
    """Check one method, or every method in turn until one proves ownership (``method=None``)."""
    if is_allow_listed(settings, host):
        return VerificationResult(True, VerificationMethod.ALLOW_LIST, f"{host} is vouched for by the operator.")
    methods = [method] if method is not None else list(METHODS)
    failures: list[str] = []
    for candidate in methods:
        if candidate == VerificationMethod.FILE:
            result = await check_file(fetcher, base_url, token)
        elif candidate == VerificationMethod.META:
            result = await check_meta(fetcher, base_url, token)
        else:
            result = await check_dns(settings, host, token)
        if result.verified:
            return result
        failures.append(result.message)
    return VerificationResult(False, None, " ".join(failures))
