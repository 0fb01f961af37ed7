"""Pre-send handler on moto, fed events/: the HTTP route and the direct invocation, recording
contact (lapse clock, cap, campaign for a later STOP), duplicates, 10,000 recipients in
ceil(distinct / 100) BatchGetItem requests, unprocessed keys, and every refusal."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from tests.fixtures.events import ROOT, load_event

pytestmark = pytest.mark.usefixtures("aws")

PHONE = "+4915112345678"  # the number the journeys (tests/fixtures/journeys.py) sign up and text from
FR = "+33612345678"


def check(context: Any, body: dict[str, Any] | str, **headers: str) -> dict[str, Any]:
    from functions.presend.app import handler

    event = load_event("presend-http.json")
    event["body"] = body if isinstance(body, str) else json.dumps(body)
    event["headers"].update(headers)
    return handler(event, context)


def answer_of(result: dict[str, Any]) -> dict[str, Any]:
    assert result["statusCode"] == 200, result["body"]
    assert result["headers"]["Content-Type"] == "application/json"
    body: dict[str, Any] = json.loads(result["body"])
    return body


def invoke(context: Any, event: dict[str, Any]) -> dict[str, Any]:
    """Invoke as its tenant's caller would: a direct event through the alias ``tenant-<id>`` of
    the tenant it names (the demo's when it names none), an HTTP event as API Gateway does."""
    from functions.presend.app import handler

    if "requestContext" not in event:
        tenant = event.get("tenant") if isinstance(event, dict) else None
        context = through_alias(context, tenant if isinstance(tenant, str) else "demo")
    return handler(event, context)


def through_alias(context: Any, tenant: str | None, qualifier: str | None = None) -> Any:
    """The context of an invocation through ``function:tenant-<tenant>`` (or ``qualifier``)."""
    arn = context.invoked_function_arn.split(":")[:7]
    if qualifier is not None or tenant is not None:
        arn.append(qualifier if qualifier is not None else f"tenant-{tenant}")
    return dataclasses.replace(context, invoked_function_arn=":".join(arn))


def confirmed(context: Any, outbox: Any, number: str = PHONE, purposes: str = "marketing,newsletter") -> None:
    """Sign the number up and confirm it through the real signup and confirm flow."""
    from functions.signup.app import handler
    from smsconsent import confirmation

    event = load_event("signup-json.json")
    event["body"] = json.dumps(
        {"phone": number, "consent": True, "age_confirmed": True, "purposes": purposes}
    )
    assert handler(event, context)["statusCode"] == 202
    token = outbox.messages()[-1]["body"].split("/c/")[1].split()[0]
    assert confirmation.confirm(token, "198.51.100.7", "ua").status == "confirmed"


def committed(number: str, clock: Any, **fields: Any) -> Any:
    """A confirmed subject written with ``store.commit`` (faster than the real flow)."""
    from smsconsent import consent, keys, phone, store, tenants
    from smsconsent.clock import iso

    subject = store.new_subject("demo", keys.subject_hashes("demo", number)[0], clock.now)
    subject.phone, subject.region = number, phone.normalise(number).region
    subject.language = fields.pop("language", "de")
    subject.optout_code = keys.new_code()
    subject.consents = {
        "sms:marketing": {"state": "active", "since": iso(clock.now), "confirmed_at": iso(clock.now)}
    }
    for name, value in fields.items():
        setattr(subject, name, value)
    tenant = tenants.get("demo")
    assert tenant is not None
    change = store.Change(subject, [], code=subject.optout_code, due=consent.next_due(subject, tenant))
    store.commit(change, clock.now)
    return subject


def subject_item(number: str = PHONE) -> Any:
    from smsconsent import keys, store

    return store.SubjectItem.get(store.subject_pk("demo", keys.subject_hashes("demo", number)[0]), "SUBJECT")


def evidence(number: str = PHONE) -> list[Any]:
    from smsconsent import store

    return store.evidence_of(subject_item(number).pk)


@pytest.fixture
def batch_gets() -> Iterator[list[int]]:
    """Keys asked per BatchGetItem request, counted in the body each request sends (as
    signed, before it is sent) on the pre-send client's botocore events."""
    from smsconsent.store import batch

    calls: list[int] = []

    def count(request: Any, **_: Any) -> None:
        sent = json.loads(request.body)
        calls.append(sum(len(t["Keys"]) for t in sent["RequestItems"].values()))

    events = batch.client().meta.events
    events.register("before-send.dynamodb.BatchGetItem", count)
    yield calls
    events.unregister("before-send.dynamodb.BatchGetItem", count)


# ---- the two ways in ----------------------------------------------------------------------------


def test_http_event_from_events_folder(context, outbox, clock):
    # Given a confirmed German number and a confirmed French one (among others unknown)
    confirmed(context, outbox)
    committed(FR, clock, language="en")
    # When the event in events/ is sent (14:00 UTC: afternoon in Europe, morning in New York)
    answer = answer_of(invoke(context, load_event("presend-http.json")))
    # Then every recipient is answered, in order
    sent = json.loads(load_event("presend-http.json")["body"])["recipients"]
    assert [r["input"] for r in answer["results"]] == sent
    assert [(r["phone"], r["reason"]) for r in answer["results"]] == [
        (PHONE, "ok"),
        ("+4915123456789", "no_consent"),
        (FR, "ok"),
        ("+12125550123", "no_consent"),
        (None, "invalid_phone"),
    ]
    assert answer["summary"] == {"allowed": 2, "denied": 3}
    german, _, french = answer["results"][:3]
    code = subject_item().optout_code
    assert german["optout_url"] == f"http://127.0.0.1:3000/o/{code}"
    assert german["footer"] == f"Abmelden: http://127.0.0.1:3000/o/{code}"
    assert french["footer"] == "Opt out: STOP to 36111" and french["optout_url"].startswith(
        "http://127.0.0.1:3000/o/"
    )


def test_direct_invocation_answers_with_the_body(context, outbox, clock):
    confirmed(context, outbox)
    committed(FR, clock, language="en")
    direct = invoke(context, load_event("presend-direct.json"))
    assert "statusCode" not in direct
    assert direct == answer_of(invoke(context, load_event("presend-http.json")))


@pytest.mark.parametrize(
    ("change", "status", "code", "field"),
    [
        ({"tenant": "nobody"}, 404, "unknown_tenant", "tenant"),
        ({"tenant": None}, 404, "unknown_tenant", "tenant"),
        ({"recipients": []}, 422, "invalid_field", "recipients"),
        ({"purpose": "lottery"}, 422, "unknown_purpose", "purpose"),
        ({"send_at": "soon"}, 422, "invalid_field", "send_at"),
    ],
)
def test_direct_invocation_refusals_are_error_bodies(context, change, status, code, field):
    answer = invoke(context, load_event("presend-direct.json", **change))
    assert answer == {
        "error": {"code": code, "message": answer["error"]["message"], "field": field, "status": status}
    }


# ---- who may check for which tenant ---------------------------------------------------------


def _table() -> dict[tuple[str, str], Any]:
    import boto3

    items = boto3.client("dynamodb").scan(TableName=os.environ["TABLE_NAME"], ConsistentRead=True)["Items"]
    return {(item["pk"]["S"], item["sk"]["S"]): item for item in items}


def _other_tenant(clock: Any) -> None:
    from smsconsent import store

    doc = json.loads((ROOT / "local/tenants/demo.json").read_text())
    doc.update(id="other", inbound_numbers=[])
    store.put_tenant_doc(doc, clock.now)


@pytest.mark.parametrize(
    ("tenant", "qualifier"),
    [
        ("other", None),  # the alias of another tenant
        (None, None),  # the unqualified function
        (None, "$LATEST"),  # a version is bound to no tenant
        (None, "3"),
        (None, "live"),  # an alias that is not a tenant's
    ],
)
def test_a_direct_invocation_not_through_the_tenants_alias_is_refused_and_changes_nothing(
    context, outbox, clock, tenant, qualifier
):
    from functions.presend.app import handler

    confirmed(context, outbox)
    event = load_event("presend-direct.json", record=True)  # a check that would write
    before = _table()
    answer = handler(event, through_alias(context, tenant, qualifier))
    assert answer == {
        "error": {
            "code": "tenant_not_bound",
            "message": answer["error"]["message"],
            "field": "tenant",
            "status": 403,
        }
    }
    assert "results" not in answer
    assert _table() == before
    # Through its own alias the same event is answered, and records.
    assert set(handler(event, through_alias(context, "demo"))) == {"results", "summary"}
    assert _table() != before


def test_an_alias_answers_only_for_its_own_tenant_even_when_both_exist(context, outbox, clock):
    from functions.presend.app import handler

    confirmed(context, outbox)
    _other_tenant(clock)
    event = load_event("presend-direct.json")
    assert handler(event, through_alias(context, "other"))["error"]["code"] == "tenant_not_bound"
    assert handler({**event, "tenant": "other"}, through_alias(context, "demo"))["error"]["status"] == 403
    mine = handler({**event, "tenant": "other"}, through_alias(context, "other"))
    assert set(mine) == {"results", "summary"}


def test_an_http_shaped_event_through_a_tenant_alias_is_bound_to_it(context, outbox, clock):
    # A caller granted only its alias cannot reach another tenant by dressing the payload as
    # API Gateway's event.
    from functions.presend.app import handler

    confirmed(context, outbox)
    _other_tenant(clock)
    event = load_event("presend-http.json")
    refused = handler(event, through_alias(context, "other"))
    assert refused["statusCode"] == 403
    assert json.loads(refused["body"])["error"]["code"] == "tenant_not_bound"
    assert handler(event, through_alias(context, "demo"))["statusCode"] == 200


def test_direct_invocation_of_something_else_is_an_error_body(context):
    from functions.presend.app import direct

    assert direct([1, 2])["error"]["code"] == "malformed_event"


def test_direct_invocation_when_dynamodb_is_unavailable(context, monkeypatch):
    from smsconsent import store
    from smsconsent.store import batch

    def down(pks: Any) -> Any:
        raise store.StoreUnavailable("throttled")

    monkeypatch.setattr(batch, "read_pages", down)
    answer = invoke(context, load_event("presend-direct.json"))
    assert answer["error"]["code"] == "service_unavailable"
    assert answer["error"]["retry_after"] == 2 and answer["error"]["status"] == 503
    http = invoke(context, load_event("presend-http.json"))
    assert http["statusCode"] == 503 and http["headers"]["Retry-After"] == "2"


# ---- record: true ---------------------------------------------------------------------------------


def test_record_refreshes_the_lapse_clock_counts_toward_the_cap_and_writes_no_evidence(
    context, outbox, clock
):
    from smsconsent.clock import iso

    # Given a number confirmed 300 days ago
    confirmed(context, outbox)
    clock.advance(days=300)
    clock.now = clock.now.replace(hour=12)
    before = evidence()
    # When a marketing send to it is recorded
    body = {"recipients": [PHONE], "category": "marketing", "campaign": "black-friday", "record": True}
    [result] = answer_of(check(context, body))["results"]
    assert result["reason"] == "ok"
    # Then the contact is on the subject, the lapse clock restarted, and no evidence event added
    item = subject_item()
    assert item.last_contact_at == iso(clock.now)
    assert json.loads(item.sends) == [iso(clock.now)]
    assert item.last_campaign == "black-friday"
    due = clock.now + timedelta(days=540)
    assert (item.due_at, item.due_bucket) == (iso(due), f"due#{due.date().isoformat()}")
    assert [e.hash for e in evidence()] == [e.hash for e in before]
    # ... the due time is what the consent rules say for the subject as it now is
    from smsconsent import consent, keys, store, tenants

    subject = store.load_subject("demo", keys.subject_hashes("demo", PHONE))
    tenant = tenants.get("demo")
    assert subject is not None and tenant is not None
    assert consent.next_due(subject, tenant) == due
    # And two more sends reach the cap of 3 in 7 days
    for _ in range(2):
        clock.advance(days=1)
        assert answer_of(check(context, body))["results"][0]["reason"] == "ok"
    clock.advance(days=1)
    [capped] = answer_of(check(context, body))["results"]
    assert capped["reason"] == "frequency_cap"
    assert capped["retry_at"] == iso(clock.now + timedelta(days=4))  # the first send leaves the window
    assert len(json.loads(subject_item().sends)) == 3


def test_sends_scheduled_ahead_or_checked_out_of_order_still_count_toward_the_cap(context, outbox, clock):
    # Given a confirmed number (cap: 3 in 7 days; allowed hours 08:00-21:00 Berlin) and
    # sending systems that schedule ahead and check out of order, each recording its send
    confirmed(context, outbox)

    def send(at: str, campaign: str) -> dict[str, Any]:
        body = {"recipients": [PHONE], "campaign": campaign, "record": True, "send_at": at}
        [result] = answer_of(check(context, body))["results"]
        return {"reason": result["reason"], "retry_at": result["retry_at"]}

    ok = {"reason": "ok", "retry_at": None}
    for day in ("26", "27", "28"):
        assert send(f"2026-11-{day}T10:00:00Z", f"c{day}") == ok
    # When a send two days before them is checked, and one in December is recorded first
    assert send("2026-12-24T10:00:00Z", "xmas") == ok
    # Then the earlier send would make four in under 7 days: refused, until the first of
    # the three has left every window it could share (26th + 7 days)
    assert send("2026-11-24T10:00:00Z", "early") == {
        "reason": "frequency_cap",
        "retry_at": "2026-12-03T10:00:00Z",
    }
    # And recording December kept the November sends that later checks still need
    assert json.loads(subject_item().sends) == [
        "2026-11-26T10:00:00Z",
        "2026-11-27T10:00:00Z",
        "2026-11-28T10:00:00Z",
        "2026-12-24T10:00:00Z",
    ]
    # And a send after the three, within a window of the last two only, is allowed
    assert send("2026-12-03T10:00:00Z", "later") == ok


def test_the_rules_of_the_recipients_country_and_state_decide_and_are_named(context, outbox, clock):
    # Given confirmed numbers in France and in Florida (the demo tenant: 21:00-08:00 quiet,
    # 3 sends per 7 days)
    miami = "+13055550123"
    committed(FR, clock, language="en")
    committed(miami, clock, language="en")

    def send(at: str, *numbers: str, record: bool = False) -> list[dict[str, Any]]:
        body = {"recipients": list(numbers), "campaign": "c", "record": record, "send_at": at}
        return [
            {k: r[k] for k in ("reason", "rule", "retry_at") if k in r}
            for r in answer_of(check(context, body))["results"]
        ]

    # When marketing is checked on a Sunday afternoon (09:00 in Miami)
    # Then France's Sunday rule defers it to Monday 08:00 Paris time, and names itself;
    # an allowed result carries no rule
    assert send("2026-11-29T14:00:00Z", FR, miami) == [
        {"reason": "quiet_hours", "rule": "FR:sunday", "retry_at": "2026-11-30T07:00:00Z"},
        {"reason": "ok", "retry_at": None},
    ]
    # And 20:30 in Miami is Florida's evening, not yet the TCPA's or the tenant's
    assert send("2026-12-01T01:30:00Z", miami) == [
        {"reason": "quiet_hours", "rule": "US-FL:hours", "retry_at": "2026-12-01T13:00:00Z"}
    ]
    # And a fourth recorded send to Florida within 24 hours is Florida's cap (the tenant's
    # 3 in 7 days refuses it too: the state's rule is named first)
    for hour in (14, 15, 16):
        assert send(f"2026-11-30T{hour}:00:00Z", miami, record=True) == [{"reason": "ok", "retry_at": None}]
    [capped] = send("2026-11-30T17:00:00Z", miami)
    assert (capped["reason"], capped["rule"]) == ("frequency_cap", "US-FL:3-per-24h")
    assert capped["retry_at"] == "2026-12-07T14:00:00Z"  # the tenant's 7 days hold longer


def test_the_recorded_campaign_is_blamed_by_a_later_stop(context, outbox):
    from tests.fixtures.journeys import inbound, twilio_event

    confirmed(context, outbox)
    body = {
        "recipients": [PHONE],
        "campaign": "spring-sale",
        "record": True,
        "send_at": "2026-11-22T13:00:00Z",
    }
    assert answer_of(check(context, body))["summary"] == {"allowed": 1, "denied": 0}
    inbound(context, twilio_event("STOP", sid="SM-after-campaign"))
    [optout] = [e for e in evidence() if e.type == "optout"]
    assert optout.data["campaign"] == "spring-sale"
    # And the number is now refused
    assert answer_of(check(context, {"recipients": [PHONE]}))["results"][0]["reason"] == "opted_out"


def test_record_is_not_counted_twice_for_a_retried_request_or_duplicates(context, outbox, batch_gets):
    confirmed(context, outbox)
    body = {
        "recipients": [PHONE, "0151 12345678", PHONE, "+49 151 1234 5678"],
        "campaign": "c1",
        "record": True,
        "send_at": "2026-11-22T13:00:00Z",
    }
    first = answer_of(check(context, body))
    again = answer_of(check(context, body))
    assert first == again and first["summary"] == {"allowed": 4, "denied": 0}
    assert json.loads(subject_item().sends) == ["2026-11-22T13:00:00Z"]
    assert batch_gets == [1, 1]  # duplicates are one key


def test_a_stop_racing_the_record_wins(context, outbox, monkeypatch):
    from smsconsent.store import batch
    from tests.fixtures.journeys import inbound, twilio_event

    confirmed(context, outbox)
    real_read = batch.read_pages

    def read_then_stop(pks: Any) -> Any:
        found = list(real_read(pks))
        inbound(context, twilio_event("STOP", sid="SM-race"))  # lands between the read and the write
        return found

    monkeypatch.setattr(batch, "read_pages", read_then_stop)
    body = {"recipients": [PHONE], "record": True, "campaign": "race", "send_at": "2026-11-22T13:00:00Z"}
    [result] = answer_of(check(context, body))["results"]
    assert result["reason"] == "opted_out"
    item = subject_item()
    assert item.sends is None and item.last_campaign is None


# ---- transactional --------------------------------------------------------------------------------


def test_transactional_after_a_marketing_stop(context, outbox):
    from tests.fixtures.journeys import inbound, twilio_event

    confirmed(context, outbox, purposes="marketing,orders")
    inbound(context, twilio_event("STOP", sid="SM-t"))
    body = {"recipients": [PHONE], "send_at": "2026-11-22T13:00:00Z"}
    assert answer_of(check(context, body))["results"][0]["reason"] == "opted_out"
    [otp] = answer_of(check(context, {**body, "category": "transactional", "purpose": "orders"}))["results"]
    assert (otp["reason"], otp["footer"]) == ("ok", None)


def test_transactional_after_a_stop_with_stop_scope_all(context, outbox, clock):
    from pathlib import Path

    from smsconsent import store, tenants
    from tests.fixtures.journeys import inbound, twilio_event

    doc = json.loads(Path("local/tenants/demo.json").read_text())
    doc["stop_scope"] = "all"
    store.put_tenant_doc(doc, clock.now)
    tenants.clear_cache()
    confirmed(context, outbox, purposes="marketing,orders")
    inbound(context, twilio_event("STOP", sid="SM-all"))
    body = {"recipients": [PHONE, "+4915123456789"], "category": "transactional", "purpose": "orders"}
    assert [r["reason"] for r in answer_of(check(context, body))["results"]] == ["opted_out", "ok"]


# ---- many recipients -------------------------------------------------------------------------------


def numbers(count: int) -> list[str]:
    """``count`` distinct valid German mobile numbers."""
    return [f"+49151{10_000_000 + i * 7919:08d}" for i in range(count)]


@pytest.mark.slow
def test_ten_thousand_recipients_in_order_with_one_read_per_hundred(context, clock, batch_gets):
    # Given 9,500 distinct numbers (500 of them asked twice), 40 with consent, 3 opted out
    distinct = numbers(9_500)
    for number in distinct[:40]:
        committed(number, clock)
    opted_out = {"sms:marketing": {"state": "opted_out", "since": "2026-01-01T00:00:00Z"}}
    for number in distinct[40:43]:
        committed(number, clock, consents=opted_out)
    recipients = distinct + distinct[::19]
    assert len(recipients) == 10_000
    body = json.dumps({"recipients": recipients, "send_at": "2026-11-22T13:00:00Z"})
    assert len(body) > 64 * 1024  # over the public routes' limit, within this route's
    # When they are checked in one request
    answer = answer_of(check(context, body))
    # Then every one is answered in input order, with ceil(9,500 / 100) = 95 requests
    assert [r["input"] for r in answer["results"]] == recipients
    by_number = {r["input"]: r["reason"] for r in answer["results"]}
    assert {n for n, reason in by_number.items() if reason == "ok"} == set(distinct[:40])
    assert {n for n, reason in by_number.items() if reason == "opted_out"} == set(distinct[40:43])
    assert answer["summary"] == {"allowed": 40 + 3, "denied": 10_000 - 43}  # 3 of the 40 asked twice
    assert len(batch_gets) == math.ceil(9_500 / 100) and max(batch_gets) == 100


def test_unprocessed_keys_are_asked_again(context, clock, batch_gets, monkeypatch):
    from smsconsent.store import batch

    distinct = numbers(150)
    for number in distinct[:20]:
        committed(number, clock)
    monkeypatch.setattr(batch, "sleep", lambda seconds: None)
    first = threading.Lock()  # pages are asked concurrently: only one answer is cut short

    real = batch._Wire.fetch

    def throttle(wire: Any, request: Any) -> bytes | None:
        # The first answer gives back only part: the rest comes as UnprocessedKeys
        body = real(wire, request)
        if body is None or not first.acquire(blocking=False):
            return body
        parsed = json.loads(body)
        [(table, items)] = parsed["Responses"].items()
        parsed["Responses"][table] = items[:5]
        keys = [{"pk": i["pk"], "sk": {"S": "SUBJECT"}} for i in items[5:]] + [
            {"pk": {"S": "SUBJ#demo#missing"}, "sk": {"S": "SUBJECT"}}
        ]
        parsed["UnprocessedKeys"] = {
            table: {
                "Keys": keys,
                "ConsistentRead": True,
                "ProjectionExpression": batch._PROJECTION,
                "ExpressionAttributeNames": batch._NAMES,
            }
        }
        return json.dumps(parsed).encode()

    monkeypatch.setattr(batch._Wire, "fetch", throttle)
    answer = answer_of(check(context, {"recipients": distinct, "send_at": "2026-11-22T13:00:00Z"}))
    assert [r["reason"] for r in answer["results"]] == ["ok"] * 20 + ["no_consent"] * 130
    assert len(batch_gets) == 3  # two pages, one of them asked again


def test_keys_left_unprocessed_every_time_give_503_never_a_partial_answer(context, clock, monkeypatch):
    from smsconsent.store import batch

    monkeypatch.setattr(batch, "sleep", lambda seconds: None)

    real = batch._Wire.fetch

    def never(wire: Any, request: Any) -> bytes | None:
        parsed = json.loads(real(wire, request) or b"null")
        [table] = parsed["Responses"]
        parsed["Responses"][table] = []
        parsed["UnprocessedKeys"] = {
            table: {"Keys": [{"pk": {"S": "SUBJ#demo#x"}, "sk": {"S": "SUBJECT"}}], "ConsistentRead": True}
        }
        return json.dumps(parsed).encode()

    monkeypatch.setattr(batch._Wire, "fetch", never)
    result = check(context, {"recipients": [PHONE]})
    assert result["statusCode"] == 503 and result["headers"]["Retry-After"] == "2"
    assert json.loads(result["body"])["error"]["code"] == "service_unavailable"


def test_a_rotated_pepper_reads_older_keys_for_what_it_did_not_find(context, outbox, monkeypatch, batch_gets):
    from smsconsent import keys, settings

    monkeypatch.setenv("PEPPER_JSON", json.dumps({"current": "p1", "p1": "first-pepper-0123456789"}))
    settings.reset()
    keys.reset()
    confirmed(context, outbox)
    monkeypatch.setenv(
        "PEPPER_JSON",
        json.dumps({"current": "p2", "p1": "first-pepper-0123456789", "p2": "second-pepper-0123456789"}),
    )
    settings.reset()
    keys.reset()
    body = {"recipients": [PHONE, "+4915123456789"], "send_at": "2026-11-22T13:00:00Z"}
    assert [r["reason"] for r in answer_of(check(context, body))["results"]] == ["ok", "no_consent"]
    assert batch_gets == [2, 2]


# ---- refusals -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({"recipients": []}, 422, "invalid_field", "recipients"),
        ({"recipients": [PHONE] * 10_001}, 422, "invalid_field", "recipients"),
        ({"recipients": "+4915112345678"}, 422, "invalid_field", "recipients"),
        ({"recipients": [4915112345678]}, 422, "invalid_field", "recipients"),
        ({}, 422, "invalid_field", "recipients"),
        ({"recipients": [PHONE], "category": "spam"}, 422, "invalid_field", "category"),
        ({"recipients": [PHONE], "record": "true"}, 422, "invalid_field", "record"),
        ({"recipients": [PHONE], "send_at": "next tuesday"}, 422, "invalid_field", "send_at"),
        ({"recipients": [PHONE], "purpose": "lottery"}, 422, "unknown_purpose", "purpose"),
        ({"recipients": [PHONE], "channel": "pigeon"}, 422, "invalid_field", "channel"),
        ({"recipients": [PHONE], "campaign": "x" * 101}, 422, "invalid_field", "campaign"),
        ('{"recipients": [', 400, "malformed_body", None),
        ('["+4915112345678"]', 400, "malformed_body", None),
        ("x" * (1024 * 1024 + 1), 413, "body_too_large", None),
    ],
)
def test_bad_requests_get_4xx_with_their_field(context, body, status, code, field):
    result = check(context, body)
    assert result["statusCode"] == status, result["body"][:300]
    error = json.loads(result["body"])["error"]
    assert error["code"] == code and error.get("field") == field


def test_unknown_tenant_form_bodies_and_other_methods(context):
    from functions.presend.app import handler

    event = load_event("presend-http.json", pathParameters={"tenant": "nobody"})
    assert handler(event, context)["statusCode"] == 404
    result = check(
        context, "recipients=%2B4915112345678", **{"content-type": "application/x-www-form-urlencoded"}
    )
    assert result["statusCode"] == 415
    event = load_event("presend-http.json")
    event["requestContext"]["http"]["method"] = "GET"
    assert handler(event, context)["statusCode"] == 405


def test_a_missing_table_is_503_not_a_trace(context, monkeypatch):
    monkeypatch.setenv("TABLE_NAME", "no-such-table")
    from smsconsent import settings, tenants

    tenants.get("demo")  # cached from the real table
    settings.reset()
    result = check(context, {"recipients": [PHONE]})
    settings.reset()
    assert result["statusCode"] == 503
    assert json.loads(result["body"])["error"]["code"] == "service_unavailable"


def test_the_batch_get_request_is_the_one_botocore_would_send() -> None:
    # Given the pre-send reader, which sends BatchGetItem the short way (store.batch._Wire)
    from botocore.serialize import JSONSerializer

    from smsconsent.store import batch

    dynamodb = batch.client()
    sent: list[Any] = []

    def capture(request: Any, **_: Any) -> None:
        sent.append(request)

    dynamodb.meta.events.register("before-send.dynamodb.BatchGetItem", capture)
    try:
        # When three subjects are read
        pks = [f"SUBJ#demo#v1.{i:064x}" for i in range(3)]
        batch.read(pks)
    finally:
        dynamodb.meta.events.unregister("before-send.dynamodb.BatchGetItem", capture)
    # Then one request went, saying what botocore's serialisation of it says, with its
    # target and content type, signed (SigV4 over the body: tests/integration/test_batch_wire.py)
    [request] = sent
    table = os.environ["TABLE_NAME"]
    asked = {
        table: {
            "Keys": [{"pk": {"S": pk}, "sk": {"S": "SUBJECT"}} for pk in pks],
            "ConsistentRead": True,
            "ProjectionExpression": batch._PROJECTION,
            "ExpressionAttributeNames": batch._NAMES,
        }
    }
    model = dynamodb.meta.service_model.operation_model("BatchGetItem")
    theirs = JSONSerializer().serialize_to_request({"RequestItems": asked}, model)
    assert json.loads(request.body) == json.loads(theirs["body"])
    for name in ("X-Amz-Target", "Content-Type"):
        assert request.headers[name] == theirs["headers"][name].encode()
    assert request.headers["Authorization"].startswith(b"AWS4-HMAC-SHA256 Credential=")
    assert request.url == dynamodb.meta.endpoint_url + "/"


def test_quiet_hours_read_the_zones_the_subject_keeps_unless_another_phonenumbers_made_them(context, clock):
    # Given a confirmed number in New York, whose item keeps its zones
    from smsconsent import phone

    ny = "+12125550123"
    committed(ny, clock, language="en")
    item = subject_item(ny)
    assert item.zones == phone.stored_zones(ny) and "America/New_York" in item.zones
    body = {"recipients": [ny], "campaign": "c", "send_at": "2026-12-01T16:00:00Z"}  # 11:00 in New York

    def reason() -> str:
        return str(answer_of(check(context, body))["results"][0]["reason"])

    assert reason() == "ok"
    # When the item says Honolulu (06:00 there), as written by this phonenumbers release
    source = item.zones.partition("|")[0]
    item.update(actions=[type(item).zones.set(f"{source}|Pacific/Honolulu")])
    # Then the check judges the hours there
    assert reason() == "quiet_hours"
    # And zones written by another release are worked out again from the number
    item.update(actions=[type(item).zones.set("pn0.0.0|Pacific/Honolulu")])
    assert reason() == "ok"


# ---- the zones a subject's item keeps (phone.stored_zones) ------------------------------------
# A value this release could not have written (malformed, forged, a zone the time zone
# database does not know, none, absurdly long) is worked out again from the number: never a
# 500, never quiet hours judged in UTC or in only some of the names. (A well-formed value is
# trusted, as the rest of the item is; that the zones go with the number: test_retention.py,
# test_privacy.py.)

NY = "+12125550123"
NY_BODY = {"recipients": [NY], "campaign": "c", "send_at": "2026-12-01T16:00:00Z"}  # 11:00 in New York
NY_NIGHT = {**NY_BODY, "send_at": "2026-12-01T12:00:00Z"}  # 07:00 in New York (quiet), 12:00 UTC (not)


def _reason(context: Any, body: dict[str, Any]) -> str:
    result = check(context, body)
    return str(answer_of(result)["results"][0]["reason"])


def _stored(value: str) -> None:
    item = subject_item(NY)
    item.update(actions=[type(item).zones.set(value)])


@pytest.mark.parametrize(
    "names",
    [
        "Nowhere/Atlantis",  # all unknown: schedule._zones_named would raise (a 500)
        "America/New_York Nowhere/Atlantis",  # partly unknown
        "Pacific/Honolulu Nowhere/Atlantis",  # partly unknown, and the rest not the number's
        "Etc/Unknown",  # phonenumbers' placeholder, which stored_zones never writes
        "../../etc/passwd",  # not a zone name at all (ZoneInfo refuses it)
        "America/New_York " * 5000,  # far longer than any number's zones
        "America",  # a folder of the time zone database (ZoneInfo raises OSError)
        "",  # none (a number placed nowhere): cheaply worked out, never UTC for a forged one
    ],
)
def test_a_stored_value_this_release_could_not_have_written_is_worked_out_again(context, clock, names):
    # Given a confirmed New York number whose item's zones carry this release's tag
    from smsconsent import phone

    committed(NY, clock, language="en")
    source = phone.stored_zones(NY).partition("|")[0]
    # When the item's zones hold names no number of this release has
    _stored(f"{source}|{names}")
    # Then quiet hours are judged in New York: no 500, no other zone
    assert _reason(context, NY_BODY) == "ok"
    assert _reason(context, NY_NIGHT) == "quiet_hours"


@pytest.mark.parametrize("value", ["", "|", "garbage", "pn|America/New_York", "|America/New_York"])
def test_a_stored_value_of_no_release_is_worked_out_again(context, clock, value):
    # Given a confirmed New York number, When its item's zones are malformed
    committed(NY, clock, language="en")
    _stored(value)
    # Then quiet hours are judged in New York
    assert _reason(context, NY_BODY) == "ok"
    assert _reason(context, NY_NIGHT) == "quiet_hours"


def test_a_clean_200_that_is_no_json_is_asked_again_and_counted_both_times(context, outbox, dynamo_calls):
    # Given a confirmed subject, and one BatchGetItem answered 200 with a page of HTML (a
    # proxy's), which the reader's short way cannot take
    from botocore.awsrequest import AWSResponse

    from smsconsent.store import batch

    confirmed(context, outbox)
    answered: list[bool] = []

    class Body:
        def stream(self, **_: Any) -> Iterator[bytes]:
            yield b"<html>maintenance</html>"

    def html_once(request: Any, **_: Any) -> Any:
        if answered:
            return None
        answered.append(True)
        return AWSResponse(request.url, 200, {"content-type": "text/html"}, Body())

    events = batch.client().meta.events
    events.register_first("before-send.dynamodb.BatchGetItem", html_once)
    dynamo_calls.reset()
    try:
        result = check(context, {"recipients": [PHONE], "send_at": "2026-11-22T13:00:00Z"})
    finally:
        events.unregister("before-send.dynamodb.BatchGetItem", html_once)
    # Then the check answers (botocore asked again), and both requests are counted
    assert result["statusCode"] == 200 and answer_of(result)["results"][0]["reason"] == "ok"
    assert dynamo_calls.operations["BatchGetItem"] == 2 and dynamo_calls.items_read == 1
