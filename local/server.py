"""The local HTTP server: local-only routes (``/``, ``/_local/...``) and, for everything
else, API Gateway's part (``local.apigw``) in front of the real handlers."""

from __future__ import annotations

import ipaddress
import json
import math
import re
import sys
import threading
import time
import traceback
import uuid
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import urlsplit

from local import apigw, pages
from local.apigw import HttpRequest, HttpResponse, Router, json_response
from local.errors import StackError
from local.optout_list import LocalOptOutLists
from local.template import Function

_NO_STORE = ("Cache-Control", "no-store")


# What the server needs of the stack behind it (``local.stack.LocalStack`` is one): typed
# here, so that the stack imports the server and never the other way round.
class MovableClock(Protocol):
    def now(self) -> datetime: ...

    def set(self, moment: datetime) -> datetime: ...

    def advance(self, seconds: float) -> datetime: ...


class DeliveryLog(Protocol):
    def report(self) -> dict[str, Any]: ...


class SinkLog(Protocol):
    def receive(self, headers: dict[str, str], body: bytes) -> None: ...

    def received(self) -> list[dict[str, Any]]: ...


class Backend(Protocol):
    @property
    def router(self) -> Router: ...

    @property
    def functions(self) -> dict[str, Function]: ...

    @property
    def clock(self) -> MovableClock: ...

    @property
    def ready(self) -> threading.Event: ...

    @property
    def deliveries(self) -> DeliveryLog: ...

    @property
    def sink(self) -> SinkLog: ...

    @property
    def provider_optouts(self) -> LocalOptOutLists: ...

    def function(self, name: str) -> Function | None: ...

    def invoke(
        self, function: Function, event: Any, request_id: str, qualifier: str | None = None
    ) -> Any: ...

    def settle(self, timeout: float = 10.0, *, webhooks: bool = True) -> bool: ...

    def import_file(self, tenant: str, name: str, data: bytes) -> Any: ...

    def reset(self) -> None: ...


# Lambda's alias names, and $LATEST or a version number.
_QUALIFIER = re.compile(r"(\$LATEST|[A-Za-z0-9_-]{1,128})\Z")
_E164 = re.compile(r"\+[1-9][0-9]{6,14}\Z")
# A file name as people write it (spaces, "+", umlauts), as S3 takes it; never a folder,
# a control character or a name of dots only.
_FILE_NAME = re.compile(r"(?!\.*\Z)[^/\\\x00-\x1f\x7f]{1,200}\Z")
DEMO_OPT_OUT_LIST = "demo-optouts"  # local/tenants/demo.json: sms.opt_out_list
DEMO_TENANT = "demo"


def _error(status: int, code: str, message: str, field: str | None = None) -> HttpResponse:
    error: dict[str, Any] = {"code": code, "message": message}
    if field:
        error["field"] = field
    return json_response(status, {"error": error}, [_NO_STORE])


def _html(status: int, html: str) -> HttpResponse:
    return HttpResponse(
        status, [("Content-Type", "text/html; charset=utf-8"), _NO_STORE], html.encode("utf-8")
    )


# Methods a page of another site can send without a CORS preflight (POST) or that change
# state: these need proof the caller is not such a page (see _cross_site_refusal).
_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_LOOPBACK_NAMES = frozenset({"localhost"})


def _loopback_host(host: str, bound: str) -> bool:
    """Whether a ``Host`` header names this machine: localhost, 127.0.0.0/8 or [::1] (any
    port), or the address the stack was told to listen on."""
    host = host.strip().lower()
    if host.startswith("["):
        name = host[1 : host.find("]")] if "]" in host else ""
    else:
        name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    name = name.rstrip(".")
    if name in _LOOPBACK_NAMES or (bound not in ("", "0.0.0.0", "::") and name == bound.lower()):  # noqa: S104
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _foreign_refusal(request: HttpRequest, bound: str) -> HttpResponse | None:
    """The answer for a request to a local-only or private route that a page of another site
    could have made: a foreign ``Host`` (DNS rebinding: evil.example resolving to
    127.0.0.1) or a state-changing request without JSON or a custom header (CSRF: a form
    or no-cors fetch cannot send either without a preflight the stack never grants)."""
    host = request.header("host")
    if host is not None and not _loopback_host(host, bound):
        return _error(
            421,
            "host_not_allowed",
            "the local stack answers only for localhost, 127.0.0.1 and [::1] on this route",
            "host",
        )
    if request.method.upper() in _CHANGING:
        kind = (request.header("content-type") or "").split(";", 1)[0].strip().lower()
        json_body = kind == "application/json" or kind.endswith("+json")
        if not json_body and not request.header("x-requested-with"):
            return _error(
                403,
                "cross_site_request",
                "send Content-Type: application/json or an X-Requested-With header "
                "(a cross-site form cannot, so it cannot drive this route)",
                "content-type",
            )
    return None


class LocalServer(ThreadingHTTPServer):
    daemon_threads = True
    stack: Backend
    access_log: bool


def make_server(stack: Backend, host: str, port: int, access_log: bool = False) -> LocalServer:
    server = LocalServer((host, port), Handler)
    server.stack = stack
    server.access_log = access_log
    return server


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "sms-consent-local"
    timeout = 60
    server: LocalServer

    # Every method goes through one dispatcher; API Gateway decides per route.
    def do_GET(self) -> None:
        self._dispatch()

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    def __getattr__(self, name: str) -> Any:
        # Any other method (TRACE, PROPFIND, ...) too: API Gateway answers those with 404.
        if name.startswith("do_"):
            return self._dispatch
        raise AttributeError(name)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # access lines are written by _dispatch, by route key (paths hold tokens)

    # -- plumbing ----------------------------------------------------------------------------

    def _read_body(self) -> bytes | None:
        """The body, or None when it is over its limit (then read and dropped, so the
        client gets to read the 413): API Gateway's, or for a file put in the import
        bucket (an S3 upload, not an API request) a little over the import planner's, so
        the planner refuses it itself, as in AWS."""
        limit = apigw.MAX_BODY_BYTES
        if self._bucket_upload():
            from smsconsent import importing

            limit = importing.MAX_BUCKET_FILE + (1 << 20)
        chunks: list[bytes] = []
        total = 0
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():
                        pass  # trailers
                    break
                total += size
                data = self.rfile.read(size)
                if total <= limit:
                    chunks.append(data)
                self.rfile.readline()
        else:
            length = int(self.headers.get("Content-Length") or 0)
            if length < 0:
                raise ValueError("negative Content-Length")
            while total < length:
                data = self.rfile.read(min(1 << 20, length - total))
                if not data:
                    raise ValueError("body shorter than Content-Length")
                total += len(data)
                if total <= limit:
                    chunks.append(data)
        return b"".join(chunks) if total <= limit else None

    def _bucket_upload(self) -> bool:
        """The request is a file put in the import bucket as the route takes it (POST, to
        this machine): only that is read past API Gateway's limit. Anything the route
        refuses anyway (another method, a page of another site through DNS rebinding) is
        not read 128 MB into memory first."""
        return (
            self.command == "POST"
            and urlsplit(self.path).path.startswith("/_local/import-bucket/")
            and _loopback_host(self.headers.get("Host") or "localhost", str(self.server.server_address[0]))
        )

    def _send(self, response: HttpResponse) -> None:
        self.send_response(response.status)
        for name, value in response.headers:
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and response.body:
            self.wfile.write(response.body)

    def _dispatch(self) -> None:
        started = time.monotonic()
        stack = self.server.stack
        try:
            body = self._read_body()
        except ValueError:
            self.close_connection = True
            self._send(json_response(400, {"message": "Bad Request"}))
            return
        if body is None:
            self._send(json_response(413, apigw.TOO_LARGE))
            return
        request = HttpRequest(
            method=self.command,
            target=self.path,
            headers=list(self.headers.items()),
            body=body,
            client_ip=self.client_address[0],
            server_port=self.server.server_address[1],
            protocol=self.request_version,
        )
        path, _ = apigw.split_target(self.path)
        label = "local"
        try:
            if path == "/" or path.startswith("/_local/"):
                refusal = _foreign_refusal(request, str(self.server.server_address[0]))
                response = refusal or self._local(stack, request, path)
                label = f"{self.command} {path if path.startswith('/_local/') else '/'}"
            else:
                response, label = self._api(stack, request, path)
        except Exception:
            print_exception(f"local stack: {self.command} failed")
            response = json_response(500, apigw.INTERNAL_ERROR)
        try:
            self._send(response)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client left; nothing to tell it
        if self.server.access_log:
            took = (time.monotonic() - started) * 1000
            print(f"{label} -> {response.status} ({took:.0f} ms)", file=sys.stderr, flush=True)

    # -- the HTTP API ------------------------------------------------------------------------

    def _api(self, stack: Backend, request: HttpRequest, path: str) -> tuple[HttpResponse, str]:
        match = stack.router.match(request.method, path)
        if match is None:
            return json_response(404, apigw.NOT_FOUND), f"{request.method} (no route)"
        if match.route.private:
            # In AWS, IAM signatures keep other callers out; here, this machine's tools only.
            refusal = _foreign_refusal(request, str(self.server.server_address[0]))
            if refusal:
                return refusal, match.route.key
        function = stack.functions[match.route.function]
        event = apigw.build_event(request, match, stack.clock.now())
        try:
            answer = stack.invoke(function, event, event["requestContext"]["requestId"])
            return apigw.to_response(answer), match.route.key
        except Exception:
            print_exception(f"local stack: {function.logical_id} failed for {match.route.key}")
            return json_response(500, apigw.INTERNAL_ERROR), match.route.key

    # -- local-only routes -------------------------------------------------------------------

    def _local(self, stack: Backend, request: HttpRequest, path: str) -> HttpResponse:
        method = "GET" if request.method == "HEAD" else request.method
        accept = request.header("accept")
        if path == "/" and method == "GET":
            return self._demo_form(stack, request)
        if path == "/_local/health" and method == "GET":
            if stack.ready.is_set():
                return json_response(200, {"status": "ok"}, [_NO_STORE])
            return json_response(503, {"status": "starting"}, [_NO_STORE, ("Retry-After", "1")])
        if path == "/_local/outbox" and method == "GET":
            from smsconsent.sender.outbox import OUTBOX

            # Signups are answered before their SMS is sent (SignupQueue): a look at the
            # outbox right after one shows its SMS, as a person would expect.
            stack.settle(timeout=2.0, webhooks=False)
            messages = [
                {key: m[key] for key in ("to", "body", "tenant", "kind", "sent_at")}
                for m in OUTBOX.messages()
            ]
            if pages.prefers_html(accept):
                return _html(200, pages.outbox(messages, _page_language(request)))
            return json_response(200, {"messages": messages}, [_NO_STORE])
        if path == "/_local/clock" and method in ("GET", "POST"):
            if method == "POST":
                problem = self._move_clock(stack, request.body)
                if problem:
                    return problem
            from smsconsent import clock

            return json_response(200, {"now": clock.iso(stack.clock.now())}, [_NO_STORE])
        if path == "/_local/reset" and method == "POST":
            try:
                stack.reset()
            except StackError as exc:
                return _error(500, "tenant_file_invalid", f"nothing was reset: {exc}")
            return json_response(200, {"status": "reset"}, [_NO_STORE])
        if path.startswith("/_local/invoke/") and method == "POST":
            return self._invoke(stack, path.removeprefix("/_local/invoke/"), request.body)
        webhooks = self._webhooks(stack, request, path, method)
        if webhooks is not None:
            return webhooks
        stand_in = self._stand_ins(stack, request, path, method)
        if stand_in is not None:
            return stand_in
        known = {
            "/": "GET, HEAD",
            "/_local/health": "GET, HEAD",
            "/_local/outbox": "GET, HEAD",
            "/_local/clock": "GET, HEAD, POST",
            "/_local/reset": "POST",
            "/_local/webhooks": "GET, HEAD",
            "/_local/sink": "GET, HEAD, POST",
            "/_local/provider-optouts": "GET, HEAD, POST",
            "/_local/insights": "GET, HEAD",
        }
        allow = known.get(path) or (
            "POST" if path.startswith(("/_local/invoke/", "/_local/import-bucket/")) else None
        )
        if allow:
            response = _error(405, "method_not_allowed", f"{path} allows {allow}")
            response.headers.append(("Allow", allow))
            return response
        return json_response(404, apigw.NOT_FOUND)

    @staticmethod
    def _webhooks(stack: Backend, request: HttpRequest, path: str, method: str) -> HttpResponse | None:
        """``/_local/webhooks`` (the delivery attempts) and ``/_local/sink`` (the demo
        receiver); None for any other path or method."""
        html = pages.prefers_html(request.header("accept"))
        if path == "/_local/sink" and method == "POST":
            stack.sink.receive(dict(request.headers), request.body)
            return HttpResponse(204, [_NO_STORE], b"")
        if path not in ("/_local/webhooks", "/_local/sink") or method != "GET":
            return None
        # A look right after a change shows its deliveries (the stack delivers within 2 s).
        stack.settle(timeout=1.0)
        if path == "/_local/sink":
            received = stack.sink.received()
            if html:
                return _html(200, pages.sink(received, _page_language(request)))
            return json_response(200, {"received": received}, [_NO_STORE])
        report = stack.deliveries.report()
        if html:
            return _html(200, pages.webhook_attempts(report, _page_language(request)))
        return json_response(200, report, [_NO_STORE])

    def _stand_ins(self, stack: Backend, request: HttpRequest, path: str, method: str) -> HttpResponse | None:
        """The stand-ins for AWS resources: the opt-out lists, the import bucket, and the
        demo tenant's insights page (where AWS has the CloudWatch dashboard)."""
        if path == "/_local/insights" and method == "GET":
            stack.settle(timeout=1.0)  # a look right after a change shows it counted
            return _html(200, pages.insights_page(f"/v1/{DEMO_TENANT}/insights"))
        if path == "/_local/provider-optouts" and method in ("GET", "POST"):
            return self._provider_optouts(stack, request, method)
        if path.startswith("/_local/import-bucket/") and method == "POST":
            return self._import_bucket(stack, path.removeprefix("/_local/import-bucket/"), request.body)
        return None

    @staticmethod
    def _provider_optouts(stack: Backend, request: HttpRequest, method: str) -> HttpResponse:
        """The stand-in AWS opt-out lists: GET shows them; POST ``{"phone", "list"}`` adds a
        number as if the person had replied STOP to AWS (``list``: the demo tenant's)."""
        if method == "POST":
            try:
                data = json.loads(request.body.decode("utf-8") or "null")
            except (UnicodeDecodeError, ValueError):
                data = None
            if not isinstance(data, dict):
                return _error(400, "invalid_json", "the body must be a JSON object")
            phone, name = data.get("phone"), data.get("list", DEMO_OPT_OUT_LIST)
            if not isinstance(phone, str) or not _E164.match(phone):
                return _error(422, "invalid_field", "phone must be E.164 (+4915112345678)", "phone")
            if not isinstance(name, str) or not name:
                return _error(422, "invalid_field", "list must be an opt-out list's name", "list")
            stack.provider_optouts.add_by_person(name, phone)
        else:
            stack.settle(timeout=1.0)  # a look right after a STOP shows it put on the list
        return json_response(200, {"lists": stack.provider_optouts.shown()}, [_NO_STORE])

    @staticmethod
    def _import_bucket(stack: Backend, rest: str, body: bytes) -> HttpResponse:
        """``POST /_local/import-bucket/{tenant}/{name}``: the file put in the import bucket
        (moto's S3) and planned as ImportPlanFunction plans it in AWS; no size limit but the
        machine's. The answer is the function's: the import's id."""
        tenant, _, name = rest.partition("/")
        from smsconsent.tenants import SLUG

        if not SLUG.match(tenant) or not _FILE_NAME.match(name):
            return _error(
                422, "invalid_field", "use /_local/import-bucket/<tenant>/<name>.csv or .ndjson", "path"
            )
        try:
            answer = stack.import_file(tenant, name, body)
        except StackError as exc:
            return _error(503, "service_unavailable", str(exc))
        return json_response(202, answer, [_NO_STORE])

    def _demo_form(self, stack: Backend, request: HttpRequest) -> HttpResponse:
        from smsconsent import tenants

        tenant = tenants.get("demo")
        if tenant is None:
            return _html(
                404, "<!doctype html><title>No demo tenant</title><p>local/tenants/demo.json is missing."
            )
        lang = tenant.language(_page_language(request, tenant.languages))
        return _html(200, pages.demo_form(tenant, lang))

    @staticmethod
    def _move_clock(stack: Backend, body: bytes) -> HttpResponse | None:
        from smsconsent import clock

        try:
            data = json.loads(body.decode("utf-8") or "null")
        except (UnicodeDecodeError, ValueError):
            return _error(400, "malformed_body", "body is not valid JSON")
        if not isinstance(data, dict) or len(data.keys() & {"now", "advance_seconds"}) != 1:
            return _error(400, "malformed_body", 'send {"now": "<ISO-8601>"} or {"advance_seconds": N}')
        if "now" in data:
            value = data["now"]
            try:
                moment = clock.parse_iso(value) if isinstance(value, str) else None
            except (ValueError, OverflowError):
                moment = None
            if moment is None:
                return _error(400, "invalid_field", "now must be an ISO-8601 time", "now")
            try:
                stack.clock.set(moment)
            except ValueError as exc:
                return _error(400, "invalid_field", str(exc), "now")
            return None
        seconds = data["advance_seconds"]
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not math.isfinite(seconds):
            return _error(
                400, "invalid_field", "advance_seconds must be a number of seconds", "advance_seconds"
            )
        try:
            stack.clock.advance(seconds)
        except (ValueError, OverflowError) as exc:
            return _error(400, "invalid_field", str(exc), "advance_seconds")
        return None

    @staticmethod
    def _invoke(stack: Backend, name: str, body: bytes) -> HttpResponse:
        """As ``sam local invoke -e``: the body is the event, the answer the return value.
        ``Function:qualifier`` invokes through an alias or version, as Lambda's FunctionName
        does (``PresendFunction:tenant-demo``)."""
        name, colon, qualifier = name.partition(":")
        if colon and not _QUALIFIER.match(qualifier):
            return _error(
                400,
                "invalid_field",
                "the qualifier must be an alias or version name ([A-Za-z0-9_$-])",
                "function",
            )
        function = stack.function(name)
        if function is None:
            known = ", ".join(sorted(stack.functions))
            return _error(404, "unknown_function", f"no function {name!r}; known: {known}", "function")
        try:
            event = json.loads(body.decode("utf-8")) if body.strip() else {}
        except (UnicodeDecodeError, ValueError):
            return _error(400, "malformed_body", "the event must be JSON")
        request_id = str(uuid.uuid4())
        try:
            answer = stack.invoke(function, event, request_id, qualifier or None)
            return json_response(200, answer, [_NO_STORE])
        except Exception as exc:
            print_exception(f"local stack: {function.logical_id} failed")
            # What Lambda's Invoke API answers for an unhandled error.
            return json_response(
                200,
                {"errorMessage": str(exc), "errorType": type(exc).__name__, "requestId": request_id},
                [("X-Amz-Function-Error", "Unhandled")],
            )


def _page_language(request: HttpRequest, languages: tuple[str, ...] = ("en", "de")) -> str:
    for part in (request.header("accept-language") or "").split(","):
        tag = part.split(";", 1)[0].strip().lower()[:2]
        if tag in languages:
            return tag
    return languages[0] if languages else "en"


def print_exception(prefix: str) -> None:
    """A traceback on stderr, as the Lambda runtime would log it."""
    print(prefix, file=sys.stderr)
    traceback.print_exc(file=sys.stderr)
