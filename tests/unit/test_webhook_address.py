"""The SSRF guard on webhook URLs: which URLs a subscription may name, and which addresses a
delivery may go to. Nothing here is looked up for real: ``address.resolve`` is a stub and
the system resolver raises if anything reaches it; no test opens a connection."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterator

import pytest

from smsconsent import errors
from smsconsent.webhooks import address
from smsconsent.webhooks.address import BlockedAddress

# Real-looking public addresses, never connected to (only judged).
PUBLIC = "93.184.215.14"
PUBLIC6 = "2606:2800:21f:cb07:6820:80da:af6b:8b2c"

DNS = {
    "hooks.example.com": [PUBLIC],
    "v6.example.com": [PUBLIC6],
    "twice.example.com": [PUBLIC, PUBLIC6, PUBLIC],
    "internal.example.com": ["10.0.0.5"],
    "mixed.example.com": [PUBLIC, "10.1.2.3"],
    "mixed6.example.com": [PUBLIC6, "fd00:ec2::254"],
    "metadata.example.com": ["169.254.169.254"],
    "mapped.example.com": ["::ffff:169.254.169.254"],
    "cgnat.example.com": ["100.64.0.1"],
    "garbage.example.com": ["not-an-address"],
    "empty.example.com": [],
    "localhost": ["127.0.0.1", "::1"],
    "loop.example.com": ["127.0.0.1"],
}


class StubResolver:
    """Answers from ``DNS`` (a trailing dot is the same name), canonical IP literals as
    themselves (as getaddrinfo does), anything else as a name that does not resolve;
    records what it was asked."""

    def __init__(self, answer: Callable[[str], list[str]] | None = None) -> None:
        self.asked: list[tuple[str, int]] = []
        self.answer = answer

    def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append((host, port))
        if self.answer is not None:
            return self.answer(host)
        if host.removesuffix(".") in DNS:
            return list(DNS[host.removesuffix(".")])
        try:
            return [str(ipaddress.ip_address(host))]
        except ValueError:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None


def _no_real_lookup(*args: object, **kwargs: object) -> None:
    raise AssertionError("the real resolver was called")


@pytest.fixture(autouse=True)
def stub(monkeypatch: pytest.MonkeyPatch) -> Iterator[StubResolver]:
    resolver = StubResolver()
    monkeypatch.setattr(address, "resolve", resolver)
    for name in ("getaddrinfo", "gethostbyname", "gethostbyname_ex"):
        monkeypatch.setattr(socket, name, _no_real_lookup)
    yield resolver


def test_the_default_resolver_wraps_getaddrinfo(monkeypatch: pytest.MonkeyPatch) -> None:
    asked = []

    def getaddrinfo(host: str, port: int, *args: object, **kwargs: object) -> list[tuple[object, ...]]:
        asked.append((host, port, kwargs))
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", (PUBLIC, port)),
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (PUBLIC6, port, 0, 0)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    assert address.system_resolve("hooks.example.com", 443) == [PUBLIC, PUBLIC6]
    assert asked == [("hooks.example.com", 443, {"type": socket.SOCK_STREAM})]


# --- allowed_addresses ------------------------------------------------------------------

REFUSED_LITERALS = [
    "127.0.0.1",
    "127.8.9.10",
    "::1",
    "[::1]",
    "10.0.0.1",
    "10.255.255.255",
    "172.16.0.1",
    "172.31.255.254",
    "192.168.1.1",
    "169.254.169.254",  # the instance metadata service
    "169.254.170.2",  # the ECS task metadata endpoint
    "fd00:ec2::254",  # the metadata service over IPv6
    "::ffff:127.0.0.1",
    "::ffff:169.254.169.254",
    "::ffff:10.0.0.1",
    "100.64.0.1",  # CGNAT
    "100.127.255.254",
    "0.0.0.0",  # noqa: S104 (reaches the local host on Linux)
    "0.1.2.3",
    "::",
    "224.0.0.1",
    "239.255.255.250",
    "ff02::1",
    "fe80::1",
    "fec0::1",
    "fc00::1",
    "192.0.2.1",  # documentation
    "198.51.100.7",
    "203.0.113.9",
    "2001:db8::1",
    "198.18.0.1",  # benchmarking
    "240.0.0.1",  # reserved
    "255.255.255.255",
    "::7f00:1",  # IPv4-compatible 127.0.0.1
    "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    "64:ff9b:1::a00:1",  # local-use NAT64
    "2001:0:4136:e378:8000:63bf:f5ff:fffe",  # Teredo, client 10.0.0.1
]


@pytest.mark.parametrize("host", REFUSED_LITERALS)
def test_a_literal_that_is_not_public_is_refused(host: str, stub: StubResolver) -> None:
    with pytest.raises(BlockedAddress):
        address.allowed_addresses(host, 443, allow_loopback=False)


@pytest.mark.parametrize(
    "host",
    [
        "10.0.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "fd00:ec2::254",
        "100.64.0.1",
        "0.0.0.0",  # noqa: S104
        "::",
        "224.0.0.1",
        "fe80::1",
        "::ffff:10.0.0.1",
        "internal.example.com",
        "mixed.example.com",
    ],
)
def test_the_local_stack_allows_loopback_but_never_private_ranges(host: str) -> None:
    with pytest.raises(BlockedAddress):
        address.allowed_addresses(host, 443, allow_loopback=True)


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", ["127.0.0.1"]),
        ("127.8.9.10", ["127.8.9.10"]),
        ("::1", ["::1"]),
        ("[::1]", ["::1"]),
        ("::ffff:127.0.0.1", ["127.0.0.1"]),
        ("localhost", ["127.0.0.1", "::1"]),
    ],
)
def test_the_local_stack_allows_loopback(host: str, expected: list[str]) -> None:
    assert address.allowed_addresses(host, 8080, allow_loopback=True) == expected


@pytest.mark.parametrize(
    "host",
    [
        "internal.example.com",
        "metadata.example.com",
        "mapped.example.com",
        "cgnat.example.com",
        "localhost",
        "loop.example.com",
        "mixed.example.com",  # one public, one private: the attacker picks which is used
        "mixed6.example.com",
    ],
)
def test_a_name_is_refused_when_any_of_its_addresses_is(host: str, stub: StubResolver) -> None:
    with pytest.raises(BlockedAddress) as refused:
        address.allowed_addresses(host, 443, allow_loopback=False)
    assert stub.asked == [(host, 443)]
    assert host in str(refused.value)


@pytest.mark.parametrize(
    "host", ["nowhere.example.com", "garbage.example.com", "empty.example.com", "a..b.example.com"]
)
def test_a_name_that_does_not_resolve_to_addresses_is_refused(host: str) -> None:
    with pytest.raises(BlockedAddress):
        address.allowed_addresses(host, 443, allow_loopback=True)


def test_a_resolver_failure_of_any_kind_is_a_refusal() -> None:
    def broken(host: str) -> list[str]:
        raise UnicodeError("label too long")

    address.resolve = StubResolver(broken)  # undone by the fixture's monkeypatch
    with pytest.raises(BlockedAddress):
        address.allowed_addresses("x" * 70 + ".example.com", 443, allow_loopback=False)


@pytest.mark.parametrize(
    "host",
    [
        "2130706433",  # 127.0.0.1 in decimal
        "0x7f000001",
        "0x7f.1",
        "0x7f.0.0.1",
        "0177.0.0.1",  # octal
        "017700000001",
        "127.1",
        "127.0.1",
        "1572394766",  # 93.184.215.14 in decimal: refused too, only the usual form is read
        "0x5d.0xb8.0xd7.0x0e",
        "93.184.215.014",
        "1.2.3.4.5",
        "example.123",
        "[127.0.0.1]",
        "[2130706433]",
        "fe80::1%eth0",
        "[fe80::1%25eth0]",
    ],
)
def test_odd_forms_of_an_ip_literal_are_refused_without_asking_the_resolver(host: str) -> None:
    """A resolver may answer such a "name" from DNS (a search domain with a wildcard record,
    say, answering a public address) while a library that connects by name reads it as an
    address (inet_aton: 2130706433 is 127.0.0.1): only the usual forms are read, as addresses."""
    wildcard = StubResolver(lambda host: [PUBLIC])
    address.resolve = wildcard
    with pytest.raises(BlockedAddress):
        address.allowed_addresses(host, 443, allow_loopback=False)
    assert wildcard.asked == []


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("hooks.example.com", [PUBLIC]),
        ("HOOKS.example.com", [PUBLIC]),
        ("v6.example.com", [PUBLIC6]),
        ("twice.example.com", [PUBLIC, PUBLIC6]),
        (PUBLIC, [PUBLIC]),
        (PUBLIC6, [PUBLIC6]),
        (f"[{PUBLIC6}]", [PUBLIC6]),
        (f"::ffff:{PUBLIC}", [PUBLIC]),
        ("2002:5db8:d70e::1", ["2002:5db8:d70e::1"]),  # 6to4 of a public address
        ("64:ff9b::5db8:d70e", ["64:ff9b::5db8:d70e"]),  # NAT64 (DNS64 in an IPv6-only subnet)
    ],
)
def test_public_addresses_are_allowed_unique_and_in_order(host: str, expected: list[str]) -> None:
    assert address.allowed_addresses(host, 443, allow_loopback=False) == expected


def test_a_literal_is_judged_without_asking_the_resolver(stub: StubResolver) -> None:
    address.allowed_addresses(PUBLIC, 443, allow_loopback=False)
    address.allowed_addresses(f"[{PUBLIC6}]", 443, allow_loopback=False)
    assert stub.asked == []


def test_a_name_is_resolved_with_its_port(stub: StubResolver) -> None:
    address.allowed_addresses("hooks.example.com", 8443, allow_loopback=False)
    assert stub.asked == [("hooks.example.com", 8443)]


# --- check_url ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://hooks.example.com/consent?tenant=a&x=1", "https://hooks.example.com/consent?tenant=a&x=1"),
        ("  https://hooks.example.com/a \n", "https://hooks.example.com/a"),
        ("https://hooks.example.com", "https://hooks.example.com"),
        ("https://hooks.example.com:8443/a", "https://hooks.example.com:8443/a"),
        ("HTTPS://Hooks.Example.com/A", "HTTPS://Hooks.Example.com/A"),
        ("https://hooks.example.com./a", "https://hooks.example.com./a"),
        (f"https://{PUBLIC}/a", f"https://{PUBLIC}/a"),
        (f"https://[{PUBLIC6}]:443/a", f"https://[{PUBLIC6}]:443/a"),
        ("https://v6.example.com/%7Euser/a%20b", "https://v6.example.com/%7Euser/a%20b"),
    ],
)
def test_a_public_https_url_is_accepted(url: str, expected: str) -> None:
    assert address.check_url(url, allow_loopback_http=False) == expected


def _refusal(url: str, *, local: bool = False) -> str:
    with pytest.raises(errors.Invalid) as refused:
        address.check_url(url, allow_loopback_http=local)
    assert refused.value.code == "invalid_field"
    assert refused.value.field == "url"
    return refused.value.message


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://hooks.example.com/", "https"),
        ("ftp://hooks.example.com/", "https"),
        ("hooks.example.com/path", "https"),
        ("//hooks.example.com/path", "https"),
        ("javascript:alert(1)", "https"),
        ("https:///path", "host"),
        ("https://", "host"),
        ("https://:443/", "host"),
        ("https://hooks.example.com/#fragment", "fragment"),
        ("https://hooks.example.com/#", "fragment"),
        ("https://hooks.example.com:0/", "port"),
        ("https://hooks.example.com:65536/", "port"),
        ("https://hooks.example.com:99999999999999999999/", "port"),
        ("https://hooks.example.com:abc/", "port"),
        ("https://hooks.example.com:-1/", "port"),
        ("https://hooks.example.com:/", "port"),
        ("https://hooks.example.com:+443/", "port"),
        ("https://hooks.example.com/" + "a" * 2030, "2048"),
        ("https://hooks.example.com/a b", "space"),
        ("https://hooks.example.com/a\tb", "space"),
        ("https://hooks.example.com/a\nb", "space"),
        ("https://hooks.example.com/\x00", "space"),
        ("https://hôoks.example.com/", "xn--"),
        ("https://[::1/", "valid"),
        ("https://[not-v6]/", "valid"),
        ("https://a:b:c/", "port"),
        ("https://hooks_example!.com/", "host"),
        ("https://%31%32%37.0.0.1/", "host"),
        ("https://-hooks.example.com/", "host"),
        ("https://internal.example.com/hook", "internal.example.com"),
        ("https://mixed.example.com/hook", "mixed.example.com"),
        ("https://metadata.example.com/latest/meta-data/", "metadata.example.com"),
        ("https://169.254.169.254/latest/meta-data/", "169.254.169.254"),
        ("https://127.0.0.1/", "127.0.0.1"),
        ("https://[::1]:8443/", "::1"),
        ("https://localhost/", "localhost"),
        ("https://2130706433/", "2130706433"),
        ("https://0x7f.1/", "0x7f.1"),
        ("https://nowhere.example.com/", "nowhere.example.com"),
    ],
)
def test_a_url_that_is_not_a_public_https_one_is_refused_saying_why(url: str, says: str) -> None:
    assert says in _refusal(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://admin:s3cr3t-pw@hooks.example.com/",
        "https://s3cr3t-pw@hooks.example.com/",
        "https://:s3cr3t-pw@hooks.example.com/",
        "https://hooks.example.com\\@s3cr3t-pw.example.com/",
    ],
)
def test_userinfo_is_refused_and_never_echoed(url: str) -> None:
    message = _refusal(url)
    assert "user" in message
    assert "s3cr3t" not in message


def test_a_refusal_never_echoes_the_path_or_query() -> None:
    for url in (
        "https://internal.example.com/hook?token=s3cr3t",
        "http://hooks.example.com/s3cr3t",
        "https://hooks.example.com/s3cr3t#s3cr3t",
    ):
        assert "s3cr3t" not in _refusal(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost:3000/webhooks",
        "http://[::1]:3000/",
        "http://loop.example.com/",
        "https://localhost:8443/",
        "https://127.0.0.1/",
    ],
)
def test_the_local_stack_may_post_to_loopback_over_http_or_https(url: str) -> None:
    assert address.check_url(url, allow_loopback_http=True) == url


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://hooks.example.com/", "loopback"),
        ("http://mixed.example.com/", "10.1.2.3"),
        ("http://10.0.0.1/", "10.0.0.1"),
        ("https://192.168.0.10/", "192.168.0.10"),
        ("https://169.254.169.254/", "169.254.169.254"),
        ("http://0.0.0.0:8080/", "0.0.0.0"),  # noqa: S104
        ("ftp://127.0.0.1/", "http"),
    ],
)
def test_the_local_stack_still_refuses_private_addresses_and_http_elsewhere(url: str, says: str) -> None:
    assert says in _refusal(url, local=True)


def test_https_to_a_public_host_is_fine_on_the_local_stack() -> None:
    assert address.check_url("https://hooks.example.com/", allow_loopback_http=True)


def test_a_url_of_2048_characters_is_accepted_and_one_more_is_not() -> None:
    url = "https://hooks.example.com/"
    url += "a" * (2048 - len(url))
    assert address.check_url(url, allow_loopback_http=False) == url
    assert "2048" in _refusal(url + "a")
