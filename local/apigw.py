"""What API Gateway (HTTP API, payload format 2.0) does around a Lambda integration:
pick the route, build the event, turn the function's answer into an HTTP response.

Behaviour mirrored from AWS (see the API Gateway developer guide, "Working with AWS Lambda
proxy integrations for HTTP APIs" and "Working with routes for HTTP APIs"):

- Routes: the method must match exactly (``ANY`` matches every method); ``{x}`` matches
  one non-empty segment, ``{x+}`` the rest of the path (at least one segment). The most
  specific route wins: a literal segment beats ``{x}``, which beats ``{x+}``; an exact
  method beats ``ANY``; ``$default`` comes last. No route: 404 ``{"message":"Not Found"}``.
- The path is URL-decoded before routing, and ``rawPath``, ``requestContext.http.path``
  and ``pathParameters`` carry it decoded (HTTP APIs do; REST APIs and function URLs do
  not). ``rawQueryString`` is as sent; ``queryStringParameters`` are decoded, a repeated
  name's values comma-joined. Header names are lower case, repeated headers
  comma-joined; ``Cookie`` headers become the ``cookies`` list and are left out of
  ``headers``.
- A body whose content type is not text-like arrives base64-encoded (a form post does);
  no body, no ``body`` key. Bodies over 10 MB: 413.
- The answer: ``statusCode``, ``headers``, ``cookies`` (one ``Set-Cookie`` each) and
  ``body`` (base64-decoded when ``isBase64Encoded``). An answer without ``statusCode`` is
  sent as 200 ``application/json`` with the answer serialised as JSON; an answer that
  cannot be read, or a function that fails, gives 500 ``{"message":"Internal Server Error"}``.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, unquote

from local.template import DEFAULT_ROUTE, Route, segments

MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
ACCOUNT_ID = "123456789012"
API_ID = "local"
NOT_FOUND = {"message": "Not Found"}
INTERNAL_ERROR = {"message": "Internal Server Error"}
TOO_LARGE = {"message": "Request Entity Too Large"}
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_TEXT_TYPES = ("application/json", "application/xml", "application/javascript")


# ---- routing ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Match:
    route: Route
    path_params: dict[str, str]


@dataclass
class _Compiled:
    route: Route
    parts: list[tuple[str, str]]

    def rank(self) -> tuple[int, tuple[int, ...], int]:
        kinds = {"lit": 0, "param": 1, "greedy": 2}
        return (
            int(self.route.path == DEFAULT_ROUTE),
            tuple(kinds[kind] for kind, _ in self.parts),
            int(self.route.method == "ANY"),
        )

    def match(self, parts: list[str]) -> dict[str, str] | None:
        if self.route.path == DEFAULT_ROUTE:
            return {}
        params: dict[str, str] = {}
        for i, (kind, name) in enumerate(self.parts):
            if kind == "greedy":
                rest = parts[i:]
                if not rest or not "".join(rest):
                    return None
                params[name] = "/".join(rest)
                return params
            if i >= len(parts):
                return None
            if kind == "lit":
                if parts[i] != name:
                    return None
            elif not parts[i]:
                return None
            else:
                params[name] = parts[i]
        return params if len(parts) == len(self.parts) else None


class Router:
    def __init__(self, routes: Iterable[Route]) -> None:
        compiled = [_Compiled(r, [] if r.path == DEFAULT_ROUTE else segments(r.path)) for r in routes]
        # Most specific first; the first that matches wins.
        self._routes = sorted(compiled, key=_Compiled.rank)

    @property
    def routes(self) -> list[Route]:
        return [c.route for c in self._routes]

    def match(self, method: str, path: str) -> Match | None:
        """``path`` is the decoded path (``decoded_path`` of the request target)."""
        parts = path.strip("/").split("/") if path.strip("/") else []
        if path.endswith("/") and path != "/":
            parts.append("")  # "/c/abc/" is not "/c/abc"
        method = method.upper()
        for candidate in self._routes:
            if candidate.route.method not in ("ANY", method):
                continue
            params = candidate.match(parts)
            if params is not None:
                return Match(candidate.route, params)
        return None


def split_target(target: str) -> tuple[str, str]:
    """``/a%20b?x=1`` -> (``/a b``, ``x=1``): the decoded path and the raw query."""
    raw_path, _, query = target.partition("?")
    raw_path = raw_path.split("#", 1)[0] or "/"
    return unquote(raw_path, errors="replace"), query


# ---- the event ----------------------------------------------------------------------------


def is_text(content_type: str | None) -> bool:
    """Content types API Gateway passes as text; everything else is base64-encoded."""
    kind = (content_type or "").split(";", 1)[0].strip().lower()
    return kind.startswith("text/") or kind in _TEXT_TYPES or kind.endswith("+json") or kind.endswith("+xml")


def request_time(moment: datetime) -> str:
    """``12/Mar/2020:19:03:58 +0000`` (English month names whatever the locale)."""
    moment = moment.astimezone(UTC)
    return f"{moment.day:02d}/{_MONTHS[moment.month - 1]}/{moment:%Y:%H:%M:%S} +0000"


@dataclass
class HttpRequest:
    """An HTTP request as the local server read it."""

    method: str
    target: str  # path and query as sent, e.g. "/v1/demo/signup?x=1"
    headers: Sequence[tuple[str, str]]  # as sent, repeats kept
    body: bytes
    client_ip: str
    server_port: int
    protocol: str = "HTTP/1.1"
    extra: dict[str, Any] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        return ",".join(values) if values else None


def build_event(request: HttpRequest, match: Match, now: datetime) -> dict[str, Any]:
    """The payload format 2.0 event API Gateway would send for ``request``."""
    path, raw_query = split_target(request.target)
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in request.headers:
        lower = name.lower()
        if lower == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
        elif lower in headers:
            headers[lower] = f"{headers[lower]},{value}"
        else:
            headers[lower] = value
    forwarded = headers.get("x-forwarded-for")
    headers["x-forwarded-for"] = f"{forwarded}, {request.client_ip}" if forwarded else request.client_ip
    headers["x-forwarded-port"] = str(request.server_port)
    headers["x-forwarded-proto"] = "http"
    headers.setdefault("x-amzn-trace-id", f"Root=1-{int(now.timestamp()):08x}-{secrets.token_hex(12)}")
    if request.body:
        headers.setdefault("content-length", str(len(request.body)))

    host = headers.get("host", f"127.0.0.1:{request.server_port}")
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": match.route.key,
        "rawPath": path,
        "rawQueryString": raw_query,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = headers
    if raw_query:
        query: dict[str, str] = {}
        for key, value in parse_qsl(raw_query, keep_blank_values=True):
            query[key] = f"{query[key]},{value}" if key in query else value
        event["queryStringParameters"] = query
    event["requestContext"] = {
        "accountId": ACCOUNT_ID,
        "apiId": API_ID,
        "domainName": host,
        "domainPrefix": host.split(".", 1)[0].split(":", 1)[0],
        "http": {
            "method": request.method.upper(),
            "path": path,
            "protocol": request.protocol,
            "sourceIp": request.client_ip,
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": str(uuid.uuid4()),
        "routeKey": match.route.key,
        "stage": "$default",
        "time": request_time(now),
        "timeEpoch": int(now.timestamp() * 1000),
    }
    if match.path_params:
        event["pathParameters"] = dict(match.path_params)
    if request.body:
        text: str | None = None
        if is_text(headers.get("content-type")):
            try:
                text = request.body.decode("utf-8")
            except UnicodeDecodeError:
                text = None
        if text is None:
            event["body"] = base64.b64encode(request.body).decode("ascii")
            event["isBase64Encoded"] = True
        else:
            event["body"] = text
            event["isBase64Encoded"] = False
    else:
        event["isBase64Encoded"] = False
    return event


# ---- the answer ---------------------------------------------------------------------------


class BadAnswer(ValueError):
    """The function's answer is not one API Gateway could send (API Gateway: 500)."""


@dataclass
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def json_response(status: int, body: Any, headers: Sequence[tuple[str, str]] = ()) -> HttpResponse:
    return HttpResponse(
        status,
        [("Content-Type", "application/json"), *headers],
        json.dumps(body, ensure_ascii=False).encode("utf-8"),
    )


def to_response(answer: Any) -> HttpResponse:
    """The HTTP response API Gateway makes of a function's return value."""
    if not isinstance(answer, dict) or "statusCode" not in answer:
        # Payload 2.0 infers a response when there is no statusCode.
        try:
            return json_response(200, answer)
        except (TypeError, ValueError) as exc:
            raise BadAnswer(f"answer is not JSON: {exc}") from exc
    status = answer["statusCode"]
    if isinstance(status, bool) or not isinstance(status, int | str) or not str(status).isdigit():
        raise BadAnswer(f"statusCode must be an integer, got {status!r}")
    if not 100 <= int(status) <= 599:
        raise BadAnswer(f"statusCode {status} is out of range")
    headers: list[tuple[str, str]] = []
    for name, value in (answer.get("headers") or {}).items():
        headers.append((str(name), _header_value(value)))
    for name, values in (answer.get("multiValueHeaders") or {}).items():
        if not isinstance(values, list):
            raise BadAnswer(f"multiValueHeaders[{name!r}] must be a list")
        headers.extend((str(name), _header_value(v)) for v in values)
    cookies = answer.get("cookies") or []
    if not isinstance(cookies, list):
        raise BadAnswer("cookies must be a list")
    headers.extend(("Set-Cookie", _header_value(c)) for c in cookies)
    body = answer.get("body")
    if body is None:
        raw = b""
    elif not isinstance(body, str):
        raise BadAnswer(f"body must be a string, got {type(body).__name__}")
    elif answer.get("isBase64Encoded"):
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise BadAnswer("body is marked base64 but is not") from exc
    else:
        # A lone surrogate (from a JSON "\\ud800" in a request, say) has no UTF-8 form: "?".
        raw = body.encode("utf-8", "replace")
    if not any(name.lower() == "content-type" for name, _ in headers) and raw:
        headers.append(("Content-Type", "application/json"))
    return HttpResponse(int(status), headers, raw)


def _header_value(value: Any) -> str:
    text = str(value).lower() if isinstance(value, bool) else str(value)
    if "\r" in text or "\n" in text:
        raise BadAnswer("a header value contains a line break")
    return text
