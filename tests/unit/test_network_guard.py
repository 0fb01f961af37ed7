"""The suite's guard (``tests/fixtures/network.py``): this process connects to loopback only. The
check runs before any connection, so the refused addresses are never tried."""

from __future__ import annotations

import socket

import pytest

from tests.fixtures.network import loopback_only


@pytest.mark.parametrize("host", ["192.0.2.1", "10.0.0.1", "169.254.169.254", "2001:db8::1", "example.com"])
def test_anything_but_loopback_is_refused_before_connecting(host: str) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock, pytest.raises(ConnectionRefusedError):
        loopback_only(sock, (host, 443))


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.10", "::1"])
def test_loopback_passes(host: str) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        loopback_only(sock, (host, 443))


def test_the_guard_is_in_place() -> None:
    assert socket.socket.connect.__name__ == "_guarded_connect"
    assert socket.socket.connect_ex.__name__ == "_guarded_connect_ex"
