"""The URL policy refuses internal addresses (each with its own reason) unless allow-listed, without connecting."""

from __future__ import annotations

import ipaddress

import pytest

from spyglass.config import Settings
from spyglass.core.urlpolicy import TargetList, UrlPolicy, UrlRefused, classify, parse_ipv4_forms
from tests.support.http_server import watch_network

REFUSED = [
    # url, code, words the reason must contain
    ("http://127.0.0.1/", "loopback", "127.0.0.1, a loopback address"),
    ("http://10.0.0.1/", "private", "10.0.0.1, a private-network address"),
    ("http://172.16.0.1/", "private", "172.16.0.1, a private-network address"),
    ("http://192.168.1.1/", "private", "192.168.1.1, a private-network address"),
    ("http://169.254.169.254/latest/meta-data/", "metadata", "169.254.169.254, a cloud metadata address"),
    ("http://[fd00:ec2::254]/", "metadata", "a cloud metadata address"),
    ("http://100.100.100.200/", "metadata", "a cloud metadata address"),
    ("http://169.254.1.1/", "link_local", "a link-local address"),
    ("http://[fe80::1]/", "link_local", "a link-local address"),
    ("http://[::1]:8080/", "loopback", "::1, a loopback address"),
    ("http://[fc00::1]/", "private", "fc00::1, a private-network address"),
    ("http://[::ffff:127.0.0.1]/", "loopback", "(an IPv6 form of 127.0.0.1), a loopback address"),
    ("http://[::ffff:169.254.169.254]/", "metadata", "an IPv6 form of 169.254.169.254"),
    ("http://[::127.0.0.1]/", "loopback", "an IPv6 form of 127.0.0.1"),
    ("http://[2002:7f00:1::]/", "loopback", "an IPv6 form of 127.0.0.1"),  # 6to4
    ("http://[64:ff9b::a00:1]/", "private", "an IPv6 form of 10.0.0.1"),  # NAT64
    ("http://2130706433/", "loopback", "2130706433 is 127.0.0.1, a loopback address, written in another notation"),
    ("http://0177.0.0.1/", "loopback", "0177.0.0.1 is 127.0.0.1, a loopback address, written in another notation"),
    ("http://0x7f000001/", "loopback", "0x7f000001 is 127.0.0.1"),
    ("http://0x7f.1/", "loopback", "0x7f.1 is 127.0.0.1"),
    ("http://127.1/", "loopback", "127.1 is 127.0.0.1"),
    ("http://012.0.0.1/", "private", "012.0.0.1 is 10.0.0.1"),
    ("http://localhost/", "loopback", "localhost resolves to 127.0.0.1, a loopback address"),
    ("http://LOCALHOST:8000/x", "loopback", "localhost resolves to 127.0.0.1"),
    ("http://100.64.0.1/", "shared", "a shared (carrier-grade NAT) address"),
    ("http://224.0.0.1/", "multicast", "a multicast address"),
    ("http://0.0.0.0/", "unspecified", "the unspecified address"),
    ("http://[::]/", "unspecified", "the unspecified address"),
    ("http://240.0.0.1/", "reserved", "a reserved, non-public address"),
    ("http://192.0.2.1/", "reserved", "a reserved, non-public address"),
    ("ftp://example.com/file", "scheme", "only http and https URLs can be fetched, not ftp"),
    ("file:///etc/passwd", "scheme", "not file"),
    ("javascript:alert(1)", "scheme", "not javascript"),
    ("http://user:secret@example.com/", "credentials", "user name or password"),
    ("http://user@93.184.215.14/", "credentials", "user name or password"),
    ("http:///no-host", "no_host", "no host name"),
    ("http://xn--/", "invalid", "has a host name that is not valid"),
    ("http://xn--a.xn--/path", "invalid", "has a host name that is not valid"),
]


@pytest.mark.parametrize(("url", "code", "words"), REFUSED, ids=[r[0] for r in REFUSED])
async def test_refuses_internal_and_unfit_urls_without_connecting(url: str, code: str, words: str) -> None:
    with watch_network() as network, pytest.raises(UrlRefused) as refused:
        await UrlPolicy().check(url)
    assert refused.value.code == code
    assert words in refused.value.reason
    assert refused.value.status_code == 422
    assert refused.value.detail == {"url": refused.value.reason}
    assert network.connects == []


ALLOWED_WHEN_LISTED = [
    ("http://127.0.0.1/", "127.0.0.0/8", "127.0.0.1"),
    ("http://10.0.0.1/", "10.0.0.0/8", "10.0.0.1"),
    ("http://172.16.0.1/", "172.16.0.0/12", "172.16.0.1"),
    ("http://192.168.1.1/", "192.168.1.1", "192.168.1.1"),
    ("http://169.254.169.254/", "169.254.169.254/32", "169.254.169.254"),
    ("http://[::1]/", "::1", "::1"),
    ("http://[fc00::1]/", "fc00::/7", "fc00::1"),
    ("http://[::ffff:127.0.0.1]/", "127.0.0.0/8", "::ffff:7f00:1"),
    ("http://2130706433/", "127.0.0.1", "127.0.0.1"),
    ("http://0177.0.0.1/", "127.0.0.0/8", "127.0.0.1"),
    ("http://0x7f000001/", "127.0.0.0/8", "127.0.0.1"),
    ("http://127.1/", "127.0.0.0/8", "127.0.0.1"),
    ("http://localhost/", "localhost", "127.0.0.1"),
    ("http://localhost/", "127.0.0.0/8", "127.0.0.1"),
    ("http://api.localhost/", "*.localhost", None),
]


@pytest.mark.parametrize(
    ("url", "allow", "address"), ALLOWED_WHEN_LISTED, ids=[f"{a} by {b}" for a, b, _ in ALLOWED_WHEN_LISTED]
)
async def test_allow_list_permits_each_internal_address(url: str, allow: str, address: str | None) -> None:
    policy = UrlPolicy(allow=f"203.0.113.0/24, {allow}", resolver=_loopback_resolver)
    with watch_network() as network:
        target = await policy.check(url)
    assert target.allow_listed
    assert address is None or target.addresses == (address,)
    assert network.connects == []
    with pytest.raises(UrlRefused):  # and the same URL without the list is still refused
        await UrlPolicy(resolver=_loopback_resolver).check(url)


async def _loopback_resolver(host: str, port: int) -> list[str]:
    """Answers like /etc/hosts does for localhost names (``api.localhost`` has no entry on every machine)."""
    assert host.endswith("localhost")
    return ["127.0.0.1"]


async def test_numeric_hosts_are_rewritten_as_browsers_do() -> None:
    target = await UrlPolicy(allow="127.0.0.0/8").check("http://0177.0.0.1:8080/a?b=1")
    assert target.url == "http://127.0.0.1:8080/a?b=1"
    assert (target.host, target.port, target.notes) == ("127.0.0.1", 8080, ("non-standard port 8080",))


async def test_public_addresses_pass_and_are_returned_for_pinning() -> None:
    with watch_network() as network:
        v4 = await UrlPolicy().check("https://93.184.215.14/page")
        v6 = await UrlPolicy().check("http://[2606:4700:4700::1111]:8443/")
    assert (v4.scheme, v4.host, v4.port, v4.addresses, v4.allow_listed) == (
        "https", "93.184.215.14", 443, ("93.184.215.14",), False,
    )  # fmt: skip
    assert (v6.host, v6.port, v6.addresses) == ("2606:4700:4700::1111", 8443, ("2606:4700:4700::1111",))
    assert network.connects == []


async def test_every_resolved_address_is_checked() -> None:
    """A name with one public and one private record is refused: the connection could use either."""

    async def split_horizon(host: str, port: int) -> list[str]:
        return ["93.184.215.14", "10.1.2.3"]

    with pytest.raises(UrlRefused) as refused:
        await UrlPolicy(resolver=split_horizon).check("http://mixed.example/")
    assert refused.value.reason == "mixed.example resolves to 10.1.2.3, a private-network address."
    target = await UrlPolicy(allow="10.0.0.0/8", resolver=split_horizon).check("http://mixed.example/")
    assert target.addresses == ("93.184.215.14", "10.1.2.3")


async def test_unresolvable_host_is_refused_with_its_own_reason() -> None:
    async def nxdomain(host: str, port: int) -> list[str]:
        import socket

        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    with pytest.raises(UrlRefused) as refused:
        await UrlPolicy(resolver=nxdomain).check("http://nowhere.invalid/")
    assert refused.value.code == "unresolvable"
    assert "nowhere.invalid could not be resolved (no such host)" in refused.value.reason


def test_settings_allow_list_is_used(tmp_path: object) -> None:
    settings = Settings(_env_file=None, allow_private_targets="127.0.0.0/8,::1,localhost")  # type: ignore[call-arg]
    policy = UrlPolicy.from_settings(settings)
    assert policy.allow.matches_host("LocalHost.")
    assert policy.allow.matches_address(ipaddress.ip_address("127.0.0.9"))
    assert not policy.allow.matches_address(ipaddress.ip_address("10.0.0.1"))
    with pytest.raises(ValueError, match="neither a CIDR network"):
        Settings(_env_file=None, allow_private_targets="10.0.0.0/33")  # type: ignore[call-arg]


def test_target_list_parsing() -> None:
    targets = TargetList.parse(" 10.0.0.0/8 , Example.COM., *.corp.test, .lab.test ,")
    assert targets.matches_host("example.com")
    assert targets.matches_host("a.corp.test") and targets.matches_host("b.lab.test")
    assert not targets.matches_host("corp.test.evil") and not targets.matches_host("notexample.com")
    assert not TargetList.parse("")


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("2130706433", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("0x7F000001", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("10.1.65535", "10.1.255.255"),
        ("192.168.1.1.", "192.168.1.1"),
        ("0x", "0.0.0.0"),  # noqa: S104 - an address, not a bind
        ("256.1.1.1", None),
        ("08.0.0.1", None),
        ("1.2.3.4.5", None),
        ("example.com", None),
        ("1e3", None),
        ("4294967296", None),
    ],
)
def test_ipv4_spellings_are_read_like_inet_aton(host: str, expected: str | None) -> None:
    address = parse_ipv4_forms(host)
    assert (str(address) if address else None) == expected


def test_public_address_has_no_verdict() -> None:
    assert classify(ipaddress.ip_address("93.184.215.14")) is None
    assert classify(ipaddress.ip_address("2606:4700:4700::1111")) is None
    assert classify(ipaddress.ip_address("2002:5db8:d70e::1")) is None  # 6to4 of a public address
