"""schemathesis against the whole HTTP API of the local stack, from openapi.yaml.

Every operation gets generated requests, valid and invalid (schemathesis' positive and
negative modes), sent through the local stack exactly as API Gateway would route them,
and the answers are checked: never a 5xx, and status code, content type, headers and body
as openapi.yaml documents them.

To reach past the first refusal, most requests are pointed at the seeded tenant ``demo``
and at a real confirmation token or opt-out code, and half of them ask for JSON. The stack
is reset once (the ``links`` fixture); every signup then moves the local clock on by
400 s, so the demo's 10 signups per IP per hour never run out and 429 stays the
exception. The private routes are open on the local stack, as in ``make run``.

A deeper run: ``HOSTILE_SCALE=5`` multiplies the examples per operation.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from local.stack import LocalStack, start
from tests.hostile.support import TRIED, assert_no_trace

ROOT = Path(__file__).resolve().parents[2]
schema = schemathesis.openapi.from_path(ROOT / "openapi.yaml")
# Methods no route has, sent to every path: the local server answers TRACE and QUERY with
# its own 501 (see test_local_stack_answers_unknown_methods_like_api_gateway), the rest
# with API Gateway's 404.
schema.config.phases.coverage.unexpected_methods = {"get", "put", "post", "delete", "options", "patch"}

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
MAX_EXAMPLES = 30 * int(os.environ.get("HOSTILE_SCALE", "1"))
# The demo tenant allows 10 signups per IP per hour: one every 6 minutes never hits it.
SIGNUP_SPACING_SECONDS = 400
_turn = itertools.count()


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    running = start(port=0)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        yield s


def _post(stack: LocalStack, path: str, body: Any = None, accept: str = "application/json") -> Any:
    data = json.dumps(body).encode() if body is not None else b""
    request = urllib.request.Request(
        stack.url + path,
        data=data,
        method="POST",
        headers={"Content-Type": "application/json", "Accept": accept},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.load(answer)


def _get(stack: LocalStack, path: str) -> Any:
    request = urllib.request.Request(stack.url + path, headers={"Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.load(answer)


@pytest.fixture(scope="module")
def links(stack: LocalStack) -> dict[str, list[str]]:
    """A fresh stack (reset: data, outbox, clock) holding a pending and a confirmed
    consent; returns their confirmation tokens and the confirmed one's opt-out code.
    Module scope: the operations' tests go on from the state the earlier ones left."""
    assert _post(stack, "/_local/reset") == {"status": "reset"}
    for number in ("+4915112345678", "+4915112345679"):
        _post(
            stack,
            "/v1/demo/signup",
            {"phone": number, "consent": True, "age_confirmed": True, "purposes": "marketing,newsletter"},
        )
    tokens = [
        m.group(1)
        for message in _get(stack, "/_local/outbox")["messages"]
        if (m := re.search(r"/c/([A-Za-z0-9_-]+)", message["body"]))
    ]
    assert len(tokens) == 2
    assert _post(stack, f"/c/{tokens[1]}") == {"status": "confirmed"}
    export = _get(stack, "/v1/demo/subjects/%2B4915112345679")
    code = export["subject"]["optout_url"].rsplit("/o/", 1)[1]
    return {"token": tokens, "code": [code]}


def _steer(case: Any, links: dict[str, list[str]], turn: int) -> dict[str, str]:
    """Point most cases at what exists, so they get past the first refusal; returns the
    extra headers for this case."""
    params = case.path_parameters if case.path_parameters is not None else {}
    if "tenant" in params and turn % 4 != 0:
        params["tenant"] = "demo"
    for name in ("token", "code"):
        if name in params and turn % 3 != 0:
            pool = links[name]
            params[name] = pool[turn % len(pool)]
    # The local stack refuses private-route requests a cross-site page could send (its
    # stand-in for IAM); a script's custom header is what lets this tool through.
    headers = {"X-Requested-With": "schemathesis"}
    return {**headers, "Accept": "application/json"} if turn % 2 else headers


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_answers_as_documented(
    case: Any, stack: LocalStack, session: requests.Session, links: dict[str, list[str]]
) -> None:
    turn = next(_turn)
    headers = _steer(case, links, turn)
    if case.operation.method.upper() == "POST" and case.operation.path == "/v1/{tenant}/signup":
        _post(stack, "/_local/clock", {"advance_seconds": SIGNUP_SPACING_SECONDS})
    TRIED["schemathesis"] += 1
    response = case.call(base_url=stack.url, session=session, headers=headers, timeout=30)
    assert_no_trace(response.text)
    case.validate_response(response, checks=CHECKS, headers=headers)
