"""Hostile-input tests: the stub network and DynamoDB's key limits for the webhook fuzz tests,
and a line in the summary counting the cases tried."""

from __future__ import annotations

import copy
import os
from typing import Any

import pytest

from tests.hostile.support import DNS, SEEN, TRIED, Network, enforce_dynamodb_key_limits


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if TRIED:
        parts = ", ".join(f"{name} {count}" for name, count in sorted(TRIED.items()))
        terminalreporter.write_line(f"hostile cases tried: {sum(TRIED.values())} ({parts})")
    if SEEN and os.environ.get("HOSTILE_SHOW_ANSWERS"):
        for key, count in sorted(SEEN.items()):
            terminalreporter.write_line(f"  {key}: {count}")


@pytest.fixture
def network(monkeypatch: pytest.MonkeyPatch) -> Network:
    import socket

    from smsconsent.webhooks import address

    net = Network(copy.deepcopy(DNS))

    def resolve(host: str, port: int) -> list[str]:
        if host.removesuffix(".") in net.dns:
            return list(net.dns[host.removesuffix(".")])
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    def real_lookup(*args: Any, **kwargs: Any) -> Any:
        net.stray.append(f"lookup {args[:1]}")
        raise OSError("no real lookup in tests")

    real_connect = socket.socket.connect

    def connect(sock: socket.socket, where: Any) -> Any:
        if not (isinstance(where, tuple) and where[0] == "127.0.0.1"):
            net.stray.append(f"connect {where!r:.80}")
            raise ConnectionRefusedError("tests connect to 127.0.0.1 only")
        return real_connect(sock, where)

    monkeypatch.setattr(address, "resolve", resolve)
    for name in ("getaddrinfo", "gethostbyname", "gethostbyname_ex"):
        monkeypatch.setattr(socket, name, real_lookup)
    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect)
    return net


@pytest.fixture
def key_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keys over DynamoDB's limits refused on reads and deletes too, as DynamoDB does."""
    enforce_dynamodb_key_limits(monkeypatch)
