"""One webhook POST, within a total deadline, to an address checked at delivery.

The host is resolved and judged now (``address.pinned_addresses``: its addresses may have
changed since the subscription was made), and the connection goes to the first allowed
address itself: nothing looks the name up again, so DNS cannot answer differently the
second time (rebinding). ``Host``, SNI and the certificate check use the URL's host name.

``timeout`` bounds the whole call: the lookup runs in a thread waited on for the time left,
and a timer shuts the socket down when the deadline passes, so a server that trickles its
answer a byte at a time (each read well within any per-read timeout) is cut off too.
Redirects are answers (``error="redirect"``), never followed. Network trouble is returned,
never raised; nothing of the body or the headers is logged."""

from __future__ import annotations

import contextlib
import functools
import http.client
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Literal

import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection

from smsconsent import errors
from smsconsent.webhooks import address

Error = Literal["timeout", "connection", "blocked_address", "tls", "redirect"]

# Read this much of an answer at most, then hang up: the status is what counts.
MAX_ANSWER = 64 * 1024


@dataclass(frozen=True)
class Response:
    """What came of one POST: the status when an answer came, ``error`` when something went
    wrong (a 3xx is ``status`` and ``"redirect"``; an answer whose body did not arrive in time
    keeps its status with ``"timeout"``). Delivered means a 2xx with no error."""

    status: int | None
    error: str | None
    elapsed_ms: int


@functools.cache
def ssl_context() -> ssl.SSLContext:
    """The default trust store, certificates and host names verified, TLS 1.2 at least
    (replaced by tests that trust their own CA)."""
    context = ssl.create_default_context()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


class _Deadline:
    """The time left, and a timer that shuts down the sockets it watches when none is."""

    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(max(seconds, 0.0), self._expire)
        self._timer.daemon = True
        self._timer.start()

    def left(self) -> float:
        return max(self.at - time.monotonic(), 0.0)

    def passed(self) -> bool:
        return self.expired or time.monotonic() >= self.at

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            if self.expired:
                _shut(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                _shut(sock)

    def cancel(self) -> None:
        self._timer.cancel()


def _shut(sock: socket.socket) -> None:
    """Wakes up a read or write blocked in another thread (closing would not)."""
    with contextlib.suppress(OSError):  # already closed or never connected
        sock.shutdown(socket.SHUT_RDWR)


class _PinnedHTTP(HTTPConnection):
    """Connects to the given IP (never resolving a name), on a socket the deadline watches."""

    deadline: _Deadline

    def _new_conn(self) -> socket.socket:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            self.deadline.watch(sock)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.settimeout(self.deadline.left())
            sock.connect((self.host, self.port))
        except BaseException:
            sock.close()
            raise
        return sock


class _PinnedHTTPS(_PinnedHTTP, HTTPSConnection):
    pass


def _addresses(target: address.Target, allow_loopback: bool, deadline: _Deadline) -> list[str] | Error:
    """``address.pinned_addresses`` within the deadline (getaddrinfo has no timeout of its
    own); an unexpected failure is raised here, as if the lookup had run in this thread."""
    outcome: list[list[str] | Error | Exception] = []

    def look_up() -> None:
        try:
            outcome.append(address.pinned_addresses(target, allow_loopback=allow_loopback))
        except address.BlockedAddress:
            outcome.append("blocked_address")
        except Exception as failure:
            outcome.append(failure)

    worker = threading.Thread(target=look_up, name="webhook-resolve", daemon=True)
    worker.start()
    worker.join(deadline.left())
    if not outcome:
        return "timeout"
    if isinstance(outcome[0], Exception):
        raise outcome[0]
    return outcome[0]


def _connection(target: address.Target, ip: str, deadline: _Deadline) -> _PinnedHTTP:
    connection: _PinnedHTTP
    if target.scheme == "https":
        connection = _PinnedHTTPS(
            ip, target.port, timeout=deadline.left(), server_hostname=target.host, ssl_context=ssl_context()
        )
    else:
        connection = _PinnedHTTP(ip, target.port, timeout=deadline.left())
    connection.deadline = deadline
    return connection


class _LateBody(Exception):
    """The answer's status came, the rest of it not before the deadline."""

    def __init__(self, status: int) -> None:
        self.status = status


def _exchange(connection: _PinnedHTTP, target: address.Target, body: bytes, headers: dict[str, str]) -> int:
    """Sends the POST and reads the answer's status, then at most MAX_ANSWER of its body."""
    sent = {name: value for name, value in headers.items() if name.lower() != "host"}
    sent["Host"] = target.host_header
    connection.request("POST", target.path, body=body, headers=sent, preload_content=False)
    answer = connection.getresponse()
    status = answer.status
    # The status came; a body cut short changes nothing, unless the deadline cut it.
    with contextlib.suppress(OSError, urllib3.exceptions.HTTPError, http.client.HTTPException):
        answer.read(MAX_ANSWER, decode_content=False)
    if connection.deadline.expired:
        raise _LateBody(status)
    return status


def _failure(error: BaseException, deadline: _Deadline) -> Error:
    if deadline.passed() or isinstance(error, TimeoutError | urllib3.exceptions.TimeoutError):
        return "timeout"
    if isinstance(error, ssl.SSLError | ssl.CertificateError | urllib3.exceptions.SSLError):
        return "tls"
    return "connection"


def post(
    url: str, body: bytes, headers: dict[str, str], *, timeout: float = 10.0, allow_loopback: bool = False
) -> Response:
    """POSTs ``body`` with ``headers`` to ``url`` when its host's addresses are allowed now."""
    started = time.monotonic()
    deadline = _Deadline(timeout)
    try:
        status, error = _deliver(url, body, headers, allow_loopback, deadline)
    finally:
        deadline.cancel()
    return Response(status, error, round((time.monotonic() - started) * 1000))


def _deliver(
    url: str, body: bytes, headers: dict[str, str], allow_loopback: bool, deadline: _Deadline
) -> tuple[int | None, Error | None]:
    try:
        target = address.parse_url(url, allow_loopback_http=allow_loopback)
    except errors.Invalid:
        return None, "blocked_address"
    ips = _addresses(target, allow_loopback, deadline)
    if isinstance(ips, str):
        return None, ips
    connection = _connection(target, ips[0], deadline)
    try:
        status = _exchange(connection, target, body, headers)
    except _LateBody as late:
        return late.status, "timeout"
    except (OSError, urllib3.exceptions.HTTPError, http.client.HTTPException) as failure:
        return None, _failure(failure, deadline)
    finally:
        connection.close()
    return status, "redirect" if 300 <= status < 400 else None
