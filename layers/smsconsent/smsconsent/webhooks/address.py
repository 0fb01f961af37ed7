"""The SSRF guard: a webhook goes to a public address over https, never into the network it
is sent from (the instance metadata service, the VPC, the local host).

``check_url`` refuses a subscription's URL when it is made; ``allowed_addresses`` is asked
again at every delivery, since a name's addresses can change in between (DNS rebinding),
and the transport connects to the address it returned, never looking the name up again.

An address is judged by what ``ipaddress`` makes of it: one the resolver answers, or the
host itself when it is an IP literal in its usual form. Other numeric forms (``2130706433``,
``0x7f.1``, ``127.1``) are refused without a lookup, since a resolver and a library that
connects by name may read them differently. Every address of a name must be allowed: when
a name has one public and one private address, whoever runs its DNS picks which is used."""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from smsconsent import errors

IP = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_URL = 2048
_DEFAULT_PORT = {"https": 443, "http": 80}
# Printable ASCII without the space: no control character, no whitespace a parser drops.
_PRINTABLE = re.compile(r"[!-~]+")
_LABEL = r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?"
_HOST_NAME = re.compile(rf"(?=.{{1,253}}\.?$)({_LABEL}\.)*{_LABEL}\.?")
# A last label like these makes the host an IPv4 address to URL parsers (WHATWG) and inet_aton.
_NUMERIC_LABEL = re.compile(r"[0-9]+|0x[0-9a-f]*")

# Not public, whatever this Python's ``is_global`` says (its tables vary by version).
_REFUSED_NETWORKS = tuple(
    ipaddress.ip_network(network)
    for network in (
        "100.64.0.0/10",  # shared address space (CGNAT)
        "192.0.0.0/24",  # IETF protocol assignments
        "198.18.0.0/15",  # benchmarking
        "64:ff9b:1::/48",  # local-use NAT64
        "2001:db8::/32",  # documentation
        "3fff::/20",  # documentation
    )
)
_GLOBAL_UNICAST_V6 = ipaddress.ip_network("2000::/3")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class BlockedAddress(Exception):
    """A host a webhook may not go to; the message says why (it names the host and address)."""


def system_resolve(host: str, port: int) -> list[str]:
    """The host's addresses as the system resolver gives them."""
    return [str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


# Replaced by tests, so nothing is looked up for real.
resolve: Callable[[str, int], list[str]] = system_resolve


@dataclass(frozen=True)
class Target:
    """What a checked URL says to connect to: ``host`` lower case without brackets, the port
    (the scheme's default when none is given), and the request target (path and query)."""

    scheme: str
    host: str
    port: int
    path: str

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == _DEFAULT_PORT[self.scheme] else f"{host}:{self.port}"


def _invalid(message: str) -> errors.Invalid:
    return errors.Invalid("invalid_field", message, "url")


def _split_netloc(netloc: str) -> tuple[str, str | None]:
    """(host, port text or None) of a netloc without userinfo; brackets stay on an IPv6 host."""
    if netloc.startswith("["):
        host, bracket, rest = netloc.partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise _invalid("the URL is not a valid URL (an IPv6 address goes in [brackets])")
        return host + "]", rest[1:] if rest else None
    if netloc.count(":") > 1:
        raise _invalid("the URL's port must be a number from 1 to 65535")
    host, colon, port = netloc.partition(":")
    return host, port if colon else None


def _port(text: str | None, scheme: str) -> int:
    if text is None:
        return _DEFAULT_PORT[scheme]
    if not (text.isascii() and text.isdigit() and len(text) <= 5 and 1 <= int(text) <= 65535):
        raise _invalid("the URL's port must be a number from 1 to 65535")
    return int(text)


def _host(text: str) -> str:
    host = text.lower()
    if not host or host == "[]":
        raise _invalid("the URL needs a host")
    if host.startswith("["):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            raise _invalid("the URL is not a valid URL (the host in brackets is no IPv6 address)") from None
        if "%" in host:
            raise _invalid("the URL's host may not carry an IPv6 zone")
        return host[1:-1]
    if not _HOST_NAME.fullmatch(host):
        raise _invalid(f"the URL's host {host} is not a valid host name")
    return host


def parse_url(url: str, *, allow_loopback_http: bool) -> Target:
    """The URL's parts, or ``errors.Invalid`` saying what is wrong with its form (nothing is
    resolved here). The message never repeats userinfo, path or query."""
    url = url.strip()
    if len(url) > MAX_URL:
        raise _invalid(f"the URL is longer than {MAX_URL} characters")
    if not _PRINTABLE.fullmatch(url):
        raise _invalid(
            "the URL may hold printable ASCII characters only, without a space (percent-encode "
            "the path, write an international domain name in its xn-- form)"
        )
    try:
        parts = urlsplit(url)
    except ValueError:
        raise _invalid("the URL is not a valid URL") from None
    scheme = parts.scheme.lower()
    if scheme != "https" and not (allow_loopback_http and scheme == "http"):
        allowed = "https:// (or http:// to a loopback host, on the local stack)"
        raise _invalid(f"the URL must start with {allowed if allow_loopback_http else 'https://'}")
    if "@" in parts.netloc:
        raise _invalid("the URL may not hold a user name or password")
    if "#" in url:
        raise _invalid("the URL may not have a fragment (#...)")
    host_text, port_text = _split_netloc(parts.netloc)
    host = _host(host_text)
    port = _port(port_text, scheme)
    path = parts.path or "/"
    return Target(scheme, host, port, f"{path}?{parts.query}" if parts.query else path)


def _literal(host: str) -> IP | None:
    """The address ``host`` is when it is an IP literal; BlockedAddress when it reads as a
    number in a form other than the usual one."""
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        return ipaddress.ip_address(bare)
    except ValueError:
        pass
    if ":" in bare or "%" in bare or "[" in bare or "]" in bare:
        raise BlockedAddress(f"{host} is not a valid host")
    last = bare.lower().removesuffix(".").rpartition(".")[2]
    if _NUMERIC_LABEL.fullmatch(last):
        if bare.endswith(".") and "." in bare[:-1]:
            return _literal(bare[:-1])
        raise BlockedAddress(f"{host} is an IP address in an unusual form: write it as a.b.c.d")
    return None


def _embedded(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address stands for (mapped, 6to4, Teredo, NAT64)."""
    if ip.ipv4_mapped is not None:
        return [ip.ipv4_mapped]
    if ip.sixtofour is not None:
        return [ip.sixtofour]
    if ip.teredo is not None:
        return list(ip.teredo)
    if ip in _NAT64:
        return [ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)]
    return []


def _refusal(ip: IP, allow_loopback: bool) -> str | None:
    """Why a webhook may not go to ``ip``, or None when it may."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded(ip)
        if embedded:
            reasons = [f"{v4}, {why}" for v4 in embedded if (why := _refusal(v4, allow_loopback))]
            return f"an IPv6 address standing for {reasons[0]}" if reasons else None
    if ip.is_loopback:
        return None if allow_loopback else "a loopback address"
    if ip.is_unspecified:
        return "the unspecified address (the local host)"
    if ip.is_link_local:
        return "a link-local address (where cloud metadata services answer)"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_private or any(ip in network for network in _REFUSED_NETWORKS):
        return "a private, shared or documentation address"
    if isinstance(ip, ipaddress.IPv6Address) and (ip.is_site_local or ip not in _GLOBAL_UNICAST_V6):
        return "an IPv6 address outside global unicast"
    if ip.is_reserved or not ip.is_global:
        return "a reserved address"
    return None


def _connect_form(ip: IP) -> str:
    """The address to connect to: an IPv4-mapped one as the IPv4 address it maps."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


def _resolved(host: str, port: int) -> list[IP]:
    try:
        answers = list(resolve(host, port))
    except (OSError, UnicodeError, ValueError):
        raise BlockedAddress(f"{host} does not resolve") from None
    if not answers:
        raise BlockedAddress(f"{host} does not resolve")
    try:
        return [ipaddress.ip_address(answer) for answer in answers]
    except ValueError:
        raise BlockedAddress(f"{host} resolves to something that is not an IP address") from None


def allowed_addresses(host: str, port: int, *, allow_loopback: bool) -> list[str]:
    """The host's addresses, unique and in the resolver's order, when every one of them is
    allowed: public, or loopback when ``allow_loopback`` (the local stack); else
    BlockedAddress. An IP literal is judged as it is, without a lookup."""
    host = host.lower()
    literal = _literal(host)
    ips = [literal] if literal is not None else _resolved(host, port)
    for ip in ips:
        why = _refusal(ip, allow_loopback)
        if why is not None:
            shown = f"{host} is" if literal is not None else f"{host} resolves to {ip},"
            raise BlockedAddress(f"{shown} {why}")
    return list(dict.fromkeys(_connect_form(ip) for ip in ips))


def pinned_addresses(target: Target, *, allow_loopback: bool) -> list[str]:
    """``allowed_addresses`` of the target; plain http goes to loopback only (the local
    stack's receivers), since anything else would carry the signed body in clear."""
    ips = allowed_addresses(target.host, target.port, allow_loopback=allow_loopback)
    if target.scheme == "http" and not all(ipaddress.ip_address(ip).is_loopback for ip in ips):
        raise BlockedAddress(f"http:// goes only to a loopback host, and {target.host} is not one")
    return ips


def check_url(url: str, *, allow_loopback_http: bool) -> str:
    """``url`` without surrounding whitespace when a subscription may use it: https to a
    public host (or, when ``allow_loopback_http``, http or https to loopback); else
    ``errors.Invalid`` on the field ``url`` saying what is wrong."""
    target = parse_url(url, allow_loopback_http=allow_loopback_http)
    try:
        pinned_addresses(target, allow_loopback=allow_loopback_http)
    except BlockedAddress as blocked:
        raise _invalid(f"the URL may not be used: {blocked}") from None
    return url.strip()
