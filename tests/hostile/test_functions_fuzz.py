"""Hypothesis-generated hostile events for every function, handed to the real handlers on
moto.

The events of events/ are mutated: random JSON and form bodies (unicode, lone surrogates,
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
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fixtures.events import load_event
from tests.hostile.support import (
    SEEN,
    TRIED,
    assert_clean_answer,
    assert_no_trace,
    dump_table,
    enforce_dynamodb_key_limits,
    without_rate_counters,
)

pytestmark = pytest.mark.usefixtures("aws")

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


def _json_paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every place in a JSON document a value can be swapped (the root excluded)."""
    if isinstance(value, dict):
        for key, child in value.items():
            yield (*prefix, key)
            yield from _json_paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield (*prefix, index)
            yield from _json_paths(child, (*prefix, index))


def _replace(doc: Any, path: tuple[Any, ...], value: Any) -> None:
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
    paths = list(_json_paths(doc))
    if paths:
        for path in draw(st.lists(st.sampled_from(paths), unique=True, max_size=2)):
            with contextlib.suppress(KeyError, IndexError, TypeError):  # a parent swapped before
                _replace(doc, path, draw(json_values))
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

# ---- signup ---------------------------------------------------------------------------------

SIGNUP_FIELDS = [
    "phone",
    "country",
    "consent",
    "purposes",
    "channel",
    "consent_text",
    "language",
    "source",
    "age_confirmed",
    "website",
]
SIGNUP_EVENTS = [
    load_event(name)
    for name in (
        "signup-json.json",
        "signup-form.json",
        "signup-json.json",
        "signup-form.json",
        "signup-preflight.json",
        "signup-refused-landline.json",
        "signup-refused-no-consent.json",
    )
]  # an unknown tenant comes from the path parameter's values


def test_signup(context, clock, outbox):
    from functions.signup.app import handler

    watch = Watch()

    @fuzz(150)
    @given(
        http_events(
            SIGNUP_EVENTS,
            SIGNUP_FIELDS,
            methods=["POST", "POST", "POST", "GET", "HEAD", "OPTIONS"],
            path_values={"tenant": st.sampled_from(["demo", "demo", "nosuchtenant", "DEMO", "d", "-" * 41])},
        )
    )
    def case(event: dict[str, Any]) -> None:
        clock.advance(seconds=400)  # the demo allows 10 signups per IP per hour
        watch.run("signup", handler, event, context, outbox, rate_counters_may_change=True)

    case()
    reached(
        "signup",
        "202 pending",
        "303",
        "422",
        "400 malformed_body",
        "404 unknown_tenant",
    )


# ---- confirmation and opt-out links ---------------------------------------------------------


def _link_event(kind: str, method: str, value: str) -> dict[str, Any]:
    name = "confirm-post.json" if method == "POST" else "confirm-get.json"
    event = load_event(name)
    prefix, param = ("c", "token") if kind == "token" else ("o", "code")
    event["rawPath"] = event["requestContext"]["http"]["path"] = f"/{prefix}/{value}"
    event["routeKey"] = event["requestContext"]["routeKey"] = f"{method} /{prefix}/{{{param}}}"
    event["requestContext"]["http"]["method"] = method
    event["pathParameters"] = {param: value}
    if method == "POST" and kind == "code":
        event["body"], event["isBase64Encoded"] = "reason=too+many+messages", False
    return event


def test_confirm_and_optout_links(context, clock, outbox):
    from functions.confirm.app import handler

    links = seeded(context, outbox)
    bases = [
        _link_event(kind, method, links[kind][0])
        for kind in ("token", "code")
        for method in ("GET", "HEAD", "POST")
    ]
    values = st.sampled_from([*links["token"], *links["code"], "A" * 64, "a" * 7, "=" * 20])

    watch = Watch()

    @fuzz(150)
    @given(
        http_events(
            bases,
            ["reason", "token", "code"],
            methods=["GET", "HEAD", "POST"],
            path_values={"token": values, "code": values},
        )
    )
    def case(event: dict[str, Any]) -> None:
        watch.run("confirm", handler, event, context, outbox)

    case()
    reached("confirm", "200", "404", "400 malformed_body")


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


def test_inbound_webhooks(context, clock, outbox):
    """As sent: the providers' real signatures hold until a mutation breaks them."""
    from functions.inbound.app import handler

    seeded(context, outbox)

    watch = Watch()

    @fuzz(150)
    @given(inbound_events())
    def case(event: dict[str, Any]) -> None:
        watch.run("inbound", handler, event, context, outbox)

    case()
    reached("inbound", "200", "403 invalid_signature", "404 unknown_provider", "413 body_too_large")


def test_inbound_webhooks_with_any_payload_signed(context, clock, outbox, monkeypatch):
    """Every signature accepted: what a provider (or anyone with a tenant's webhook
    secret: CM.com and Sinch put it in the URL) may send reaches the parsers and the
    keyword handling."""
    from functions.inbound.app import handler
    from smsconsent import providers

    for name in PROVIDERS:
        module = providers.get(name)
        assert module is not None
        monkeypatch.setattr(module, "verify", lambda hook, conf, now: True)
    seeded(context, outbox)

    watch = Watch()

    @fuzz(130)
    @given(inbound_events())
    def case(event: dict[str, Any]) -> None:
        clock.advance(seconds=61)
        watch.run("inbound (signature accepted)", handler, event, context, outbox)

    case()
    reached("inbound (signature accepted)", "200")


# ---- AWS End User Messaging two-way SMS over SNS --------------------------------------------

SNS_EVENTS = [load_event(f"inbound-sns-{kind}.json") for kind in ("stop", "start", "help", "unknown-number")]
SNS_FIELDS = [
    "originationNumber",
    "destinationNumber",
    "messageBody",
    "inboundMessageId",
    "messageKeyword",
    "previousPublishedMessageId",
]


@st.composite
def sns_events(draw: st.DrawFn) -> Any:
    kind = draw(st.sampled_from(["records", "records", "records", "whole"]))
    if kind == "whole":
        return draw(
            st.one_of(
                st.dictionaries(json_text, json_values, max_size=4).map(lambda d: {"Records": [], **d}),
                st.fixed_dictionaries({"Records": st.lists(json_values, max_size=3)}),
                st.fixed_dictionaries(
                    {
                        "Records": st.one_of(
                            st.none(),
                            st.text(max_size=5),
                            st.dictionaries(st.text(max_size=5), json_values, max_size=2),
                        )
                    }
                ),
            )
        )
    event = copy.deepcopy(draw(st.sampled_from(SNS_EVENTS)))
    records = []
    for _ in range(draw(st.integers(1, 3))):
        record = copy.deepcopy(event["Records"][0])
        message = json.loads(record["Sns"]["Message"])
        choice = draw(st.sampled_from(["fields", "fields", "message", "record"]))
        if choice == "fields":
            for key in draw(st.lists(st.sampled_from(sorted(message)), unique=True, max_size=2)):
                del message[key]
            message.update(draw(st.dictionaries(st.sampled_from(SNS_FIELDS), json_values, max_size=3)))
            record["Sns"]["Message"] = json.dumps(message, ensure_ascii=draw(st.booleans()))
        elif choice == "message":
            record["Sns"]["Message"] = draw(st.one_of(json_text, json_values.map(json.dumps)))
        else:
            record = draw(json_values)
        records.append(record)
    event["Records"] = records
    return event


def test_inbound_two_way_sms_over_sns(context, clock, outbox):
    from functions.inbound.app import handler

    seeded(context, outbox)

    @fuzz(120)
    @given(sns_events())
    def case(event: Any) -> None:
        TRIED["hypothesis inbound (SNS)"] += 1
        answer = handler(copy.deepcopy(event), context)
        assert isinstance(answer, dict), answer
        assert set(answer) == {"handled", "skipped"}, answer
        assert_no_trace(json.dumps(answer))
        SEEN["inbound (SNS): " + ("handled" if answer["handled"] else "skipped")] += 1

    case()
    reached("inbound (SNS)", "handled")


# ---- pre-send check -------------------------------------------------------------------------

CHECK_FIELDS = ["recipients", "category", "purpose", "channel", "campaign", "send_at", "record", "tenant"]


def recipients() -> st.SearchStrategy[Any]:
    number = st.one_of(st.sampled_from([*PHONES[:2], "0151 23456789", "+33612345678", "12345"]), json_text)
    return st.one_of(
        st.lists(number, min_size=1, max_size=20),
        st.sampled_from([0, 1, 10_000, 10_001]).map(lambda n: ["+4915112345678"] * n),
        json_values,
    )


@st.composite
def check_documents(draw: st.DrawFn) -> dict[str, Any]:
    base = load_event("presend-direct.json")
    doc = {k: v for k, v in base.items() if not draw(sometimes(2))}
    fields = {
        "recipients": recipients(),
        "category": st.one_of(st.sampled_from(["marketing", "transactional", "MARKETING"]), json_values),
        "purpose": st.one_of(st.sampled_from(["marketing", "newsletter", "orders", "nope"]), json_values),
        "channel": st.one_of(st.sampled_from(["sms", "whatsapp", "fax"]), json_values),
        "campaign": json_values,
        "send_at": st.one_of(st.sampled_from(INTERESTING), json_values),
        "record": st.one_of(st.booleans(), json_values),
    }
    for name in draw(st.lists(st.sampled_from(sorted(fields)), unique=True, max_size=3)):
        doc[name] = draw(fields[name])
    doc.update(draw(st.dictionaries(json_text, json_values, max_size=2)))
    return doc


def test_presend_http(context, clock, outbox):
    from functions.presend.app import handler

    seeded(context, outbox)
    base = load_event("presend-http.json")

    @st.composite
    def events(draw: st.DrawFn) -> dict[str, Any]:
        event = draw(
            http_events(
                [base],
                CHECK_FIELDS,
                path_values={"tenant": st.sampled_from(["demo", "demo", "nosuchtenant"])},
            )
        )
        if draw(st.booleans()):
            doc = draw(check_documents())
            doc.pop("tenant", None)
            event["body"], event["isBase64Encoded"] = json.dumps(doc), False
        return event

    watch = Watch()

    @fuzz(80)
    @given(events())
    def case(event: dict[str, Any]) -> None:
        watch.run("presend (HTTP)", handler, event, context, outbox)

    case()
    reached("presend (HTTP)", "200", "422 invalid_field", "400 malformed_body")


def test_presend_direct_invocation(context, clock, outbox):
    from functions.presend.app import handler

    seeded(context, outbox)
    state = {"items": dump_table()}
    # Through the demo tenant's alias, as its sending system invokes it (an unqualified
    # invocation is refused before any field is read).
    context = dataclasses.replace(context, invoked_function_arn=context.invoked_function_arn + ":tenant-demo")

    @fuzz(80)
    @given(
        st.one_of(
            check_documents(),
            check_documents().map(lambda d: {**d, "tenant": "demo"}),
            json_values,
            st.dictionaries(json_text, json_values, max_size=5),
        )
    )
    def case(event: Any) -> None:
        TRIED["hypothesis presend (direct)"] += 1
        before = state["items"]
        answer = handler(copy.deepcopy(event), context)
        state["items"] = after = dump_table()
        assert isinstance(answer, dict), answer
        assert_no_trace(json.dumps(answer))
        if "error" in answer:
            error = answer["error"]
            assert isinstance(error.get("code"), str) and isinstance(error.get("message"), str), answer
            assert 400 <= error["status"] < 500, answer
            assert after == before, f"refused but the table changed: {answer}"
            SEEN[f"presend (direct): {error['status']} {error['code']}"] += 1
        else:
            SEEN["presend (direct): answer"] += 1
            assert set(answer) == {"results", "summary"}, answer

    case()
    reached("presend (direct)", "answer", "422 invalid_field")


# ---- privacy --------------------------------------------------------------------------------

PRIVACY_EVENTS = [load_event(f"privacy-{kind}.json") for kind in ("export", "erase", "optout")]


def test_privacy(context, clock, outbox):
    from functions.privacy.app import handler

    seeded(context, outbox)

    watch = Watch()

    @fuzz(100)
    @given(
        http_events(
            PRIVACY_EVENTS,
            ["reason"],
            path_values={
                "tenant": st.sampled_from(["demo", "demo", "nosuchtenant"]),
                "phone": st.sampled_from([*PHONES, "+4930123456", "+49", "%2", "%%", "+" * 20]),
            },
        )
    )
    def case(event: dict[str, Any]) -> None:
        watch.run("privacy", handler, event, context, outbox)

    case()
    reached("privacy", "200", "422 invalid_phone", "404 unknown_tenant")


# ---- retention ------------------------------------------------------------------------------


@st.composite
def expiry_events(draw: st.DrawFn, now: Any) -> Any:
    moments = st.integers(min_value=-60 * 86_400, max_value=60 * 86_400).map(
        lambda s: now + timedelta(seconds=s)
    )
    scheduled = st.one_of(
        moments.map(lambda m: m.strftime("%Y-%m-%dT%H:%M:%SZ")),
        moments.map(lambda m: m.isoformat()),
        moments.map(lambda m: m.strftime("%Y-%m-%d")),
        st.sampled_from(
            [
                "<aws.scheduler.scheduled-time>",
                "",
                "now",
                "2026-13-45T99:99:99Z",
                "2026-11-22T03:15:00+25:00",
                "2026-11-22T03:15:00.123456789Z",
            ]
        ),
        json_values,
    )
    return draw(
        st.one_of(
            st.fixed_dictionaries({"scheduled_time": scheduled}),
            st.fixed_dictionaries(
                {"scheduled_time": scheduled},
                optional={"detail-type": json_text, "source": json_text, "detail": json_values},
            ),
            st.dictionaries(json_text, json_values, max_size=3),
            st.one_of(st.none(), st.lists(json_values, max_size=3), json_text, st.integers()),
        )
    )


def test_expiry(context, clock, outbox):
    from functions.expiry.app import handler

    seeded(context, outbox)
    sign_up(context, outbox, "+4915112345670")

    @fuzz(25)
    @given(expiry_events(clock.now))
    def case(event: Any) -> None:
        TRIED["hypothesis expiry"] += 1
        answer = handler(copy.deepcopy(event), context)
        assert isinstance(answer, dict), answer
        assert {"pending_expired", "lapsed", "purged", "examined"} <= set(answer), answer
        assert_no_trace(json.dumps(answer))
        SEEN["expiry: summary"] += 1

    case()
    reached("expiry", "summary")


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


@pytest.fixture
def network(monkeypatch: pytest.MonkeyPatch) -> Network:
    import socket

    from smsconsent.webhooks import address

    net = Network(copy.deepcopy(DNS))

    def resolve(host: str, port: int) -> list[str]:
        if host.removesuffix(".") in net.dns:
            return list(net.dns[host.removesuffix(".")])
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    def real_lookup(*args: Any, **kwargs: Any) -> Any:
        net.stray.append(f"lookup {args[:1]}")
        raise OSError("no real lookup in tests")

    real_connect = socket.socket.connect

    def connect(sock: socket.socket, where: Any) -> Any:
        if not (isinstance(where, tuple) and where[0] == "127.0.0.1"):
            net.stray.append(f"connect {where!r:.80}")
            raise ConnectionRefusedError("tests connect to 127.0.0.1 only")
        return real_connect(sock, where)

    monkeypatch.setattr(address, "resolve", resolve)
    for name in ("getaddrinfo", "gethostbyname", "gethostbyname_ex"):
        monkeypatch.setattr(socket, name, real_lookup)
    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect)
    return net


@pytest.fixture
def key_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keys over DynamoDB's limits refused on reads and deletes too, as DynamoDB does."""
    enforce_dynamodb_key_limits(monkeypatch)


# ---- webhook subscriptions ------------------------------------------------------------------

WEBHOOK_URLS = [
    "https://crm.example.com/hooks/sms-consent",
    "https://crm.example.com:8443/hooks?tenant=demo&x=%20",
    "https://CRM.Example.COM./hooks",
    "https://v6.example.com/",
    f"https://{PUBLIC_IP}/",
    "https://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]:443/",
    "https://internal.example.com/",
    "https://metadata.example.com/latest/meta-data",
    "https://mixed.example.com/",
    "https://mapped.example.com/",
    "https://garbage.example.com/",
    "https://localhost/",
    "https://nowhere.example.org/",
    "http://127.0.0.1:1/",
    "http://crm.example.com/hooks",
    "https://10.0.0.1/",
    "https://[::1]/",
    "https://[::ffff:169.254.169.254]/",
    "https://[fe80::1%25eth0]/",
    "https://169.254.169.254/",
    "https://0.0.0.0/",
    "https://2130706433/",
    "https://0x7f.1/",
    "https://127.1/",
    "https://user:pw@crm.example.com/",
    "https://crm.example.com/#fragment",
    "https://bücher.example/",
    "https://xn--bcher-kva.example/",
    "https://crm.example.com:0/",
    "https://crm.example.com:99999/",
    "https://crm.example.com:/",
    "ftp://crm.example.com/",
    "//crm.example.com/",
    "https:///",
    "https://[::1/",
    "https://crm.example.com/" + "a" * 3000,
    " https://crm.example.com/hooks ",
    "https://crm.example.com/\n",
    "https://" + "a." * 130 + "com/",
]
WEBHOOK_FIELDS = ["url", "events", "description", "secret", "id"]
CONSENT_EVENT_TYPES = [
    "consent.requested",
    "consent.confirmed",
    "consent.opted_out",
    "consent.restored",
    "consent.lapsed",
    "consent.expired",
    "consent.imported",
    "subject.erased",
    "number.unreachable",
]
KNOWN = "@known"  # a path id replaced at run time by a subscription that exists


@st.composite
def subscription_documents(draw: st.DrawFn) -> dict[str, Any]:
    types = st.sampled_from([*CONSENT_EVENT_TYPES, "*", "consent.everything", "", "CONSENT.OPTED_OUT"])
    doc: dict[str, Any] = {}
    if not draw(sometimes(1)):
        doc["url"] = draw(st.one_of(st.sampled_from(WEBHOOK_URLS), json_text, json_values))
    if draw(st.booleans()):
        doc["events"] = draw(
            st.one_of(st.lists(types, max_size=4), st.lists(json_values, max_size=3), json_values)
        )
    if draw(st.booleans()):
        doc["description"] = draw(st.one_of(json_text, st.just("d" * 201), json_values))
    if draw(sometimes(1)):
        doc.update(
            draw(st.dictionaries(st.sampled_from(WEBHOOK_FIELDS) | json_text, json_values, max_size=2))
        )
    return doc


def _webhook_bases() -> list[dict[str, Any]]:
    bases = [
        load_event(f"webhooks-{kind}.json")
        for kind in ("create", "create", "list", "delete", "delete", "deliveries")
    ]
    for event in bases:
        params = event["pathParameters"]
        if "id" in params:  # most cases name a subscription that exists
            wanted = params["id"]
            params["id"] = KNOWN
            event["rawPath"] = event["rawPath"].replace(wanted, KNOWN)
            event["requestContext"]["http"]["path"] = event["rawPath"]
    return bases


def test_webhooks(context, clock, outbox, network, key_limits):
    """Subscriptions made, listed, deleted and their deliveries read, with any body and
    path: a URL to a private, loopback or unresolvable host is refused (no lookup for real,
    no connection), an unknown id is 404 ``unknown_webhook``, whatever its length."""
    from functions.webhooks.app import handler

    def made(answer: dict[str, Any]) -> str:
        assert answer["statusCode"] == 201, answer["body"]
        return str(json.loads(answer["body"])["id"])

    create = load_event("webhooks-create.json")
    existing = [made(handler(copy.deepcopy(create), context)) for _ in range(3)]
    odd_ids = ["wh_0123456789abcdef01234567", "wh_", "WH_" + "0" * 24, "x" * 1100, "é" * 600, "../..", " "]
    ids = st.one_of(st.sampled_from(odd_ids), header_text)

    @st.composite
    def events(draw: st.DrawFn) -> dict[str, Any]:
        event = draw(
            http_events(
                _webhook_bases(),
                WEBHOOK_FIELDS,
                methods=draw(st.sampled_from([None] * 9 + [["POST", "GET", "DELETE", "PUT"]])),
                path_values={"tenant": st.sampled_from(["demo", "demo", "nosuchtenant"]), "id": ids},
            )
        )
        params = event.get("pathParameters") or {}
        if params.get("id") == KNOWN and draw(sometimes(4)):
            params["id"] = draw(ids)
        if event["requestContext"]["http"]["method"] == "POST" and draw(sometimes(6)):
            body = json.dumps(draw(subscription_documents()), ensure_ascii=draw(st.booleans()))
            event["body"], event["isBase64Encoded"] = body, False
            event.setdefault("headers", {})["content-type"] = "application/json"
        return event

    watch = Watch()

    @fuzz(150)
    @given(events(), st.integers(min_value=0, max_value=100))
    def case(event: dict[str, Any], pick: int) -> None:
        params = event.get("pathParameters") or {}
        if params.get("id") == KNOWN:
            known = existing[pick % len(existing)] if existing else "wh_" + "f" * 24
            params["id"] = known
            event["rawPath"] = event["rawPath"].replace(KNOWN, known)
        answer = watch.run("webhooks", handler, event, context, outbox)
        network.assert_untouched()
        if answer["statusCode"] == 201:
            existing.append(json.loads(answer["body"])["id"])
        elif answer["statusCode"] == 204:
            existing.remove(params["id"])

    case()
    reached(
        "webhooks",
        "201",
        "200",
        "204",
        "404 unknown_webhook",
        "422 invalid_field",
        "404 unknown_tenant",
        "400 malformed_body",
    )


# ---- consent events out: the table's stream ------------------------------------------------

STREAM_RECORD = load_event("publisher-stream.json")["Records"][0]
EVIDENCE_TYPES = [
    "optin_requested",
    "optin_confirmed",
    "optout",
    "optin_restored",
    "consent_lapsed",
    "optin_expired",
    "erased",
    "number_unreachable",
    "note",  # evidence no event is made of
    "optin_unknown",
    "",
]
SUBJECT = STREAM_RECORD["dynamodb"]["NewImage"]["pk"]["S"].rsplit("#", 1)[-1]


def _delete(doc: Any, path: tuple[Any, ...]) -> None:
    for step in path[:-1]:
        doc = doc[step]
    del doc[path[-1]]


@st.composite
def evidence_data(draw: st.DrawFn) -> Any:
    fields = {
        "channel": st.sampled_from(["sms", "whatsapp", ""]),
        "consents": st.one_of(
            st.lists(st.sampled_from(["sms:marketing", "whatsapp:orders", "sms", ":", "a:b:c"]), max_size=3),
            json_values,
        ),
        "purposes": st.one_of(st.lists(st.sampled_from(["marketing", "orders"]), max_size=2), json_values),
        "via": json_text,
        "keyword": json_text,
        "campaign": st.one_of(json_text, st.just("c" * 300_000)),
        "reason_code": json_text,
        "provider": json_text,
    }
    doc = json.loads(STREAM_RECORD["dynamodb"]["NewImage"]["data"]["S"])
    for name in draw(st.lists(st.sampled_from(sorted(fields)), unique=True, max_size=3)):
        doc[name] = draw(fields[name])
    return draw(
        st.one_of(
            st.just(json.dumps(doc)),
            st.just(json.dumps(doc, ensure_ascii=False)),
            json_values.map(json.dumps),
            json_text,
            st.sampled_from(["", "{", "null", "[]", '"x"', "{}", "1e400", "NaN"]),
        )
    )


@st.composite
def stream_record(draw: st.DrawFn, number: int) -> Any:
    if draw(sometimes(1, 20)):
        return draw(json_values)
    record = copy.deepcopy(STREAM_RECORD)
    change = record["dynamodb"]
    change["SequenceNumber"] = f"1111{number:020d}"
    image = change["NewImage"]
    image["hash"]["S"] = draw(st.binary(min_size=32, max_size=32)).hex()
    image["seq"]["N"] = str(draw(st.integers(min_value=1, max_value=10**6)))
    image["type"]["S"] = draw(st.sampled_from(EVIDENCE_TYPES))
    if draw(sometimes(3)):  # as the table writes it
        return record
    record["eventName"] = draw(st.sampled_from(["INSERT"] * 6 + ["MODIFY", "REMOVE", "insert"]))
    image["data"]["S"] = draw(evidence_data())
    pk = draw(
        st.sampled_from(
            [
                f"SUBJ#demo#{SUBJECT}",
                f"SUBJ#demo#{SUBJECT}",
                f"SUBJ#nosuchtenant#{SUBJECT}",
                "SUBJ#demo#other",
                "SUBJ#",
                "SUBJ#demo",
                "SUBJ#" + "x" * 3000,
                f"SUBJ#{'ü' * 30}#{SUBJECT}",
                "TENANT#demo",
                "WEBHOOK#demo",
            ]
        )
    )
    image["pk"]["S"] = change["Keys"]["pk"]["S"] = pk
    sk = draw(st.sampled_from(["EV#00000003", "EV#00000003", "OUT#00000003", "SUBJECT", "EV#", "ev#1"]))
    image["sk"]["S"] = change["Keys"]["sk"]["S"] = sk
    if draw(sometimes(3)):  # values of any type: "at", "seq" or "hash" as a number, a map ...
        paths = list(_json_paths(record))
        for path in draw(st.lists(st.sampled_from(paths), unique=True, min_size=1, max_size=2)):
            with contextlib.suppress(KeyError, IndexError, TypeError):
                _replace(record, path, draw(json_values))
    if draw(sometimes(2)):
        paths = list(_json_paths(record))
        for path in draw(st.lists(st.sampled_from(paths), unique=True, min_size=1, max_size=2)):
            with contextlib.suppress(KeyError, IndexError, TypeError):
                _delete(record, path)
    return record


@st.composite
def stream_events(draw: st.DrawFn) -> Any:
    if draw(sometimes(1)):
        return draw(
            st.one_of(
                json_values,
                st.dictionaries(json_text, json_values, max_size=3),
                st.fixed_dictionaries({"Records": json_values}),
            )
        )
    count = draw(st.integers(min_value=1, max_value=4))
    return {"Records": [draw(stream_record(n)) for n in range(count)]}


def _sequence_numbers(event: Any) -> list[Any]:
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list):
        return []
    return [((r.get("dynamodb") or {}) if isinstance(r, dict) else {}).get("SequenceNumber") for r in records]


def test_publisher(context, clock, webhooks, make_receiver, network, key_limits, monkeypatch):
    """Any stream batch: a record that cannot be read is skipped (with an error logged), never
    handed back, since the stream would hand it over again and again for a day, holding up
    every record behind it; during an outage (the table failing) a record that can be read
    is handed back, so nothing is lost."""
    from functions.publisher.app import handler
    from smsconsent import metrics, store

    webhooks.subscribe(make_receiver().url)  # events for webhooks are queued too
    outage = {"on": False, "published": 0}
    real_phones_of, real_count = store.phones_of, metrics.count

    def phones_of(pks: list[str]) -> Any:
        if outage["on"]:
            raise store.StoreUnavailable("injected")
        return real_phones_of(pks)

    def count(name: str, value: float = 1, *args: Any, **kwargs: Any) -> Any:
        if name == "EventsPublished":
            outage["published"] += int(value)
        return real_count(name, value, *args, **kwargs)

    monkeypatch.setattr(store, "phones_of", phones_of)
    monkeypatch.setattr(metrics, "count", count)

    @fuzz(100)
    @given(stream_events(), sometimes(3))
    def case(event: Any, broken: bool) -> None:
        TRIED["hypothesis publisher"] += 1
        outage["on"], outage["published"] = broken, 0
        answer = handler(copy.deepcopy(event), context)
        network.assert_untouched()
        assert isinstance(answer, dict) and set(answer) == {"batchItemFailures"}, answer
        failures = answer["batchItemFailures"]
        assert isinstance(failures, list), answer
        assert_no_trace(json.dumps(answer))
        if not broken:
            assert failures == [], f"a record handed back with nothing failing: {answer}"
        else:
            assert len(failures) <= 1, answer
            for failure in failures:
                assert failure["itemIdentifier"] in _sequence_numbers(event), answer
        if failures:
            SEEN["publisher: handed back"] += 1
        elif outage["published"]:
            SEEN["publisher: published"] += 1
        else:
            SEEN["publisher: nothing to publish"] += 1

    case()
    reached("publisher", "published", "handed back", "nothing to publish")


# ---- webhook deliveries: the FIFO queue ----------------------------------------------------

SQS_RECORD = load_event("delivery-sqs.json")["Records"][0]


@st.composite
def delivery_bodies(draw: st.DrawFn, ids: list[str], now: Any) -> Any:
    doc = json.loads(SQS_RECORD["body"])
    doc["webhook_id"] = draw(
        st.one_of(
            st.sampled_from([*ids, *ids, *ids, "wh_0123456789abcdef01234567", "wh_" + "0" * 24]),
            st.sampled_from(["", "x" * 1100, "WH_0123456789ABCDEF01234567"]),
            json_values,
        )
    )
    doc["tenant"] = draw(st.sampled_from(["demo", "demo", "demo", "nosuchtenant", "DEMO", "x" * 3000]))
    doc["event"]["id"] = str(draw(st.uuids()))  # attempts are counted by event
    moments = [now - timedelta(days=2), now - timedelta(hours=1), now, now + timedelta(days=1)]
    doc["queued_at"] = draw(
        st.one_of(
            st.sampled_from(moments).map(lambda m: m.strftime("%Y-%m-%dT%H:%M:%SZ")),
            st.sampled_from(["", "yesterday", "9999-12-31T23:59:59Z", "0001-01-01T00:00:00+01:00"]),
            json_values,
        )
    )
    doc["event"]["data"]["phone"] = draw(st.sampled_from(["+4915112345678", None, 5, ["x"]]))
    if draw(sometimes(3)):
        paths = list(_json_paths(doc))
        for path in draw(st.lists(st.sampled_from(paths), unique=True, min_size=1, max_size=2)):
            with contextlib.suppress(KeyError, IndexError, TypeError):
                _replace(doc, path, draw(json_values))
    if draw(sometimes(2)):
        paths = list(_json_paths(doc))
        for path in draw(st.lists(st.sampled_from(paths), unique=True, min_size=1, max_size=2)):
            with contextlib.suppress(KeyError, IndexError, TypeError):
                _delete(doc, path)
    return draw(
        st.one_of(
            st.just(json.dumps(doc)),
            st.just(json.dumps(doc)),
            st.just(json.dumps(doc, ensure_ascii=False)),
            json_text,
            json_values.map(json.dumps),
            json_values,
        )
    )


@st.composite
def sqs_events(draw: st.DrawFn, ids: list[str], now: Any) -> Any:
    if draw(sometimes(1)):
        return draw(
            st.one_of(
                json_values,
                st.dictionaries(json_text, json_values, max_size=3),
                st.fixed_dictionaries({"Records": json_values}),
            )
        )
    records: list[Any] = []
    for n in range(draw(st.integers(min_value=1, max_value=4))):
        if draw(sometimes(1, 20)):
            records.append(draw(json_values))
            continue
        record = copy.deepcopy(SQS_RECORD)
        record["messageId"] = f"{SQS_RECORD['messageId'][:-2]}{n:02d}"
        record["body"] = draw(delivery_bodies(ids, now))
        group = st.sampled_from([SQS_RECORD["attributes"]["MessageGroupId"], "g2", ""])
        record["attributes"]["MessageGroupId"] = draw(st.one_of(group, group, json_values))
        if draw(sometimes(1)):
            paths = list(_json_paths(record))
            for path in draw(st.lists(st.sampled_from(paths), unique=True, min_size=1, max_size=2)):
                with contextlib.suppress(KeyError, IndexError, TypeError):
                    _replace(record, path, draw(json_values))
        if draw(sometimes(1)):
            for name in draw(st.lists(st.sampled_from(sorted(record)), unique=True, min_size=1, max_size=2)):
                del record[name]
        records.append(record)
    return {"Records": records}


def _message_ids(event: Any) -> list[Any]:
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list):
        return []
    return [r.get("messageId") for r in records if isinstance(r, dict)]


def test_delivery(context, clock, webhooks, make_receiver, network, key_limits, monkeypatch):
    """Any SQS batch: an answer naming messages of the batch, never an exception; nothing
    is connected to but the loopback receiver (a subscription whose name now resolves to a
    private address is refused at delivery)."""
    from functions.delivery.app import handler
    from smsconsent import delivery, sender

    receiver = make_receiver()
    status = {"answer": 200}
    receiver.answer = lambda got: status["answer"]
    ids = [webhooks.subscribe(receiver.url)["id"]]
    ids.append(webhooks.subscribe("https://crm.example.com/hooks")["id"])
    network.dns["crm.example.com"] = ["10.0.0.5"]  # rebound since

    client = sender.queue_client()
    real_send = client.send_message
    dead = {"letters": 0}

    def send_message(**kwargs: Any) -> Any:
        if kwargs.get("QueueUrl") == webhooks.dead_url:
            dead["letters"] += 1
        return real_send(**kwargs)

    monkeypatch.setattr(client, "send_message", send_message)
    outcomes: list[str] = []
    real_attempt = delivery.attempt

    def attempt(*args: Any, **kwargs: Any) -> Any:
        outcome = real_attempt(*args, **kwargs)
        outcomes.append(outcome.status)
        return outcome

    monkeypatch.setattr(delivery, "attempt", attempt)

    @fuzz(80)
    @given(sqs_events(ids, clock.now), st.sampled_from([200, 200, 204, 500, 301, 410]))
    def case(event: Any, answer_with: int) -> None:
        TRIED["hypothesis delivery"] += 1
        status["answer"], dead["letters"] = answer_with, 0
        outcomes.clear()
        answer = handler(copy.deepcopy(event), context)
        network.assert_untouched()
        assert isinstance(answer, dict) and set(answer) == {"batchItemFailures"}, answer
        failures = answer["batchItemFailures"]
        assert isinstance(failures, list), answer
        assert_no_trace(json.dumps(answer))
        ids_sent = _message_ids(event)
        for failure in failures:
            assert set(failure) == {"itemIdentifier"} and failure["itemIdentifier"] in ids_sent, answer
        for outcome in outcomes:  # delivered, retry, dead, dropped (the subscription is gone)
            SEEN[f"delivery: {outcome}"] += 1
        if failures:
            SEEN["delivery: handed back"] += 1
        if dead["letters"]:
            SEEN["delivery: dead-lettered"] += 1

    case()
    reached("delivery", "delivered", "retry", "dropped", "handed back", "dead-lettered")
