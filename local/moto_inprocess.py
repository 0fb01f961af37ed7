"""The layer's AWS calls answered by the embedded moto in this process, without a socket.

The local stack runs moto as a server on a loopback port, so the CLI, `make tenant` and
other processes can reach it. Its werkzeug server closes the connection after every
answer and starts a thread for every request, so each call the stack's own functions made
cost a TCP connection, a thread and an HTTP round trip: about half the CPU of an import
row on the local stack. This hands a request the layer's botocore session signs for that
endpoint to the same moto application in the calling thread instead (what moto's own
in-process mock does for AWS's endpoints), and the answer comes back as botocore would
have read it off the wire: signing, retries, error parsing and the clients are unchanged.
Only requests to the embedded endpoint are answered here; others to this machine go out as
before, and one to any other address (AWS itself: a service without a local endpoint) is
refused before it is sent. Nothing in the layer imports this.

moto also lists its own package folder (some 200 ``isdir`` calls) for every request it
routes, under one lock: that list is made once here, as it cannot change while running.
"""

from __future__ import annotations

import io
import ipaddress
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

_UNIQUE_ID = "local-moto-inprocess"


class _Body(io.BytesIO):
    """What botocore reads an answer's body from (``AWSResponse.raw``), as it reads
    urllib3's: ``read(n)`` gives n bytes, ``tell()`` counts them, ``close()`` works (a
    StreamingBody over it reads and closes it like any other)."""

    def stream(self, amt: int | None = 2**16, **_: Any) -> Any:
        while chunk := self.read(amt):
            yield chunk


def _list_modules_once() -> None:
    from moto import backends

    if not isinstance(getattr(backends.list_of_moto_modules, "modules", None), tuple):
        modules = tuple(backends.list_of_moto_modules())

        def listed() -> tuple[str, ...]:
            return modules

        listed.modules = modules  # type: ignore[attr-defined]
        backends.list_of_moto_modules = listed


class LeavesThisMachine(RuntimeError):
    """A call of the stack's functions that would go to AWS itself: refused before it is
    sent (a plain error, not a connection error, so botocore does not retry it)."""

    def __init__(self, url: str) -> None:
        where = urlsplit(url)
        super().__init__(
            f"the local stack calls only this machine, not {where.scheme}://{where.netloc}: "
            "give the service a local endpoint (AWS_ENDPOINT_URL_<SERVICE>) or a local stand-in"
        )


def _loopback(url: str) -> bool:
    host = (urlsplit(url).hostname or "").rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _headers(headers: Any, pairs: list[tuple[str, str]]) -> Any:
    for name, value in pairs:  # as http.client reads them: repeated names kept
        headers[name] = value
    return headers


def install(session: Any, endpoint: str) -> Callable[[], None]:
    """Answer ``session``'s requests to ``endpoint`` in process; returns the undo."""
    from botocore.awsrequest import AWSResponse, HTTPHeaders
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.test import EnvironBuilder, run_wsgi_app

    _list_modules_once()
    app = DomainDispatcherApplication(create_backend_app)
    base = endpoint.rstrip("/")
    host = urlsplit(base).netloc

    def answer(request: Any, **_: Any) -> Any:
        if not (request.url == base or request.url.startswith(base + "/")):
            if not _loopback(request.url):
                raise LeavesThisMachine(request.url)
            return None
        parts = urlsplit(request.url)
        body = request.body
        if hasattr(body, "read"):  # a streamed body (S3 uploads): read it whole
            body = body.read()
        headers = {
            name: (value.decode() if isinstance(value, bytes) else value)
            for name, value in request.headers.items()
            if name.lower() != "host"  # botocore may have set one: two would read as a list
        }
        headers["Host"] = host
        environ = EnvironBuilder(
            path=parts.path or "/",
            base_url=base,
            query_string=parts.query,
            method=request.method,
            headers=headers,
            data=body or b"",
        ).get_environ()
        app_iter, status, response_headers = run_wsgi_app(app, environ, buffered=True)
        try:
            data = b"".join(app_iter)
        finally:
            close = getattr(app_iter, "close", None)
            if close is not None:
                close()
        headers = _headers(HTTPHeaders(), response_headers.to_wsgi_list())
        return AWSResponse(request.url, int(status.split()[0]), headers, _Body(data))

    session.register("before-send", answer, unique_id=_UNIQUE_ID)

    def undo() -> None:
        session.unregister("before-send", unique_id=_UNIQUE_ID)

    return undo
