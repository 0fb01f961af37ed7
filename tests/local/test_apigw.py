"""API Gateway's part, without a server: routes read from template.yaml, route selection,
the payload 2.0 event and the answer's translation into an HTTP response."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from local import template
from local.apigw import BadAnswer, HttpRequest, Router, build_event, split_target, to_response
from local.template import Route

NOW = datetime(2026, 3, 12, 19, 3, 58, 123000, tzinfo=UTC)


def test_routes_come_from_the_template() -> None:
    routes = {r.key: r.function for r in template.routes(template.load())}
    assert routes["POST /v1/{tenant}/signup"] == "SignupFunction"
    assert routes["OPTIONS /v1/{tenant}/signup"] == "SignupFunction"
    assert routes["GET /c/{token}"] == "ConfirmFunction"
    assert routes["POST /c/{token}"] == "ConfirmFunction"
    functions = template.functions(template.load())
    assert functions["SignupFunction"].module == "functions.signup.app"
    assert functions["SignupFunction"].attribute == "handler"
    assert functions["ConfirmFunction"].folder == "confirm"


def test_the_template_reads_the_same_through_libyaml_as_through_pure_python() -> None:
    import yaml

    class PurePython(yaml.SafeLoader):
        pass

    PurePython.add_multi_constructor("!", template._intrinsic)
    text = template.TEMPLATE.read_text(encoding="utf-8")
    assert issubclass(template._CfnLoader, yaml.CSafeLoader)  # PyYAML's wheels bring libyaml
    assert template.load() == yaml.load(text, Loader=PurePython)  # noqa: S506 - a SafeLoader


def test_table_definition_follows_the_template() -> None:
    definition, ttl = template.table_definition(template.load(), "t")
    assert definition["TableName"] == "t"
    assert definition["BillingMode"] == "PAY_PER_REQUEST"
    assert {k["AttributeName"]: k["KeyType"] for k in definition["KeySchema"]} == {
        "pk": "HASH",
        "sk": "RANGE",
    }
    due, optouts, subjects = definition["GlobalSecondaryIndexes"]
    assert due["IndexName"] == "due-index"
    assert [k["AttributeName"] for k in due["KeySchema"]] == ["due_bucket", "due_at"]
    assert optouts["IndexName"] == "sms-optout-index"
    assert optouts["Projection"]["NonKeyAttributes"] == ["phone", "consents", "provider_list"]
    assert subjects["IndexName"] == "tenant-index"
    assert [k["AttributeName"] for k in subjects["KeySchema"]] == ["tenant_shard", "pk"]
    assert subjects["Projection"]["NonKeyAttributes"] == ["phone", "consents"]
    assert ttl == "ttl"


ROUTER = Router(
    [
        Route("GET", "/items/{id}", "Param"),
        Route("GET", "/items/special", "Literal"),
        Route("ANY", "/items/{id}", "AnyParam"),
        Route("GET", "/files/{path+}", "Greedy"),
        Route("GET", "/files/{name}", "FileParam"),
        Route("POST", "/v1/{tenant}/subjects/{phone}", "Subject"),
    ]
)


@pytest.mark.parametrize(
    ("method", "path", "function", "params"),
    [
        ("GET", "/items/special", "Literal", {}),  # a literal beats {id}
        ("GET", "/items/42", "Param", {"id": "42"}),
        ("DELETE", "/items/42", "AnyParam", {"id": "42"}),  # ANY takes what no exact method does
        ("GET", "/files/a", "FileParam", {"name": "a"}),  # {name} beats {path+}
        ("GET", "/files/a/b/c", "Greedy", {"path": "a/b/c"}),
        (
            "POST",
            "/v1/demo/subjects/+4915112345678",
            "Subject",
            {"tenant": "demo", "phone": "+4915112345678"},
        ),
    ],
)
def test_most_specific_route_wins(method: str, path: str, function: str, params: dict[str, str]) -> None:
    match = ROUTER.match(method, path)
    assert match is not None
    assert (match.route.function, match.path_params) == (function, params)


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/files/a"), ("GET", "/files"), ("GET", "/files/"), ("GET", "/items"), ("GET", "/items/42/")],
)
def test_no_route(method: str, path: str) -> None:
    assert ROUTER.match(method, path) is None


def test_default_route_comes_last() -> None:
    router = Router([Route("ANY", "$default", "Fallback"), Route("GET", "/a", "A")])
    assert router.match("GET", "/a").route.function == "A"  # type: ignore[union-attr]
    fallback = router.match("PUT", "/anything/else")
    assert fallback is not None
    assert fallback.route.key == "$default"


def test_the_path_is_decoded_before_routing() -> None:
    path, query = split_target("/v1/demo/subjects/%2B4915112345678?x=%20y")
    assert (path, query) == ("/v1/demo/subjects/+4915112345678", "x=%20y")
    match = ROUTER.match("POST", path)
    assert match is not None
    assert match.path_params["phone"] == "+4915112345678"


def _event(
    headers: list[tuple[str, str]], body: bytes = b"", target: str = "/items/42?a=1&a=2&b="
) -> dict[str, Any]:
    request = HttpRequest(
        method="GET", target=target, headers=headers, body=body, client_ip="127.0.0.1", server_port=3000
    )
    path, _ = split_target(target)
    match = ROUTER.match("GET", path)
    assert match is not None
    return build_event(request, match, NOW)


def test_event_shape() -> None:
    event = _event(
        [
            ("Host", "127.0.0.1:3000"),
            ("User-Agent", "pytest"),
            ("X-Many", "1"),
            ("x-many", "2"),
            ("Cookie", "a=1; b=2"),
            ("Cookie", "c=3"),
        ]
    )
    assert event["version"] == "2.0"
    assert event["routeKey"] == "GET /items/{id}"
    assert event["rawPath"] == "/items/42"
    assert event["rawQueryString"] == "a=1&a=2&b="
    assert event["queryStringParameters"] == {"a": "1,2", "b": ""}
    assert event["pathParameters"] == {"id": "42"}
    assert event["cookies"] == ["a=1", "b=2", "c=3"]
    assert "cookie" not in event["headers"]
    assert event["headers"]["x-many"] == "1,2"
    assert event["headers"]["x-forwarded-for"] == "127.0.0.1"
    assert all(name == name.lower() for name in event["headers"])
    assert event["isBase64Encoded"] is False
    assert "body" not in event
    context = event["requestContext"]
    assert context["http"] == {
        "method": "GET",
        "path": "/items/42",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": "pytest",
    }
    assert context["routeKey"] == "GET /items/{id}"
    assert context["stage"] == "$default"
    assert context["time"] == "12/Mar/2026:19:03:58 +0000"
    assert context["timeEpoch"] == 1773342238123
    assert context["domainName"] == "127.0.0.1:3000"
    assert context["accountId"] == "123456789012"
    assert context["requestId"]


def test_no_query_no_query_parameters() -> None:
    event = _event([], target="/items/42")
    assert event["rawQueryString"] == ""
    assert "queryStringParameters" not in event
    assert "cookies" not in event


@pytest.mark.parametrize(
    ("content_type", "encoded"),
    [
        ("application/json", False),
        ("application/json; charset=utf-8", False),
        ("application/problem+json", False),
        ("text/plain", False),
        ("application/xml", False),
        ("application/soap+xml", False),
        ("application/javascript", False),
        ("application/x-www-form-urlencoded", True),
        ("multipart/form-data; boundary=x", True),
        ("application/octet-stream", True),
    ],
)
def test_bodies_that_are_not_text_arrive_base64_encoded(content_type: str, encoded: bool) -> None:
    body = b"phone=%2B49&consent=on"
    event = _event([("Content-Type", content_type)], body)
    assert event["isBase64Encoded"] is encoded
    assert (base64.b64decode(event["body"]) if encoded else event["body"].encode()) == body


def test_answer_translation() -> None:
    response = to_response(
        {
            "statusCode": 303,
            "headers": {"Location": "/x", "X-Flag": True},
            "multiValueHeaders": {"X-Multi": ["a", "b"]},
            "cookies": ["a=1; Path=/", "b=2"],
            "body": base64.b64encode(b"\x00\x01").decode(),
            "isBase64Encoded": True,
        }
    )
    assert response.status == 303
    assert ("Location", "/x") in response.headers
    assert ("X-Flag", "true") in response.headers
    assert [v for k, v in response.headers if k == "X-Multi"] == ["a", "b"]
    assert [v for k, v in response.headers if k == "Set-Cookie"] == ["a=1; Path=/", "b=2"]
    assert response.body == b"\x00\x01"


def test_an_answer_without_status_code_is_sent_as_json() -> None:
    response = to_response({"hello": "world"})
    assert response.status == 200
    assert json.loads(response.body) == {"hello": "world"}
    assert ("Content-Type", "application/json") in response.headers


@pytest.mark.parametrize(
    "answer",
    [
        {"statusCode": "abc"},
        {"statusCode": 700},
        {"statusCode": 200, "body": {"not": "a string"}},
        {"statusCode": 200, "body": "!!", "isBase64Encoded": True},
        {"statusCode": 200, "headers": {"X": "a\r\nInjected: 1"}},
        {1, 2},
    ],
)
def test_unreadable_answers_are_refused(answer: Any) -> None:
    with pytest.raises(BadAnswer):
        to_response(answer)
