"""openapi.yaml is a valid OpenAPI 3.1 document and names exactly the template's routes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from openapi_spec_validator import OpenAPIV31SpecValidator, validate

from local import template

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = ROOT / "openapi.yaml"
METHODS = ("get", "head", "post", "put", "patch", "delete", "options")
ERROR_STATUSES = {"400", "404", "413", "415", "422", "429", "503"}


def _document() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(DOCUMENT.read_text(encoding="utf-8"))
    return data


def _operations(doc: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method.upper(), path): operation
        for path, item in doc["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    }


def test_document_is_valid_openapi_3_1() -> None:
    doc = _document()
    assert doc["openapi"].startswith("3.1")
    validate(doc, cls=OpenAPIV31SpecValidator)


def test_document_and_template_name_the_same_routes() -> None:
    documented = set(_operations(_document()))
    routed = {(route.method, route.path) for route in template.routes(template.load())}
    assert documented - routed == set(), "documented but not routed by template.yaml"
    assert routed - documented == set(), "routed by template.yaml but not documented"


def test_iam_routes_are_the_sigv4_routes() -> None:
    """Routes with ``Auth.Authorizer: AWS_IAM`` in the template are exactly the documented
    operations that require the ``sigv4`` scheme."""
    tpl = template.load()
    private = set()
    for resource in tpl["Resources"].values():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        for event in (resource.get("Properties", {}).get("Events") or {}).values():
            props = event.get("Properties") or {}
            if event.get("Type") == "HttpApi" and (props.get("Auth") or {}).get("Authorizer") == "AWS_IAM":
                private.add((props["Method"].upper(), props["Path"]))
    doc = _document()
    signed = {key for key, op in _operations(doc).items() if {"sigv4": []} in (op.get("security") or [])}
    assert signed == private
    scheme = doc["components"]["securitySchemes"]["sigv4"]
    assert scheme["x-amazon-apigateway-authtype"] == "awsSigv4"


def _resolve(doc: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = doc
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def test_every_operation_documents_its_answers() -> None:
    """Every error a route can give is documented with a schema; 429 and 503 carry
    Retry-After; 303 carries Location."""
    doc = _document()
    for key, operation in _operations(doc).items():
        responses = operation["responses"]
        assert "404" in responses, key  # unknown tenant, token or code; API Gateway's no-route
        assert "503" in responses, key
        assert not any(status.startswith("5") and status != "503" for status in responses), key
        for status, response in responses.items():
            response = _resolve(doc, response)
            if key[0] != "HEAD" and status in ERROR_STATUSES:
                assert "application/json" in response.get("content", {}), (key, status)
            if status in ("429", "503"):
                assert _resolve(doc, response["headers"]["Retry-After"])["required"] is True, (key, status)
            if status == "303":
                assert _resolve(doc, response["headers"]["Location"])["required"] is True, key


def test_signup_refusals_list_the_spec_codes() -> None:
    doc = _document()
    refused = doc["components"]["schemas"]["SignupRefused"]["properties"]["error"]["allOf"][1]
    codes = set(refused["properties"]["code"]["enum"])
    assert {
        "invalid_phone",
        "not_mobile",
        "country_not_allowed",
        "consent_required",
        "age_confirmation_required",
        "unknown_purpose",
        "unknown_consent_text",
    } <= codes
    reasons = doc["components"]["schemas"]["CheckResult"]["properties"]["reason"]["enum"]
    from smsconsent import presend

    assert set(reasons) == set(presend.REASONS)


# (status, code) answers of ``api.answer_for`` no HTTP client of the deployed API can get,
# each with the reason it is left out of openapi.yaml.
NOT_DOCUMENTED = {
    # API Gateway routes by method (template.yaml): another method is its 404, never the function's.
    (405, "method_not_allowed"): "unroutable",
    # API Gateway always sends a payload 2.0 event; only a direct invocation can lack one.
    (400, "malformed_event"): "direct invocation only",
    # Only a direct pre-send invocation comes through a tenant's alias (API Gateway invokes
    # the function itself, and IAM on the route binds its callers).
    (403, "tenant_not_bound"): "direct invocation only",
    # API Gateway names a valid domainName; only the local stack reads a client's Host header.
    (400, "malformed_request"): "local stack only",
    # A bug: logged with its trace, never promised (every operation documents 503 as its only 5xx).
    (500, "internal_error"): "a bug",
}


def _codes(doc: dict[str, Any], node: Any, seen: frozenset[str] = frozenset()) -> set[str]:
    """Every ``code`` enum or const under ``node``, following $refs."""
    if isinstance(node, list):
        return set().union(*(_codes(doc, item, seen) for item in node)) if node else set()
    if not isinstance(node, dict):
        return set()
    if "$ref" in node:
        ref = node["$ref"]
        return set() if ref in seen else _codes(doc, _resolve(doc, node), seen | {ref})
    found: set[str] = set()
    code = node.get("properties", {}).get("code")
    if isinstance(code, dict):
        found |= {str(c) for c in code.get("enum", ())} | ({str(code["const"])} if "const" in code else set())
    for value in node.values():
        found |= _codes(doc, value, seen)
    return found


def test_every_answer_of_the_error_table_is_documented() -> None:
    """Each (status, code) the one error table (``api.answer_for``) can give is an answer
    of at least one operation in openapi.yaml."""
    from smsconsent import api

    doc = _document()
    documented = {
        (int(status), code)
        for operation in _operations(doc).values()
        for status, response in operation["responses"].items()
        for code in _codes(doc, response)
    }
    table = api.answers()
    assert set(NOT_DOCUMENTED) <= table, "an exception for an answer the table cannot give"
    missing = sorted(table - set(NOT_DOCUMENTED) - documented)
    assert missing == [], "answers of api.answer_for that openapi.yaml does not document"
