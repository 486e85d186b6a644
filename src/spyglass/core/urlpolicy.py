"""The URL policy: which URLs the server may fetch for a user (no SSRF).

Only http and https, no credentials in the URL, and no address that reaches
inside the network: loopback, private, link-local, multicast, unspecified,
reserved, shared (carrier-grade NAT) and cloud metadata addresses are refused
after DNS resolution, including IPv6 forms that embed such an IPv4 address and
the numeric host spellings libc and browsers accept (``2130706433``,
``0177.0.0.1``, ``0x7f.1``, ``127.1``). ``SPYGLASS_ALLOW_PRIVATE_TARGETS``
(CIDR networks and host names) lets an operator permit some of them.

``check`` returns the addresses it approved; the fetcher connects only to those
(see ``core/fetch.py``), so DNS cannot change its answer between check and connect.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx

from spyglass.core.errors import SpyglassError

if TYPE_CHECKING:
    from spyglass.config import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[list[str]]]

MAX_URL_LENGTH = 8192
DEFAULT_PORTS = {"http": 80, "https": 443}

METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean...
        "169.254.170.2",  # AWS ECS task metadata
        "fd00:ec2::254",  # AWS over IPv6
        "100.100.100.200",  # Alibaba Cloud
        "168.63.129.16",  # Azure wire server (a public address)
        "192.0.0.192",  # Oracle Cloud
    )
)
SHARED_ADDRESS_SPACE = ipaddress.ip_network("100.64.0.0/10")
PRIVATE_V4 = tuple(ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
UNIQUE_LOCAL_V6 = ipaddress.IPv6Network("fc00::/7")
NAT64_PREFIXES = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))

_LABELS = {
    "metadata": "a cloud metadata address",
    "unspecified": "the unspecified address",
    "loopback": "a loopback address",
    "link_local": "a link-local address",
    "multicast": "a multicast address",
    "private": "a private-network address",
    "shared": "a shared (carrier-grade NAT) address",
    "reserved": "a reserved, non-public address",
}


class UrlRefused(SpyglassError):
    """The URL policy refuses this URL; ``code`` says why in one word, the message in a sentence."""

    status_code = 422
    default_message = "This URL cannot be fetched."

    def __init__(self, code: str, reason: str) -> None:
        self.code = code
        self.reason = reason
        super().__init__(f"This URL cannot be fetched: {reason}", detail={"url": reason})


class HostNotFound(UrlRefused):
    """The host name does not resolve; ``transient`` when DNS said "try again"."""

    def __init__(self, host: str, *, transient: bool) -> None:
        self.transient = transient
        why = "DNS did not answer in time" if transient else "no such host"
        super().__init__("unresolvable", f"{host} could not be resolved ({why}).")


@dataclass(frozen=True)
class TargetList:
    """A list of CIDR networks and host names (``.example.com`` or ``*.example.com`` also match subdomains)."""

    networks: tuple[IPNetwork, ...] = ()
    hosts: frozenset[str] = frozenset()
    suffixes: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> TargetList:
        """Parse the comma-separated settings format, e.g. ``127.0.0.0/8,::1,localhost``."""
        networks: list[IPNetwork] = []
        hosts: set[str] = set()
        suffixes: list[str] = []
        for raw in text.split(","):
            entry = raw.strip().lower().rstrip(".")
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                if entry.startswith(("*.", ".")):
                    suffixes.append("." + entry.lstrip("*."))
                else:
                    hosts.add(entry)
        return cls(tuple(networks), frozenset(hosts), tuple(suffixes))

    def __bool__(self) -> bool:
        return bool(self.networks or self.hosts or self.suffixes)

    def matches_host(self, host: str) -> bool:
        """Whether ``host`` (a name as written in a URL) is on the list."""
        name = host.lower().rstrip(".")
        return name in self.hosts or any(name.endswith(suffix) for suffix in self.suffixes)

    def matches_address(self, address: IPAddress) -> bool:
        """Whether ``address`` (or the IPv4 address an IPv6 form embeds) is in a listed network."""
        candidates: list[IPAddress] = [address]
        embedded = embedded_ipv4(address)
        if embedded is not None:
            candidates.append(embedded)
        return any(a in net for a in candidates for net in self.networks if a.version == net.version)


@dataclass(frozen=True)
class ResolvedTarget:
    """A URL the policy approved, with the addresses a connection to it may use (in order)."""

    url: str
    scheme: str
    host: str
    port: int
    addresses: tuple[str, ...]
    allow_listed: bool = False
    notes: tuple[str, ...] = field(default=())


def parse_ipv4_forms(host: str) -> ipaddress.IPv4Address | None:
    """The IPv4 address ``host`` spells the way browsers and inet_aton read it (``127.1``, ``0x7f.1``), or None."""
    parts = host.split(".")
    if len(parts) > 1 and parts[-1] == "":
        parts.pop()
    if not parts or len(parts) > 4:
        return None
    numbers = [_ipv4_part(part) for part in parts]
    if any(n is None for n in numbers):
        return None
    values = [n for n in numbers if n is not None]
    if any(n > 255 for n in values[:-1]) or values[-1] >= 256 ** (5 - len(values)):
        return None
    total = values[-1] + sum(n << (8 * (3 - i)) for i, n in enumerate(values[:-1]))
    return ipaddress.IPv4Address(total)


def _ipv4_part(part: str) -> int | None:
    digits, base = part, 10
    if part[:2].lower() == "0x":
        digits, base = part[2:], 16
        if not digits:
            return 0
    elif len(part) > 1 and part.startswith("0"):
        digits, base = part[1:], 8
    allowed = {10: "0123456789", 16: "0123456789abcdefABCDEF", 8: "01234567"}[base]
    if not digits or any(ch not in allowed for ch in digits):
        return None
    return int(digits, base)


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, compatible, 6to4, Teredo, NAT64), if any."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    value = int(address)
    if any(address in prefix for prefix in NAT64_PREFIXES):
        return ipaddress.IPv4Address(value & 0xFFFFFFFF)
    if 1 < value < 2**32:  # IPv4-compatible ::a.b.c.d (deprecated, still routed by some stacks)
        return ipaddress.IPv4Address(value)
    return None


@functools.lru_cache(maxsize=8192)
def classify(address: IPAddress) -> str | None:
    """Why ``address`` must not be fetched (a code of ``_LABELS``), or None for a public address."""
    embedded = embedded_ipv4(address)
    if embedded is not None:
        return classify(embedded)
    if address in METADATA_ADDRESSES:
        return "metadata"
    if address.is_unspecified:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link_local"
    if address.is_multicast:
        return "multicast"
    if address in SHARED_ADDRESS_SPACE:
        return "shared"
    if address.is_private and _is_private_network(address):
        return "private"
    if not address.is_global or address.is_reserved:
        return "reserved"
    return None


def _is_private_network(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv4Address):
        return any(address in network for network in PRIVATE_V4)
    return address in UNIQUE_LOCAL_V6 or address.is_site_local


def describe(address: IPAddress, code: str) -> str:
    """``address`` and what it is, in words ("::ffff:7f00:1 (an IPv6 form of 127.0.0.1), a loopback address")."""
    embedded = embedded_ipv4(address)
    shown = f"{address} (an IPv6 form of {embedded})" if embedded is not None else str(address)
    return f"{shown}, {_LABELS[code]}"


async def system_resolver(host: str, port: int) -> list[str]:
    """All A and AAAA addresses of ``host``, in the order getaddrinfo gives them."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class UrlPolicy:
    """Checks URLs against the policy; ``check`` returns the addresses a connection may use."""

    def __init__(
        self,
        *,
        allow: TargetList | str = "",
        resolver: Resolver = system_resolver,
        resolve_timeout: float = 10.0,
        dns_cache_seconds: float = 30.0,
    ) -> None:
        self.allow = TargetList.parse(allow) if isinstance(allow, str) else allow
        self._resolver = resolver
        self._resolve_timeout = resolve_timeout
        self._dns_cache_seconds = dns_cache_seconds
        self._dns_cache: dict[str, tuple[float, list[str]]] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> UrlPolicy:
        """The policy with the operator's allow-list (``SPYGLASS_ALLOW_PRIVATE_TARGETS``)."""
        return cls(allow=settings.allow_private_targets, resolve_timeout=settings.http_timeout_seconds)

    async def check(self, url: str | httpx.URL) -> ResolvedTarget:
        """Approve ``url`` and return where to connect, or raise ``UrlRefused`` saying why not."""
        text = str(url)
        if len(text) > MAX_URL_LENGTH:
            raise UrlRefused("invalid", f"the URL is longer than {MAX_URL_LENGTH} characters.")
        spelled_as: str | None = None
        try:
            parsed = httpx.URL(text)
            numeric = parse_ipv4_forms(parsed.host)
            needs_rewrite = numeric is not None and str(numeric) != parsed.host
        except httpx.InvalidURL:
            needs_rewrite = True  # httpx refuses "0177.0.0.1"; browsers and libc read it as 127.0.0.1
        except UnicodeError as exc:  # a malformed internationalised host name ("xn--")
            raise UrlRefused("invalid", f"{text!r} has a host name that is not valid ({exc}).") from exc
        if needs_rewrite:
            text, spelled_as = _canonical_numeric_host(text)
            try:
                parsed = httpx.URL(text)
            except (httpx.InvalidURL, UnicodeError) as exc:
                raise UrlRefused("invalid", f"{text!r} is not a valid URL ({exc}).") from exc
        scheme = parsed.scheme.lower()
        if scheme not in DEFAULT_PORTS:
            raise UrlRefused("scheme", f"only http and https URLs can be fetched, not {scheme or 'this'}: URLs.")
        if parsed.userinfo:
            raise UrlRefused("credentials", "URLs with a user name or password in them are not allowed.")
        host = parsed.raw_host.decode("ascii")
        if not host:
            raise UrlRefused("no_host", "the URL has no host name.")
        port = parsed.port or DEFAULT_PORTS[scheme]
        notes = () if parsed.port in (None, DEFAULT_PORTS[scheme]) else (f"non-standard port {port}",)
        host_allowed = self.allow.matches_host(host)
        literal = _literal_address(host)
        if literal is not None:
            addresses = [literal]
        else:
            addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in await self._resolve(host, port)]
        for address in addresses:
            code = classify(address)
            if code is None or host_allowed or self.allow.matches_address(address):
                continue
            if literal is None:
                reason = f"{host} resolves to {describe(address, code)}."
            elif spelled_as:
                reason = f"{spelled_as} is {describe(address, code)}, written in another notation."
            else:
                reason = f"{host} is {describe(address, code)}."
            raise UrlRefused(code, reason)
        allow_listed = host_allowed or any(classify(a) is not None for a in addresses)
        return ResolvedTarget(
            url=str(parsed),
            scheme=scheme,
            host=host,
            port=port,
            addresses=tuple(str(a) for a in addresses),
            allow_listed=allow_listed,
            notes=notes,
        )

    async def _resolve(self, host: str, port: int) -> list[str]:
        cached = self._dns_cache.get(host)
        now = time.monotonic()
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            async with asyncio.timeout(self._resolve_timeout):
                addresses = await self._resolver(host, port)
        except TimeoutError as exc:
            raise HostNotFound(host, transient=True) from exc
        except socket.gaierror as exc:
            raise HostNotFound(host, transient=exc.errno == socket.EAI_AGAIN) from exc
        except UnicodeError as exc:
            raise HostNotFound(host, transient=False) from exc
        if not addresses:
            raise HostNotFound(host, transient=False)
        if self._dns_cache_seconds > 0:
            if len(self._dns_cache) > 10_000:
                self._dns_cache.clear()
            self._dns_cache[host] = (now + self._dns_cache_seconds, addresses)
        return addresses


def _literal_address(host: str) -> IPAddress | None:
    """The address ``host`` is when it is an IP literal, or None for a name."""
    if ":" not in host and not host.replace(".", "").isdigit():
        return None
    try:
        return ipaddress.ip_address(host.replace("%25", "%").split("%", 1)[0])
    except ValueError:
        return None


def _canonical_numeric_host(url: str) -> tuple[str, str | None]:
    """``url`` with a numeric host such as ``0177.0.0.1`` or ``2130706433`` rewritten as browsers do (``127.0.0.1``).

    Returns the URL and the host as it was spelled, or None when nothing changed.
    """
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        return url, None
    if not host or ":" in host:
        return url, None
    address = parse_ipv4_forms(host)
    if address is None or str(address) == host:
        return url, None
    userinfo, at, _ = parts.netloc.rpartition("@")
    netloc = f"{userinfo}{at}{address}" + (f":{port}" if port is not None else "")
    return parts._replace(netloc=netloc).geturl(), host
