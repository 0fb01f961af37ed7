"""What the hostile tests share: the answer checks, a full dump of the moto table, a tally of
the cases tried (reported at the end of the run by ``conftest``), and for the function fuzz
tests (``test_fuzz_*.py``, one file per function group so that they spread over the test
workers) the strategies that mutate events, ``Watch`` and the stub network.

The fuzz tests hand Hypothesis-generated hostile events to the real handlers on moto. The
events of events/ are mutated: random JSON and form bodies (unicode, lone surrogates,
wrong types, huge strings, deep nesting, missing and extra keys), bodies as random base64
bytes or broken base64, no body at all, random header values (content type, accept,
origin, host, forwarded scheme, provider signatures), random path parameters and query
strings. Direct invocations (pre-send, retention, SNS two-way SMS) get random whole
events; the consent events' stream (publisher) and webhook queue (delivery) get random
whole events and mutated records. Every answer must be:

- never a 5xx (HTTP) and never an exception (direct invocation: a dict comes back; stream
  and queue: ``batchItemFailures`` naming records of the batch, none unless something
  failed: a record that cannot be read is skipped or dead-lettered, not handed back);
- never a stack trace in the body;
- no partial write: a refused request (4xx) leaves the table exactly as it was (a signup's
  rate-limit counters aside: every attempt counts toward an IP's budget, by design) and
  sends no SMS.

Webhook URLs are resolved by a stub DNS, never for real, and nothing is connected to but
127.0.0.1 (the loopback receivers). Where a test says so, moto refuses a request naming a
key over DynamoDB's size limits, as DynamoDB does (moto checks only writes).

The inputs that broke things once have regression tests in test_found_bugs.py.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import dataclasses
import json
import os
import re
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode

import boto3
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from tests.fixtures.aws import TABLE
from tests.fixtures.events import load_event

TRIED: Counter[str] = Counter()
# Answers by test and status (or known bug set aside), for a look at what the fuzzing reached.
SEEN: Counter[str] = Counter()
TRACE_MARKERS = ("Traceback", 'File "')

Dump = dict[tuple[str, str], dict[str, Any]]


def dump_table(table: str = TABLE) -> Dump:
    """Every item of the (moto) table by key: what a refused request must leave as it was.

    Read from moto's memory, each item as a fresh copy in DynamoDB's JSON (what a Scan
    answers, ``scan_table`` below, held equal to it by test_support.py): the fuzz tests
    dump the table after every case, and a Scan's trip through moto's response
    serializer was three quarters of their time."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    region = boto3.DEFAULT_SESSION.region_name if boto3.DEFAULT_SESSION else os.environ["AWS_DEFAULT_REGION"]
    items: Dump = {}
    for item in dynamodb_backends[DEFAULT_ACCOUNT_ID][region].get_table(table).all_items():
        copied = item.to_json()["Attributes"]  # new dicts all the way down (moto copies nested values)
        items[(copied["pk"]["S"], copied["sk"]["S"])] = copied
    return items


def scan_table(table: str = TABLE) -> Dump:
    """``dump_table`` through the API: a consistent Scan of every page."""
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

    # The pre-send reader's short way (store.batch._Wire) meets DynamoDB's 400 as any
    # error: it hands the page to botocore, refused above.
    from smsconsent.store.batch import _Wire

    fetched = _Wire.fetch

    def checked_wire(wire: _Wire, request: Any) -> bytes | None:
        if _key_too_long("BatchGetItem", json.loads(request.body)) is not None:
            return None
        return fetched(wire, request)

    monkeypatch.setattr(_Wire, "fetch", checked_wire)


# ---- the fuzz tests: settings --------------------------------------------------------------

BASE = settings(
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# A deeper run: HOSTILE_SCALE=10 multiplies every max_examples (add --timeout 0: the
# table grows, and with it the scan per case).
SCALE = int(os.environ.get("HOSTILE_SCALE", "1"))


def fuzz(max_examples: int) -> settings:
    return settings(BASE, max_examples=max_examples * SCALE)


# ---- values ---------------------------------------------------------------------------------

INTERESTING = [
    "",
    " ",
    "\x00",
    "\t\r\n",
    "null",
    "true",
    "false",
    "1",
    "0",
    "-1",
    "on",
    "yes",
    "NaN",
    "1e400",
    "demo",
    "DEMO",
    "demo\n",
    "marketing",
    "newsletter",
    "orders",
    "marketing,newsletter,orders,unknown",
    ",,,",
    "sms",
    "whatsapp",
    "signup-sms",
    "signup-sms:1",
    "signup-sms:999",
    ":",
    "de",
    "en",
    "xx",
    "DE",
    "ÄÖ",
    "ß",
    "+4915112345678",
    "0151 12345678",
    "4915112345678",
    "+49 30 12345678",
    "+49 900 1234567",
    "+33612345678",
    "+12125550123",
    "+4915790000000",
    "+999999999999999",
    "+",
    "++49151",
    "STOP",
    "Stop please",
    "STOPP!",
    "YES",
    "START",
    "HELP",
    "bitte keine SMS mehr",
    "2026-11-22T14:00:00Z",
    "2026-11-22T14:00:00+99:00",
    "2027-11-23T00:00:00Z",
    "0000-00-00",
    "\u202e\u200b\ufeff",
    "💥" * 20,
    "\uff53\uff54\uff4f\uff50",  # fullwidth "stop"
    "<script>alert(1)</script>",
    "' OR '1'='1",
    "../../../etc/passwd",
    "%00%ff",
    "{{7*7}}",
    "${jndi:ldap://x}",
    "9" * 30,
    "a" * 501,
    "é" * 2000,
    "x" * 70_000,
]

# Header values API Gateway can deliver: any unicode text but no lone surrogates.
header_text = st.one_of(st.sampled_from(INTERESTING), st.text(max_size=40))
# Strings inside a JSON body: anything, lone UTF-16 surrogates included ("\\ud800").
json_text = st.one_of(
    st.sampled_from(INTERESTING),
    st.text(max_size=40),
    st.text(st.characters(exclude_categories=()), max_size=20),
    st.integers(min_value=2, max_value=4).map(lambda n: "long " * (10**n)),
)
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(),
    json_text,
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(json_text, children, max_size=4),
    max_leaves=12,
)
form_text = st.one_of(st.sampled_from(INTERESTING), st.text(max_size=40))

HEADER_VALUES: dict[str, list[str]] = {
    "content-type": [
        "application/json",
        "application/json; charset=utf-8",
        "APPLICATION/JSON",
        "application/x-www-form-urlencoded",
        "application/x-www-form-urlencoded; charset=latin-1",
        "application/vnd.api+json",
        "text/plain",
        "text/xml",
        "multipart/form-data; boundary=xyz",
        ";",
        "",
    ],
    "accept": [
        "application/json",
        "text/html",
        "application/json, text/html",
        "text/html, application/json",
        "text/html;q=0.1, application/json;q=0.9",
        "*/*",
        "application/xml",
        "",
    ],
    "origin": [
        "http://127.0.0.1:3000",
        "https://abc123def4.execute-api.eu-central-1.amazonaws.com",
        "https://evil.example",
        "null",
        "",
    ],
    "accept-language": ["de-DE,de;q=0.9", "en", "fr", "*", ";q=", ",,,", "zz-ZZ"],
    "x-forwarded-proto": ["https", "http", "", "ftp", "https, http"],
    "host": ["127.0.0.1:3000", "evil.example", "", "[::1]:3000"],
    "user-agent": ["", "curl/8", "a" * 5000],
    "x-twilio-signature": ["", "cEbR/sy1Fgk211Y2EkkrleBEfpM=", "=="],
    "x-plivo-signature-v3": ["", "abc,def", "=="],
    "x-plivo-signature-v3-nonce": ["", "1", "ü"],
    "messagebird-signature": ["", "=", "Ym4OtMFjj0bgAacqvZczbK6AfBfkITCmP/8fdb0YFxg="],
    "messagebird-request-timestamp": ["", "1795341600", "-1", "1e9", "99999999999999999999"],
    "messagebird-signature-jwt": ["", "a.b.c", "e30.e30.", "....", "eyJhbGciOiJIUzI1NiJ9.e30.x"],
    "webhook-signature": ["", "v1,abc", "v1"],
    "webhook-timestamp": ["", "1795341600", "x"],
    "webhook-id": ["", "msg_1"],
    "telnyx-signature-ed25519": ["", "A" * 88, "not base64"],
    "telnyx-timestamp": ["", "1795341600", "0", "999999999999"],
    "x-sinch-webhook-signature": ["", "abc"],
    "x-sinch-webhook-signature-nonce": ["", "n"],
    "x-sinch-webhook-signature-timestamp": ["", "1795341600", "-5"],
    "x-sinch-webhook-signature-algorithm": ["", "HmacSHA256", "HmacMD5", "none"],
}


def sometimes(times: int, of: int = 10) -> st.SearchStrategy[bool]:
    """True ``times`` in ``of`` (Hypothesis leans towards the first value: False)."""
    return st.sampled_from([False] * (of - times) + [True] * times)


def header_value(name: str) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(HEADER_VALUES.get(name) or [""]), header_text)


# ---- mutating an HTTP API event -------------------------------------------------------------


def json_paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every place in a JSON document a value can be swapped (the root excluded)."""
    if isinstance(value, dict):
        for key, child in value.items():
            yield (*prefix, key)
            yield from json_paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield (*prefix, index)
            yield from json_paths(child, (*prefix, index))


def mangle(draw: st.DrawFn, doc: Any, delete: bool = False) -> None:
    """One or two values anywhere in ``doc`` replaced by any JSON value (``delete``: removed
    instead): a field of the wrong type, or missing, wherever it sits."""
    paths = list(json_paths(doc))
    if not paths:
        return
    for path in draw(st.lists(st.sampled_from(paths), unique=True, min_size=1, max_size=2)):
        with contextlib.suppress(KeyError, IndexError, TypeError):  # a parent changed before
            if delete:
                delete_at(doc, path)
            else:
                replace_at(doc, path, draw(json_values))


def replace_at(doc: Any, path: tuple[Any, ...], value: Any) -> None:
    for step in path[:-1]:
        doc = doc[step]
    doc[path[-1]] = value


def _base_body(event: dict[str, Any]) -> tuple[Any, list[tuple[str, str]] | None]:
    """The event's body as JSON (or None) and as form pairs (or None)."""
    raw = event.get("body")
    if raw is None:
        return None, None
    text = base64.b64decode(raw).decode() if event.get("isBase64Encoded") else raw
    try:
        return json.loads(text), None
    except ValueError:
        return None, parse_qsl(text, keep_blank_values=True)


@st.composite
def json_body(draw: st.DrawFn, base: Any, fields: list[str]) -> tuple[str, bool]:
    doc = copy.deepcopy(base) if isinstance(base, dict) else {}
    for key in draw(st.lists(st.sampled_from(sorted(doc) or [""]), unique=True, max_size=3)):
        doc.pop(key, None)
    paths = list(json_paths(doc))
    if paths:
        for path in draw(st.lists(st.sampled_from(paths), unique=True, max_size=2)):
            with contextlib.suppress(KeyError, IndexError, TypeError):  # a parent swapped before
                replace_at(doc, path, draw(json_values))
    doc.update(draw(st.dictionaries(st.sampled_from(fields), json_values, max_size=4)))
    doc.update(draw(st.dictionaries(json_text, json_values, max_size=2)))
    text = json.dumps(doc, ensure_ascii=draw(st.booleans()))
    return text, False


@st.composite
def form_body(draw: st.DrawFn, base: list[tuple[str, str]] | None, fields: list[str]) -> tuple[str, bool]:
    pairs = list(base or [])
    if pairs:
        dropped = set(draw(st.lists(st.sampled_from(sorted({k for k, _ in pairs})), unique=True, max_size=3)))
        pairs = [(k, v) for k, v in pairs if k not in dropped]
    overrides = draw(st.dictionaries(st.sampled_from(fields), form_text, max_size=4))
    pairs = [(k, v) for k, v in pairs if k not in overrides] + list(overrides.items())
    pairs += draw(st.lists(st.tuples(st.sampled_from(fields) | form_text, form_text), max_size=3))
    text = urlencode(pairs)
    text += draw(st.sampled_from(["", "&", "&%ff%fe=%ed%a0%80", "&=&==&a", "&" + "x=1&" * 300]))
    if draw(st.booleans()):
        return base64.b64encode(text.encode()).decode(), True
    return text, False


def raw_bodies() -> st.SearchStrategy[tuple[str | None, bool]]:
    return st.one_of(
        st.just((None, False)),
        st.just(("", False)),
        st.text(max_size=200).map(lambda t: (t, False)),
        st.text(st.characters(exclude_categories=()), max_size=50).map(lambda t: (t, False)),
        st.binary(max_size=200).map(lambda b: (base64.b64encode(b).decode(), True)),
        st.text(max_size=50).map(lambda t: (t, True)),  # mostly not base64 at all
        json_values.map(lambda v: (json.dumps(v), False)),
        st.sampled_from(
            [
                ("[" * 50_000, False),
                ('{"a":' * 12_000 + "1" + "}" * 12_000, False),
                ('{"phone": "' + "9" * 70_000 + '"}', False),
                (base64.b64encode(b"\xff" * 70_000).decode(), True),
                ("null", False),
                ("[]", False),
                ('"text"', False),
                ("{}", False),
                ("{", False),
                ('{"a": NaN, "b": Infinity}', False),
                ('{"\\ud800": "\\udfff"}', False),
                ("%", False),
            ]
        ),
    )


@st.composite
def http_events(
    draw: st.DrawFn,
    bases: list[dict[str, Any]],
    fields: list[str],
    methods: list[str] | None = None,
    path_values: dict[str, st.SearchStrategy[str]] | None = None,
) -> dict[str, Any]:
    event = copy.deepcopy(draw(st.sampled_from(bases)))
    http = event["requestContext"]["http"]
    if methods:
        http["method"] = draw(st.sampled_from(methods))
        route = event["routeKey"].split(" ", 1)[1]
        event["routeKey"] = event["requestContext"]["routeKey"] = f"{http['method']} {route}"

    headers: dict[str, str] = event.setdefault("headers", {})
    for name in draw(st.lists(st.sampled_from(sorted(headers) or ["accept"]), unique=True, max_size=2)):
        headers.pop(name, None)
    for name in draw(st.lists(st.sampled_from(sorted(HEADER_VALUES)), unique=True, max_size=3)):
        headers[name] = draw(header_value(name))
    names = st.from_regex(r"[a-z0-9][a-z0-9-]{0,20}", fullmatch=True)
    headers.update(draw(st.dictionaries(names, header_text, max_size=2)))
    if draw(sometimes(1)):
        http["sourceIp"] = draw(header_text)
        http["userAgent"] = draw(header_text)

    params = event.get("pathParameters") or {}
    if params and draw(sometimes(3)):  # most cases keep the route's own parameters
        for name in draw(st.lists(st.sampled_from(sorted(params)), unique=True, min_size=1)):
            if draw(sometimes(1, 20)):
                del params[name]
            else:
                params[name] = draw(st.one_of((path_values or {}).get(name, header_text), header_text))

    if draw(sometimes(2)):
        query, encoded = draw(form_body(parse_qsl(event.get("rawQueryString") or ""), fields))
        event["rawQueryString"] = base64.b64decode(query).decode() if encoded else query
        try:
            event["queryStringParameters"] = dict(parse_qsl(event["rawQueryString"]))
        except ValueError:
            event.pop("queryStringParameters", None)

    base_json, base_form = _base_body(event)
    kind = draw(st.sampled_from(["keep", "keep", "json", "json", "form", "raw"]))
    if kind == "keep":
        return event
    if kind == "json":
        body, b64 = draw(json_body(base_json, fields))
    elif kind == "form":
        body, b64 = draw(form_body(base_form, fields))
    else:
        body, b64 = draw(raw_bodies())
    if body is None:
        event.pop("body", None)
    else:
        event["body"] = body
    event["isBase64Encoded"] = b64
    return event


def delete_at(doc: Any, path: tuple[Any, ...]) -> None:
    for step in path[:-1]:
        doc = doc[step]
    del doc[path[-1]]


# ---- running one case -------------------------------------------------------------------------


def _outcome(answer: Any) -> str:
    """``status`` and the error code or link status of an answer, for the tally."""
    if not isinstance(answer, dict):
        return repr(answer)[:40]
    try:
        data = json.loads(answer.get("body") or "")
    except ValueError:
        data = None
    label = ""
    if isinstance(data, dict):
        label = str((data.get("error") or {}).get("code") or data.get("status") or "")
    return f"{answer.get('statusCode')} {label}".strip()


def reached(name: str, *outcomes: str) -> None:
    """The fuzzing got past the first refusals: each outcome was seen at least once (so
    a change in the events or the handlers cannot quietly turn every case into a 404)."""
    seen = {key.split(": ", 1)[1] for key in SEEN if key.startswith(f"{name}: ")}
    missing = [o for o in outcomes if not any(s == o or s.startswith(o + " ") for s in seen)]
    assert not missing, f"{name}: never reached {missing}; seen {sorted(seen)}"


class Watch:
    """The table as the last case left it: one scan per case, not two (the state after a
    case is the state before the next)."""

    def __init__(self) -> None:
        self.items = dump_table()

    def run(
        self,
        name: str,
        handler: Callable[[Any, Any], Any],
        event: dict[str, Any],
        context: Any,
        outbox: Any,
        rate_counters_may_change: bool = False,
    ) -> dict[str, Any]:
        TRIED[f"hypothesis {name}"] += 1
        before, sent = self.items, len(outbox.messages())
        answer = handler(copy.deepcopy(event), context)
        self.items = after = dump_table()
        SEEN[f"{name}: {_outcome(answer)}"] += 1
        status = assert_clean_answer(answer)
        if 400 <= status < 500:
            if rate_counters_may_change:
                before, after = without_rate_counters(before), without_rate_counters(after)
            assert after == before, f"refused with {status} but the table changed: {answer['body'][:300]}"
            assert len(outbox.messages()) == sent, f"refused with {status} but an SMS went out"
        return answer


def sign_up(context: Any, outbox: Any, phone: str) -> str:
    """A pending consent for ``phone``; returns the token of its confirmation SMS."""
    from functions.signup.app import handler

    event = load_event("signup-json.json")
    event["body"] = json.dumps(
        {"phone": phone, "consent": True, "age_confirmed": True, "purposes": "marketing,newsletter"}
    )
    answer = handler(event, context)
    assert answer["statusCode"] == 202, answer
    match = re.search(r"/c/([A-Za-z0-9_-]+)", outbox.messages()[-1]["body"])
    assert match is not None
    return match.group(1)


def confirm(context: Any, token: str) -> None:
    from functions.confirm.app import handler

    event = load_event("confirm-post.json", rawPath=f"/c/{token}", pathParameters={"token": token})
    event["headers"]["accept"] = "application/json"
    answer = handler(event, context)
    assert json.loads(answer["body"]) == {"status": "confirmed"}, answer


def optout_code(phone: str) -> str:
    from smsconsent import keys, store

    subject = store.load_subject("demo", keys.subject_hashes("demo", phone))
    assert subject is not None and subject.optout_code
    return str(subject.optout_code)


def seeded(context: Any, outbox: Any) -> dict[str, list[str]]:
    """A pending and an active consent: their tokens, the active one's opt-out code."""
    pending = sign_up(context, outbox, "+4915112345678")
    active = sign_up(context, outbox, "+4915112345679")
    confirm(context, active)
    return {"token": [pending, active], "code": [optout_code("+4915112345679")]}


PHONES = ["+4915112345678", "+4915112345679", "4915112345678", "%2B4915112345678", "+33612345678"]

# ---- inbound webhooks (as sent, and with any payload signed) ---------------------------------

# ---- inbound webhooks -----------------------------------------------------------------------

INBOUND_FIELDS = [
    # Twilio
    "From",
    "To",
    "Body",
    "MessageSid",
    "SmsSid",
    "OptOutType",
    "MessageStatus",
    # Vonage
    "msisdn",
    "to",
    "messageId",
    "text",
    "type",
    "keyword",
    "timestamp",
    "sig",
    "concat",
    "concat-part",
    "status",
    "err-code",
    # Plivo
    "MessageUUID",
    "Text",
    "Type",
    "MessageIntent",
    "Status",
    # Telnyx, Bird, Sinch, CM.com
    "data",
    "event",
    "payload",
    "id",
    "from",
    "body",
    "originator",
    "recipient",
    "message",
    "reference",
    "channel",
    "secret",
]
INBOUND_EVENTS = [
    load_event(f"inbound-{provider}-{kind}.json")
    for provider, kinds in {
        "twilio": ("stop", "start", "help", "yes", "forged"),
        "vonage": ("stop", "stop-get", "start", "help", "yes", "forged"),
        "plivo": ("stop", "stop-handled", "start", "help", "yes", "forged"),
        "telnyx": ("stop", "start", "help", "yes", "forged"),
        "bird": ("stop", "start", "help", "yes", "forged"),
        "sinch": ("stop", "stop-signed", "start", "help", "yes", "forged"),
        "cm": ("stop", "start", "help", "yes", "forged"),
    }.items()
    for kind in kinds
]
PROVIDERS = ["twilio", "vonage", "plivo", "telnyx", "bird", "sinch", "cm"]


def inbound_events() -> st.SearchStrategy[dict[str, Any]]:
    return http_events(
        INBOUND_EVENTS,
        INBOUND_FIELDS,
        methods=["POST", "POST", "POST", "GET"],
        path_values={
            "tenant": st.sampled_from(["demo", "demo", "nosuchtenant"]),
            "provider": st.sampled_from([*PROVIDERS, "aws", "TWILIO", ""]),
        },
    )


# ---- the network, for webhooks --------------------------------------------------------------

PUBLIC_IP = "93.184.215.14"  # judged, never connected to
# The stub DNS: names to fixed public-looking or private addresses (a test may change an
# answer, as DNS rebinding would); any other name does not resolve.
DNS: dict[str, list[str]] = {
    "crm.example.com": [PUBLIC_IP],
    "v6.example.com": ["2606:2800:21f:cb07:6820:80da:af6b:8b2c"],
    "internal.example.com": ["10.0.0.5"],
    "metadata.example.com": ["169.254.169.254"],
    "mixed.example.com": [PUBLIC_IP, "10.1.2.3"],
    "mapped.example.com": ["::ffff:127.0.0.1"],
    "garbage.example.com": ["not-an-address"],
    "localhost": ["127.0.0.1", "::1"],
}


@dataclasses.dataclass
class Network:
    """What reached for the network: names looked up for real and connections to anything
    but 127.0.0.1 (both refused, and recorded: a delivery swallows what it raises)."""

    dns: dict[str, list[str]]
    stray: list[str] = dataclasses.field(default_factory=list)

    def assert_untouched(self) -> None:
        assert not self.stray, f"reached for the network: {self.stray}"
