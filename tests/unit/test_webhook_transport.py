"""One webhook POST against servers on loopback started here: answers, redirects not
followed, a total deadline that a slow or trickling server cannot stretch, the address
checked at delivery and pinned (no second lookup), and TLS verified against the URL's
host name (SNI). Names are resolved by a stub; nothing but 127.0.0.1 is ever connected to."""

from __future__ import annotations

import contextlib
import datetime
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from smsconsent.webhooks import address, signing, transport

BODY = b'{"specversion":"1.0","type":"consent.opted_out","id":"evt_1"}'
SECRET = signing.new_secret()
HEADERS = signing.headers(SECRET, "msg_1", int(time.time()), BODY)


@dataclass
class Seen:
    requests: list[dict[str, object]] = field(default_factory=list)
    sni: list[str | None] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)


def _handler(behaviour: Callable[[BaseHTTPRequestHandler, Seen], None], seen: Seen) -> type:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            seen.requests.append(
                {"path": self.path, "headers": dict(self.headers.items()), "body": self.rfile.read(length)}
            )
            with contextlib.suppress(OSError):  # the client hung up, as it should past its deadline
                behaviour(self, seen)

        do_GET = do_POST

        def log_message(self, *args: object) -> None:
            pass

    return Handler


def _answer(status: int, body: bytes = b"ok", extra: dict[str, str] | None = None) -> Callable[..., None]:
    def behaviour(handler: BaseHTTPRequestHandler, seen: Seen) -> None:
        handler.send_response(status)
        for name, value in (extra or {}).items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return behaviour


def _slow(handler: BaseHTTPRequestHandler, seen: Seen) -> None:
    seen.stop.wait(5)
    _answer(200)(handler, seen)


def _trickle_status(handler: BaseHTTPRequestHandler, seen: Seen) -> None:
    """One byte of the status line every 0.1 s: each read waits less than any read timeout."""
    for byte in b"HTTP/1.1 200 OK\r\n" * 100:
        if seen.stop.wait(0.1):
            return
        handler.wfile.write(bytes([byte]))
        handler.wfile.flush()


def _trickle_body(handler: BaseHTTPRequestHandler, seen: Seen) -> None:
    handler.send_response(200)
    handler.send_header("Content-Length", "1000")
    handler.end_headers()
    handler.wfile.flush()
    for _ in range(1000):
        if seen.stop.wait(0.1):
            return
        handler.wfile.write(b"x")
        handler.wfile.flush()


def _endless(handler: BaseHTTPRequestHandler, seen: Seen) -> None:
    handler.send_response(200)
    handler.send_header("Content-Length", str(1 << 40))
    handler.end_headers()
    chunk = b"x" * 65536
    while not seen.stop.is_set():
        handler.wfile.write(chunk)


Serve = Callable[..., tuple[int, Seen]]


class _ServerV6(ThreadingHTTPServer):
    address_family = socket.AF_INET6


@pytest.fixture
def serve() -> Iterator[Serve]:
    """Starts a server on 127.0.0.1 (TLS when given a context); (port, what it saw)."""
    running: list[tuple[ThreadingHTTPServer, Seen]] = []

    def start(
        behaviour: Callable[..., None], tls: ssl.SSLContext | None = None, host: str = "127.0.0.1"
    ) -> tuple[int, Seen]:
        seen = Seen()
        server_class = _ServerV6 if ":" in host else ThreadingHTTPServer
        server = server_class((host, 0), _handler(behaviour, seen))
        server.daemon_threads = True
        if tls is not None:
            tls.sni_callback = lambda sock, name, context: seen.sni.append(name)  # type: ignore[assignment]
            server.socket = tls.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        running.append((server, seen))
        return server.server_port, seen

    yield start
    for server, seen in running:
        seen.stop.set()
        server.shutdown()
        server.server_close()


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Names the stub resolver knows; what it was asked is under "asked"."""
    names: dict[str, list[str]] = {"asked": []}

    def resolve(host: str, port: int) -> list[str]:
        names["asked"].append(host)
        if host not in names:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return list(names[host])

    monkeypatch.setattr(address, "resolve", resolve)
    return names


@pytest.fixture
def no_lookup(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The system resolver refuses (and records) every call: a second lookup would show."""
    calls: list[object] = []

    def getaddrinfo(host: object, *args: object, **kwargs: object) -> list[object]:
        calls.append(host)
        raise socket.gaierror(socket.EAI_NONAME, "no lookups in this test")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return calls


def _post(url: str, **kwargs: object) -> tuple[transport.Response, float]:
    started = time.monotonic()
    response = transport.post(url, BODY, HEADERS, **kwargs)  # type: ignore[arg-type]
    return response, time.monotonic() - started


# --- answers -----------------------------------------------------------------------------


def test_a_200_is_delivered_with_the_body_and_signed_headers(serve: Serve, no_lookup: list[object]) -> None:
    port, seen = serve(_answer(200))
    response, _ = _post(f"http://127.0.0.1:{port}/hooks/consent?tenant=demo", allow_loopback=True)
    assert (response.status, response.error) == (200, None)
    assert response.elapsed_ms >= 0
    [request] = seen.requests
    assert request["path"] == "/hooks/consent?tenant=demo"
    assert request["body"] == BODY
    headers = {name.lower(): value for name, value in request["headers"].items()}  # type: ignore[attr-defined]
    for name, value in HEADERS.items():
        assert headers[name] == value
    assert headers["host"] == f"127.0.0.1:{port}"
    assert headers["content-length"] == str(len(BODY))
    assert no_lookup == []


def test_a_500_is_a_status_not_an_error(serve: Serve) -> None:
    port, _ = serve(_answer(500, b"boom"))
    response, _ = _post(f"http://127.0.0.1:{port}/", allow_loopback=True)
    assert (response.status, response.error) == (500, None)


def test_a_302_is_not_followed(serve: Serve) -> None:
    port, seen = serve(_answer(302, b"", {"Location": "/elsewhere"}))
    response, _ = _post(f"http://127.0.0.1:{port}/hook", allow_loopback=True)
    assert (response.status, response.error) == (302, "redirect")
    assert [request["path"] for request in seen.requests] == ["/hook"]


def test_an_endless_answer_is_cut_after_what_is_read(serve: Serve) -> None:
    port, _ = serve(_endless)
    response, took = _post(f"http://127.0.0.1:{port}/", allow_loopback=True, timeout=5)
    assert (response.status, response.error) == (200, None)
    assert took < 2


def test_nothing_of_the_body_or_headers_is_logged(serve: Serve, caplog: pytest.LogCaptureFixture) -> None:
    port, _ = serve(_answer(500))
    with caplog.at_level(logging.DEBUG):
        _post(f"http://127.0.0.1:{port}/", allow_loopback=True)
        _post(f"http://127.0.0.1:{port}/", allow_loopback=True, timeout=0.0001)
    for secret in (HEADERS["webhook-signature"], "consent.opted_out", SECRET):
        assert secret not in caplog.text


# --- the deadline ------------------------------------------------------------------------


@pytest.mark.timeout(10)
def test_a_server_slower_than_the_timeout_is_a_timeout(serve: Serve) -> None:
    port, _ = serve(_slow)
    response, took = _post(f"http://127.0.0.1:{port}/", allow_loopback=True, timeout=0.5)
    assert (response.status, response.error) == (None, "timeout")
    assert took < 1.5
    assert 400 <= response.elapsed_ms < 1500


@pytest.mark.timeout(10)
def test_a_server_trickling_its_status_line_cannot_stretch_the_deadline(serve: Serve) -> None:
    port, _ = serve(_trickle_status)
    response, took = _post(f"http://127.0.0.1:{port}/", allow_loopback=True, timeout=0.5)
    assert (response.status, response.error) == (None, "timeout")
    assert took < 1.5


@pytest.mark.timeout(10)
def test_a_server_trickling_its_answer_body_cannot_stretch_the_deadline(serve: Serve) -> None:
    """The status came, but not the whole answer in time: a timeout (the caller retries)."""
    port, _ = serve(_trickle_body)
    response, took = _post(f"http://127.0.0.1:{port}/", allow_loopback=True, timeout=0.5)
    assert (response.status, response.error) == (200, "timeout")
    assert took < 1.5


@pytest.mark.timeout(10)
def test_a_slow_resolver_counts_against_the_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()

    def slow(host: str, port: int) -> list[str]:
        release.wait(5)
        return ["127.0.0.1"]

    monkeypatch.setattr(address, "resolve", slow)
    try:
        response, took = _post("http://hooks.test:9/", allow_loopback=True, timeout=0.5)
    finally:
        release.set()
    assert (response.status, response.error) == (None, "timeout")
    assert took < 1.5


def test_a_refused_connection_is_a_connection_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    response, _ = _post(f"http://127.0.0.1:{port}/", allow_loopback=True, timeout=2)
    assert (response.status, response.error) == (None, "connection")


# --- the address at delivery -------------------------------------------------------------


@pytest.fixture
def no_connect(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    tried: list[object] = []

    def connect(self: socket.socket, where: object) -> None:
        tried.append(where)
        raise AssertionError("connected")

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect)
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: connect(None, a))  # type: ignore[arg-type]
    return tried


@pytest.mark.parametrize(
    "answer",
    [["10.0.0.5"], ["169.254.169.254"], ["93.184.215.14", "192.168.1.20"], ["fd00:ec2::254"], []],
)
def test_a_name_that_now_resolves_to_a_private_address_is_blocked_without_connecting(
    stub: dict[str, list[str]], no_connect: list[object], answer: list[str]
) -> None:
    stub["hooks.example.com"] = answer  # public when subscribed, rebound since
    response, _ = _post("https://hooks.example.com/hook")
    assert (response.status, response.error) == (None, "blocked_address")
    assert no_connect == []


@pytest.mark.parametrize(
    "url",
    [
        "https://169.254.169.254/latest/meta-data/",
        "https://[::ffff:169.254.169.254]/",
        "https://0x7f.1/",
        "https://user:pw@hooks.example.com/",
        "ftp://hooks.example.com/",
        "not a url",
    ],
)
def test_a_url_the_guard_refuses_is_blocked_without_connecting(
    stub: dict[str, list[str]], no_connect: list[object], url: str
) -> None:
    stub["hooks.example.com"] = ["93.184.215.14"]
    response, _ = _post(url)
    assert (response.status, response.error) == (None, "blocked_address")
    assert no_connect == []


def test_loopback_is_refused_unless_allowed(serve: Serve, stub: dict[str, list[str]]) -> None:
    port, seen = serve(_answer(200))
    stub["localhost"] = ["127.0.0.1"]
    for url in (f"http://127.0.0.1:{port}/", f"https://127.0.0.1:{port}/", f"http://localhost:{port}/"):
        response, _ = _post(url)
        assert (response.status, response.error) == (None, "blocked_address"), url
    assert seen.requests == []


def test_http_goes_to_loopback_only_even_when_loopback_is_allowed(
    stub: dict[str, list[str]], no_connect: list[object]
) -> None:
    stub["hooks.example.com"] = ["93.184.215.14"]
    response, _ = _post("http://hooks.example.com/", allow_loopback=True)
    assert (response.status, response.error) == (None, "blocked_address")
    assert no_connect == []


def test_the_checked_address_is_the_one_connected_to_without_a_second_lookup(
    serve: Serve, stub: dict[str, list[str]], no_lookup: list[object]
) -> None:
    port, seen = serve(_answer(204, b""))
    stub["hooks.test"] = ["127.0.0.1"]
    response, _ = _post(f"http://hooks.test:{port}/in", allow_loopback=True)
    assert (response.status, response.error) == (204, None)
    assert stub["asked"] == ["hooks.test"]
    assert no_lookup == []
    assert seen.requests[0]["headers"]["Host"] == f"hooks.test:{port}"  # type: ignore[index]


def test_an_ipv6_address_is_connected_to_as_such(serve: Serve, stub: dict[str, list[str]]) -> None:
    try:
        port, seen = serve(_answer(200), host="::1")
    except OSError:
        pytest.skip("no IPv6 loopback here")
    stub["hooks.test"] = ["::1"]
    for url in (f"http://[::1]:{port}/", f"http://hooks.test:{port}/"):
        response, _ = _post(url, allow_loopback=True)
        assert (response.status, response.error) == (200, None), url
    assert [request["headers"]["Host"] for request in seen.requests] == [  # type: ignore[index]
        f"[::1]:{port}",
        f"hooks.test:{port}",
    ]


def test_an_unexpected_resolver_failure_is_raised_not_taken_for_a_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(host: str, port: int) -> list[str]:
        raise KeyError(host)

    monkeypatch.setattr(address, "resolve", broken)
    with pytest.raises(KeyError):
        transport.post("https://hooks.example.com/", BODY, HEADERS)


def test_the_first_allowed_address_is_used(serve: Serve, stub: dict[str, list[str]]) -> None:
    port, _ = serve(_answer(200))
    stub["hooks.test"] = ["127.0.0.1", "127.0.0.2"]  # nothing listens on 127.0.0.2
    response, _ = _post(f"http://hooks.test:{port}/", allow_loopback=True)
    assert response.status == 200


# --- TLS ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pki:
    ca: bytes
    cert: Path
    key: Path


def _pki(tmp_path: Path, name: str) -> Pki:
    """A CA and a server certificate for ``name``, both made here."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "webhook test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return Pki(ca.public_bytes(serialization.Encoding.PEM), cert_path, key_path)


def _server_tls(pki: Pki) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.cert, pki.key)
    return context


def _trusting(pki: Pki) -> Callable[[], ssl.SSLContext]:
    def ssl_context() -> ssl.SSLContext:
        return ssl.create_default_context(cadata=pki.ca.decode())

    return ssl_context


def test_https_sends_sni_and_verifies_the_certificate_against_the_host_name(
    serve: Serve,
    stub: dict[str, list[str]],
    no_lookup: list[object],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    pki = _pki(tmp_path, "localhost")
    port, seen = serve(_answer(200), tls=_server_tls(pki))
    stub["localhost"] = ["127.0.0.1"]
    monkeypatch.setattr(transport, "ssl_context", _trusting(pki))
    response, _ = _post(f"https://localhost:{port}/hook", allow_loopback=True)
    assert (response.status, response.error) == (200, None)
    assert seen.sni == ["localhost"]
    assert seen.requests[0]["headers"]["Host"] == f"localhost:{port}"  # type: ignore[index]
    assert seen.requests[0]["body"] == BODY
    assert no_lookup == []


def test_a_certificate_for_another_name_is_a_tls_error(
    serve: Serve, stub: dict[str, list[str]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pki = _pki(tmp_path, "other.example")
    port, seen = serve(_answer(200), tls=_server_tls(pki))
    stub["localhost"] = ["127.0.0.1"]
    monkeypatch.setattr(transport, "ssl_context", _trusting(pki))
    response, _ = _post(f"https://localhost:{port}/hook", allow_loopback=True)
    assert (response.status, response.error) == (None, "tls")
    assert seen.requests == []


def test_a_certificate_outside_the_default_trust_store_is_a_tls_error(
    serve: Serve, stub: dict[str, list[str]], tmp_path: Path
) -> None:
    pki = _pki(tmp_path, "localhost")
    port, seen = serve(_answer(200), tls=_server_tls(pki))
    stub["localhost"] = ["127.0.0.1"]
    response, _ = _post(f"https://localhost:{port}/hook", allow_loopback=True)
    assert (response.status, response.error) == (None, "tls")
    assert seen.requests == []


def test_https_to_a_plain_http_server_is_an_error_not_a_hang(
    serve: Serve, stub: dict[str, list[str]]
) -> None:
    port, _ = serve(_answer(200))
    stub["localhost"] = ["127.0.0.1"]
    response, took = _post(f"https://localhost:{port}/", allow_loopback=True, timeout=2)
    assert response.status is None
    assert response.error in {"tls", "connection"}
    assert took < 2.5


def test_the_default_context_verifies_certificates_and_host_names() -> None:
    context = transport.ssl_context()
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2
