"""HTTP API payload 2.0 requests: bodies, parsing, refusals with the right status."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from smsconsent import api, pages
from smsconsent.errors import Refusal
from smsconsent.http import FORM, JSON, ApiError, Request, error_answer, html_answer, json_answer, redirect

LIMIT = 64 * 1024


def _event(
    body: str | None = None,
    content_type: str | None = None,
    b64: bool = False,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    all_headers = dict(headers or {})
    if content_type is not None:
        all_headers["content-type"] = content_type
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "POST /v1/{tenant}/signup",
        "rawPath": "/v1/demo/signup",
        "rawQueryString": "",
        "headers": all_headers,
        "requestContext": {
            "http": {
                "method": "POST",
                "path": "/v1/demo/signup",
                "sourceIp": "203.0.113.7",
                "userAgent": "pytest-agent",
            }
        },
        "pathParameters": {"tenant": "demo"},
        "isBase64Encoded": b64,
    }
    if body is not None:
        event["body"] = body
    event.update(extra)
    return event


def _fields(event: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    return Request.from_event(event).fields()


def _refusal(event: dict[str, Any]) -> ApiError:
    """The answer (``api.answer_for``, the one table) to the refusal reading the body raises."""
    with pytest.raises(Refusal) as refused:
        _fields(event)
    return api.answer_for(refused.value)


# ---- the request ----------------------------------------------------------------------------


def test_from_event_reads_the_payload_2_0_fields() -> None:
    # Given an HTTP API payload 2.0 event with mixed-case headers, query and cookies
    event = _event(
        '{"phone": "0151 12345678"}',
        headers={"Content-Type": "application/json", "X-Custom": "A"},
        queryStringParameters={"lang": "de"},
        cookies=["a=1"],
    )
    # When it becomes a Request
    request = Request.from_event(event)
    # Then method, path, lower-case headers, path parameters, IP, user agent and body are there
    assert request.method == "POST"
    assert request.path == "/v1/demo/signup"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["x-custom"] == "A"
    assert request.path_params == {"tenant": "demo"}
    assert request.query == {"lang": "de"}
    assert request.source_ip == "203.0.113.7"
    assert request.user_agent == "pytest-agent"
    assert request.cookies == ["a=1"]
    assert request.raw_body == b'{"phone": "0151 12345678"}'
    assert request.content_type == JSON


def test_from_event_without_body_or_optional_parts() -> None:
    # Given a bare GET event
    event = {"requestContext": {"http": {"method": "get"}}, "rawPath": "/c/x"}
    # When it becomes a Request
    request = Request.from_event(event)
    # Then absent parts are empty, never None
    assert request.method == "GET"
    assert request.path == "/c/x"
    assert request.headers == {} and request.query == {} and request.path_params == {}
    assert request.raw_body == b""


@pytest.mark.parametrize(
    "event", [{}, {"body": "{}"}, {"requestContext": None}, {"requestContext": "x"}, None, []]
)
def test_missing_request_context_is_400(event: Any) -> None:
    # Given something that is not a payload 2.0 event
    # When it is read
    with pytest.raises(Refusal) as refused:
        Request.from_event(event)
    # Then it is a 400, not a crash
    assert api.answer_for(refused.value).status == 400


def test_base64_json_body_is_decoded() -> None:
    # Given a base64-encoded JSON body with non-ASCII text
    raw = json.dumps({"phone": "0151 12345678", "source": "Grüße 😀"}, ensure_ascii=False).encode()
    event = _event(base64.b64encode(raw).decode(), JSON, b64=True)
    # When its fields are read
    fields, is_form = _fields(event)
    # Then they are the decoded object
    assert fields == {"phone": "0151 12345678", "source": "Grüße 😀"}
    assert is_form is False


def test_base64_form_body_is_decoded() -> None:
    # Given a base64-encoded form post (what API Gateway sends for browsers)
    raw = b"phone=%2B49+151+12345678&consent=on&source=Gr%C3%BC%C3%9Fe"
    event = _event(base64.b64encode(raw).decode(), FORM, b64=True)
    # When its fields are read
    fields, is_form = _fields(event)
    # Then the form is decoded (+ is a space, %XX is UTF-8)
    assert fields == {"phone": "+49 151 12345678", "consent": "on", "source": "Grüße"}
    assert is_form is True


def test_form_repeated_fields_become_lists_and_blanks_are_kept() -> None:
    # Given a form with a checkbox list and an empty honeypot
    body = "purposes=marketing&purposes=newsletter&purposes=orders&website=&consent=on"
    # When its fields are read
    fields, is_form = _fields(_event(body, FORM + "; charset=UTF-8"))
    # Then the repeated field is a list in order, and the empty field is present and empty
    assert fields == {"purposes": ["marketing", "newsletter", "orders"], "website": "", "consent": "on"}
    assert is_form is True


@pytest.mark.parametrize(
    "content_type", [JSON, "application/json; charset=utf-8", "Application/JSON", "application/vnd.api+json"]
)
def test_json_content_types_are_parsed_as_json(content_type: str) -> None:
    # Given a JSON body with a JSON content type (any case, with parameters, +json)
    fields, is_form = _fields(_event('{"consent": true, "purposes": ["marketing"]}', content_type))
    # Then it is parsed as JSON
    assert fields == {"consent": True, "purposes": ["marketing"]}
    assert is_form is False


def test_json_object_without_content_type_is_parsed() -> None:
    # Given a fetch() that forgot the content type but sent a JSON object
    fields, is_form = _fields(_event('  {"consent": "yes"}'))
    # Then it is read as JSON
    assert fields == {"consent": "yes"}
    assert is_form is False


def test_body_of_exactly_64_kib_is_accepted() -> None:
    # Given a JSON body of exactly 64 KiB
    prefix, suffix = '{"source": "', '"}'
    body = prefix + "x" * (LIMIT - len(prefix) - len(suffix)) + suffix
    assert len(body.encode()) == LIMIT
    # Then it is read
    assert len(_fields(_event(body, JSON))[0]["source"]) > 65000


@pytest.mark.parametrize("b64", [False, True])
def test_body_over_64_kib_is_413(b64: bool) -> None:
    # Given a body one byte over 64 KiB (plain or base64-encoded)
    prefix, suffix = '{"source": "', '"}'
    raw = prefix + "x" * (LIMIT + 1 - len(prefix) - len(suffix)) + suffix
    body = base64.b64encode(raw.encode()).decode() if b64 else raw
    # When its fields are read
    error = _refusal(_event(body, JSON, b64=b64))
    # Then it is refused with 413 before parsing
    assert error.status == 413
    assert error.code == "body_too_large"


def test_multibyte_body_is_measured_in_bytes() -> None:
    # Given 40,000 two-byte characters (80,000 bytes, under 64 Ki characters)
    body = '{"source": "' + "ü" * 40_000 + '"}'
    # Then it is too large
    assert _refusal(_event(body, JSON)).status == 413


@pytest.mark.parametrize("body", ['{"phone": ', "{'phone': 1}", "{", '{"a": 1}}', "\x00"])
def test_malformed_json_is_400_malformed_body(body: str) -> None:
    # Given a JSON content type with a body that is not JSON
    error = _refusal(_event(body, JSON))
    # Then it is 400 malformed_body
    assert (error.status, error.code) == (400, "malformed_body")
    assert error.body()["error"]["code"] == "malformed_body"


@pytest.mark.parametrize("body", ["[1, 2]", '"text"', "42", "null", "true", "", "   "])
def test_json_that_is_not_an_object_is_400(body: str) -> None:
    # Given valid JSON (or nothing) that is not an object
    error = _refusal(_event(body, JSON))
    # Then it is 400 malformed_body
    assert (error.status, error.code) == (400, "malformed_body")


@pytest.mark.parametrize("body", ["not base64!", "====", "YQ", "YW Jj"])
def test_bad_base64_is_400(body: str) -> None:
    # Given a body flagged base64 that is not valid base64
    with pytest.raises(Refusal) as refused:
        Request.from_event(_event(body, JSON, b64=True))
    # Then it is 400 malformed_body
    error = api.answer_for(refused.value)
    assert (error.status, error.code) == (400, "malformed_body")


@pytest.mark.parametrize("raw", [b"\xff\xfe{}", b'{"a": "\xc3"}', b"phone=\xe9"])
def test_non_utf8_body_is_400(raw: bytes) -> None:
    # Given a base64 body whose bytes are not UTF-8
    error = _refusal(_event(base64.b64encode(raw).decode(), JSON, b64=True))
    # Then it is 400 malformed_body
    assert (error.status, error.code) == (400, "malformed_body")


def test_lone_surrogate_in_a_plain_body_is_400() -> None:
    # Given a (non-base64) body string with a lone surrogate
    error = _refusal(_event('{"a": "\ud800"}', JSON))
    # Then it is 400, not a crash
    assert (error.status, error.code) == (400, "malformed_body")


@pytest.mark.parametrize("content_type", ["text/plain", "multipart/form-data; boundary=x", "application/xml"])
def test_unsupported_content_type_is_415(content_type: str) -> None:
    # Given a body in a media type the API does not take
    error = _refusal(_event("phone=1", content_type))
    # Then it is 415 unsupported_media_type, naming the content-type
    assert error.status == 415
    assert error.code == "unsupported_media_type"
    assert error.field == "content-type"
    assert error.body() == {
        "error": {"code": "unsupported_media_type", "message": error.message, "field": "content-type"}
    }


def test_body_without_content_type_that_is_no_json_object_is_400() -> None:
    # Given a body with no content type that does not look like JSON
    error = _refusal(_event("phone=1"))
    # Then it is 400 malformed_body naming the content-type
    assert (error.status, error.code, error.field) == (400, "malformed_body", "content-type")


def test_form_with_too_many_fields_is_a_client_error() -> None:
    # Given a 1.4 KB form post with 201 fields
    body = "&".join(f"f{i}=1" for i in range(201))
    # When its fields are read
    # Then it is refused as the client's fault (4xx), not an unexpected exception
    error = _refusal(_event(body, FORM))
    assert 400 <= error.status < 500


def test_deeply_nested_json_is_400() -> None:
    # Given a 10 KB JSON object nesting 5,000 arrays
    body = '{"a": ' + "[" * 5000 + "]" * 5000 + "}"
    assert len(body) < LIMIT
    # When its fields are read
    # Then it is refused as malformed, not a crash
    error = _refusal(_event(body, JSON))
    assert (error.status, error.code) == (400, "malformed_body")


# ---- content negotiation ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "wants_json"),
    [
        ("application/json", True),
        ("APPLICATION/JSON", True),
        ("application/json, text/plain, */*", True),  # axios' default
        ("application/json, text/html", True),
        ("application/json;q=0.9,text/html;q=0.8", True),
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", False),  # browsers
        ("text/html, application/json", False),
        ("*/*", False),  # fetch() default: HTML answer
        ("", False),
        ("text/plain", False),
        # the weights count before the order (RFC 9110 12.5.1); q=0 is "not acceptable"
        ("text/html;q=0.5, application/json", True),
        ("text/html;level=1;q=0.2, application/json;q=0.3", True),
        ("text/html;q=0, application/json", True),
        ("application/json;q=0, text/html", False),
        ("application/json;q=0", False),
        ("application/json;q=0.8, text/html;q=0.9", False),
        ("application/json;q=0.8, text/html;q=0.8", True),  # a tie: the one named first
        ("application/jsonx, text/html", False),  # another type, not JSON
    ],
)
def test_accepts_json(accept: str, wants_json: bool) -> None:
    # Given a request with an Accept header
    request = Request.from_event(_event(headers={"Accept": accept}))
    # Then JSON is chosen when it is named before (or instead of) HTML
    assert request.accepts_json() is wants_json


def test_no_accept_header_is_not_json() -> None:
    assert Request.from_event(_event()).accepts_json() is False


@pytest.mark.parametrize(
    ("accept", "html"),
    [
        ("text/html", True),
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", True),
        ("application/json, text/html", False),
        ("text/html;q=0", False),  # HTML not acceptable: the private routes' JSON
        ("application/json;q=0, text/html;q=0.1", True),
        ("*/*", False),
        ("", False),
    ],
)
def test_prefers_html(accept: str, html: bool) -> None:
    assert Request.from_event(_event(headers={"Accept": accept})).prefers_html() is html


# ---- answers ----------------------------------------------------------------------------------


def test_error_answer_is_json_with_code_message_field_and_headers() -> None:
    # Given a refusal with a field and a Retry-After
    error = ApiError(429, "rate_limited", "too many", None, {"Retry-After": "60"})
    # When it is answered
    answer = error_answer(error, {"Vary": "Origin"})
    # Then it is JSON with the error object and every header
    assert answer["statusCode"] == 429
    assert answer["headers"]["Content-Type"] == "application/json"
    assert answer["headers"]["Retry-After"] == "60"
    assert answer["headers"]["Vary"] == "Origin"
    assert json.loads(answer["body"]) == {"error": {"code": "rate_limited", "message": "too many"}}


def test_json_html_and_redirect_answers() -> None:
    # Given the three answer helpers
    # Then JSON keeps non-ASCII, pages carry the protective headers, a redirect is a bodiless 303
    assert json.loads(json_answer(200, {"s": "ü"})["body"]) == {"s": "ü"}
    page = html_answer(200, "<p>x</p>")
    assert page["headers"]["X-Frame-Options"] == "DENY"
    assert page["headers"]["Referrer-Policy"] == "no-referrer"
    assert page["headers"]["Cache-Control"] == "no-store"
    assert html_answer(200, "<p>x</p>", head=True)["body"] == ""
    assert redirect("https://example.com/thanks") == {
        "statusCode": 303,
        "headers": {"Location": "https://example.com/thanks", "Cache-Control": "no-store"},
        "body": "",
    }


# ---- page language ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept_language", "wanted", "language"),
    [
        (None, None, "en"),
        ("", None, "en"),
        ("de-DE,de;q=0.9,en;q=0.8", None, "de"),
        ("de", None, "de"),
        ("DE-at", None, "de"),
        ("en-GB,en;q=0.9", None, "en"),
        ("fr-FR, fr;q=0.9, de;q=0.5", None, "de"),  # first language the pages know
        ("fr, es", None, "en"),
        ("*", None, "en"),
        ("de-DE", "en", "en"),  # the subject's own language wins
        ("en", "de", "de"),
        ("de", "fr", "de"),  # an unknown subject language falls back to the browser's
    ],
)
def test_language_of(accept_language: str | None, wanted: str | None, language: str) -> None:
    # Given a browser's Accept-Language and maybe the subject's language
    # Then the page language is the subject's, else the browser's first known, else English
    assert pages.language_of(accept_language, wanted) == language
