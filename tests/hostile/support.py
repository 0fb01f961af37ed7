"""What the hostile tests share: the answer checks, a full dump of the moto table, and a
tally of the cases tried (reported at the end of the run by ``conftest``)."""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

import boto3
import pytest

from tests.fixtures.aws import TABLE

TRIED: Counter[str] = Counter()
# Answers by test and status (or known bug set aside), for a look at what the fuzzing reached.
SEEN: Counter[str] = Counter()
TRACE_MARKERS = ("Traceback", 'File "')

Dump = dict[tuple[str, str], dict[str, Any]]


def dump_table(table: str = TABLE) -> Dump:
    """Every item of the (moto) table by key: what a refused request must leave as it was."""
    client = boto3.client("dynamodb")
    items: Dump = {}
    for page in client.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
        for item in page.get("Items", []):
            items[(item["pk"]["S"], item["sk"]["S"])] = item
    return items


def without_rate_counters(items: Dump) -> Dump:
    """The dump without rate-limit counters (``RATE#...``): a signup counts every attempt
    from an IP toward its hourly budget, refused ones included, by design."""
    return {key: item for key, item in items.items() if not key[0].startswith("RATE#")}


def assert_no_trace(text: str) -> None:
    for marker in TRACE_MARKERS:
        assert marker not in text, f"stack trace in the answer: {text[:500]}"


def assert_clean_answer(answer: Any) -> int:
    """An HTTP API 2.0 answer API Gateway can send: an int status below 500, string
    headers, a string body without a stack trace, JSON errors in the documented shape.
    Returns the status."""
    assert isinstance(answer, dict), f"answer is not a dict: {answer!r:.300}"
    status = answer.get("statusCode")
    assert isinstance(status, int), f"no int statusCode: {answer!r:.300}"
    body = answer.get("body", "")
    assert isinstance(body, str), f"body is not text: {body!r:.300}"
    assert status < 500, f"{status}: {body[:500]}"
    assert_no_trace(body)
    headers = answer.get("headers") or {}
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items()), headers
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    if status >= 400 and content_type.startswith("application/json") and body:
        data = json.loads(body)
        assert isinstance(data, dict), data
        if "error" in data:
            assert isinstance(data["error"].get("code"), str), data
            assert isinstance(data["error"].get("message"), str), data
        else:
            assert isinstance(data.get("status"), str), data  # a link outcome ({"status": ...})
    return status


# DynamoDB's key limits: moto checks them when an item is written, DynamoDB on every request
# that names a key (a read or a delete of a key no item can have is a ValidationException).
HASH_KEY_BYTES, RANGE_KEY_BYTES = 2048, 1024
_KEY_EQUALS = re.compile(r"(#\w+)\s*=\s*(:\w+)")


def _key_too_long(operation: str, params: dict[str, Any]) -> str | None:
    keys: list[dict[str, Any]] = []
    if operation in ("GetItem", "DeleteItem", "UpdateItem"):
        keys = [params.get("Key") or {}]
    elif operation == "BatchGetItem":
        keys = [key for request in params.get("RequestItems", {}).values() for key in request["Keys"]]
    elif operation == "Query":
        names = params.get("ExpressionAttributeNames") or {}
        values = params.get("ExpressionAttributeValues") or {}
        condition = params.get("KeyConditionExpression") or ""
        keys = [{names.get(n, n): values.get(v, {})} for n, v in _KEY_EQUALS.findall(condition)]
    for key in keys:
        for name, limit in (("pk", HASH_KEY_BYTES), ("sk", RANGE_KEY_BYTES)):
            text = (key.get(name) or {}).get("S")
            if isinstance(text, str) and len(text.encode("utf-8", "surrogatepass")) > limit:
                return f"One or more parameter values were invalid: the {name} is over {limit} bytes"
    return None


def enforce_dynamodb_key_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make moto refuse a request naming a key over DynamoDB's limits, as DynamoDB does."""
    from botocore.client import BaseClient
    from botocore.exceptions import ClientError

    real = BaseClient._make_api_call

    def checked(client: Any, operation: str, params: dict[str, Any]) -> Any:
        if client.meta.service_model.service_name == "dynamodb":
            why = _key_too_long(operation, params)
            if why is not None:
                raise ClientError({"Error": {"Code": "ValidationException", "Message": why}}, operation)
        return real(client, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", checked)
