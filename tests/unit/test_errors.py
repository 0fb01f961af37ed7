"""One error vocabulary: the domain raises ``smsconsent.errors`` refusals without HTTP
numbers, and one table (``api.answer_for``) gives every failure its status, code and
Retry-After, for the HTTP routes and the pre-send function's direct invocation alike."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pytest

from smsconsent import api, errors, store
from smsconsent.tenants import TenantError

ROOT = Path(__file__).resolve().parents[2]
LAYER = ROOT / "layers" / "smsconsent" / "smsconsent"
# The edge: where HTTP answers are made (``http`` reads requests and shapes answers).
EDGE = {LAYER / "api.py", LAYER / "http.py"}


def _sources() -> list[Path]:
    return sorted([*LAYER.rglob("*.py"), *(ROOT / "functions").glob("*/app.py")])


def test_only_the_edge_makes_error_answers() -> None:
    # Given every module of the layer and every handler
    # When their code is read
    makers = []
    for path in _sources():
        if path in EDGE:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name == "ApiError":
                makers.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    # Then none but api.py makes an ApiError (an HTTP status): they raise refusals
    assert makers == []


def _kinds() -> set[type[errors.Refusal]]:
    found: set[type[errors.Refusal]] = set()
    todo = [errors.Refusal]
    while todo:
        for kind in todo.pop().__subclasses__():
            found.add(kind)
            todo.append(kind)
    return found


def test_every_kind_of_refusal_has_a_status_and_codes() -> None:
    # Given every kind of refusal the domain can raise
    for kind in _kinds():
        # Then the table gives it a status, and it names the codes it may carry
        assert kind in api.STATUS, kind
        assert kind.codes, kind


@pytest.mark.parametrize(
    ("failure", "status", "body", "headers"),
    [
        (
            errors.Invalid("invalid_field", "reason must be text", "reason"),
            422,
            {"code": "invalid_field", "message": "reason must be text", "field": "reason"},
            {},
        ),
        (
            errors.RateLimited("too many signups, try again later", 1800),
            429,
            {"code": "rate_limited", "message": "too many signups, try again later"},
            {"Retry-After": "1800"},
        ),
        (
            errors.Busy("the subject is being changed by another request; retry"),
            503,
            {"code": "busy", "message": "the subject is being changed by another request; retry"},
            {"Retry-After": "1"},
        ),
        (
            errors.Unavailable("sms_unavailable", "the confirmation SMS could not be sent; retry", 30),
            503,
            {"code": "sms_unavailable", "message": "the confirmation SMS could not be sent; retry"},
            {"Retry-After": "30"},
        ),
        (
            store.StoreUnavailable("throttled"),
            503,
            {"code": "service_unavailable", "message": "storage is busy; retry"},
            {"Retry-After": "2"},
        ),
        (
            TenantError("purposes", "missing"),
            503,
            {"code": "tenant_misconfigured", "message": "this tenant's settings are invalid"},
            {"Retry-After": "60"},
        ),
        (KeyError("bug"), 500, {"code": "internal_error", "message": "internal error"}, {}),
    ],
)
def test_the_table_answers_each_failure(
    failure: Exception, status: int, body: dict[str, Any], headers: dict[str, str]
) -> None:
    # Given a failure raised by the domain (or a bug)
    # When the edge answers it
    error = api.answer_for(failure)
    # Then status, error body and headers are the table's
    assert (error.status, error.body(), error.headers) == (status, {"error": body}, headers)
    assert (error.status, error.code) in api.answers()


def _raising(failure: Exception) -> Any:
    def handle(request: Any) -> dict[str, Any]:
        raise failure

    return api.entrypoint(handle, inject_context=False)


EVENT = {
    "version": "2.0",
    "rawPath": "/v1/demo/signup",
    "requestContext": {"http": {"method": "POST", "path": "/v1/demo/signup", "sourceIp": "192.0.2.1"}},
    "headers": {},
}


@pytest.mark.parametrize(
    "failure",
    [
        errors.Busy("kept changing"),
        errors.RateLimited("slow", 9),
        store.StoreUnavailable("x"),
        KeyError("bug"),
    ],
)
def test_http_and_direct_presend_answer_from_the_same_table(
    failure: Exception, monkeypatch: pytest.MonkeyPatch
) -> None:
    from functions.presend import app as presend_app
    from smsconsent import presend

    def fail(*args: Any) -> None:
        raise failure

    monkeypatch.setattr(presend, "bind", fail)
    # Given the same failure on an HTTP route and in a direct pre-send invocation
    answer = _raising(failure)(EVENT, None)
    direct = presend_app.direct({"tenant": "demo", "recipients": ["+4915112345678"]}, None)
    # Then both carry the table's answer: status, code, message and Retry-After
    error = api.answer_for(failure)
    assert answer["statusCode"] == error.status
    assert json.loads(answer["body"]) == error.body()
    assert answer["headers"].get("Retry-After") == error.headers.get("Retry-After")
    expected = {**error.body()["error"], "status": error.status}
    if "Retry-After" in error.headers:
        expected["retry_after"] = int(error.headers["Retry-After"])
    assert direct == {"error": expected}


def test_cors_headers_stay_on_refusals_and_outages_not_on_bugs() -> None:
    for failure, kept in (
        (errors.Busy("x"), True),
        (store.StoreUnavailable("x"), True),
        (KeyError("x"), False),
    ):

        def handle(request: Any, failure: Exception = failure) -> dict[str, Any]:
            request.answer_headers["Vary"] = "Origin"
            raise failure

        answer = api.entrypoint(handle, inject_context=False)(EVENT, None)
        assert ("Vary" in answer["headers"]) is kept, failure
