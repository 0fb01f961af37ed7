"""GET /v1/{tenant}/consents on the real handler (ConsentsFunction) against moto: every
subject of a tenant in a state, paged through the sparse ``tenant-index`` (never a Scan),
as JSON or CSV, opt-outs held only as a keyed hash included, and a cursor that pages
exactly and belongs to one tenant and one set of filters."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
from datetime import timedelta
from typing import Any

import pytest

from tests.fixtures.events import load_event

pytestmark = pytest.mark.usefixtures("aws")

FIELDS = {"phone", "key", "state", "purpose", "channel", "since", "last_contact_at"}
T0 = "2026-01-05T10:00:00Z"


def export(context: Any, accept: str = "application/json", **query: str) -> dict[str, Any]:
    """The handler's answer to ``GET /v1/{tenant}/consents?<query>`` (``tenant`` in query
    names the path's tenant)."""
    from functions.consents.app import handler

    tenant = query.pop("tenant", "demo")
    event = load_event("consents-export.json")
    event["pathParameters"] = {"tenant": tenant}
    event["rawPath"] = event["requestContext"]["http"]["path"] = f"/v1/{tenant}/consents"
    event["queryStringParameters"] = dict(query) or None
    event["rawQueryString"] = "&".join(f"{k}={v}" for k, v in query.items())
    event["headers"]["accept"] = accept
    return handler(event, context)


def page(context: Any, **query: str) -> dict[str, Any]:
    answer = export(context, **query)
    assert answer["statusCode"] == 200, answer["body"]
    assert answer["headers"]["Content-Type"] == "application/json"
    body: dict[str, Any] = json.loads(answer["body"])
    assert set(body) == {"items", "cursor"}
    return body


def every_item(context: Any, **query: str) -> tuple[list[dict[str, Any]], int]:
    """Every item, page after page until the cursor is null; and the number of pages."""
    items: list[dict[str, Any]] = []
    pages = 0
    cursor: str | None = None
    while True:
        body = page(context, **query, **({"cursor": cursor} if cursor else {}))
        pages += 1
        items += body["items"]
        cursor = body["cursor"]
        if cursor is None:
            return items, pages
        assert pages < 10_000, "the cursor makes no progress"


def refused(answer: dict[str, Any], status: int, code: str, field: str) -> None:
    assert answer["statusCode"] == status, answer["body"]
    error = json.loads(answer["body"])["error"]
    assert (error["code"], error.get("field")) == (code, field), error


def put(
    key: str,
    consents: dict[str, dict[str, Any]],
    *,
    tenant: str = "demo",
    phone: str | None = "+4915112340000",
    last_contact_at: str | None = None,
    version: str = "t1",
) -> str:
    """A subject written through the store (``store.commit``, as every change is), under the
    keyed hash ``<version>.<key>``; returns that key."""
    from smsconsent import store
    from smsconsent.clock import parse_iso

    subject = store.new_subject(tenant, f"{version}.{key}", parse_iso(T0))
    subject.phone = phone
    subject.region = "DE" if phone else None
    subject.consents = consents  # type: ignore[assignment]
    subject.last_contact_at = last_contact_at
    store.commit(store.Change(subject, []), parse_iso(T0))
    return f"{version}.{key}"


def record(state: str, since: str = T0, **extra: Any) -> dict[str, Any]:
    return {"state": state, "since": since, **extra}


def hexkey(n: int) -> str:
    return f"{n:064x}"


@pytest.fixture
def population() -> dict[str, str]:
    """Subjects in every state, spread over shards (the first hex digit of their key)."""
    return {
        "active": put(
            "0" + hexkey(1)[1:],
            {"sms:marketing": record("active"), "sms:orders": record("active")},
            phone="+4915112340001",
            last_contact_at="2026-02-01T08:00:00Z",
        ),
        "out": put(
            "7" + hexkey(2)[1:],
            {"sms:marketing": record("opted_out", before_stop="active"), "sms:orders": record("active")},
            phone="+4915112340002",
        ),
        "pending": put(
            "a" + hexkey(3)[1:],
            {"sms:marketing": record("pending", token="x", issued_at=T0)},
            phone="+4915112340003",
        ),
        "lapsed": put("c" + hexkey(4)[1:], {"sms:newsletter": record("lapsed")}, phone="+4915112340004"),
        "marker": put("f" + hexkey(5)[1:], {"sms:marketing": record("opted_out")}, phone=None),
        "whatsapp": put(
            "3" + hexkey(6)[1:], {"whatsapp:marketing": record("active")}, phone="+4915112340006"
        ),
    }


def _triples(items: list[dict[str, Any]]) -> set[tuple[str, str, str, str]]:
    return {(i["key"], i["state"], i["channel"], i["purpose"]) for i in items}


# ---- filters ---------------------------------------------------------------------------------


def test_every_record_in_every_state_without_a_filter(context, population):
    items, pages = every_item(context)
    assert pages == 1
    p = population
    assert _triples(items) == {
        (p["active"], "active", "sms", "marketing"),
        (p["active"], "active", "sms", "orders"),
        (p["out"], "opted_out", "sms", "marketing"),
        (p["out"], "active", "sms", "orders"),
        (p["pending"], "pending", "sms", "marketing"),
        (p["lapsed"], "lapsed", "sms", "newsletter"),
        (p["marker"], "opted_out", "sms", "marketing"),
        (p["whatsapp"], "active", "whatsapp", "marketing"),
    }
    assert all(set(i) == FIELDS for i in items)
    [first] = [i for i in items if i["key"] == p["active"] and i["purpose"] == "marketing"]
    assert first == {
        "phone": "+4915112340001",
        "key": p["active"],
        "state": "active",
        "purpose": "marketing",
        "channel": "sms",
        "since": T0,
        "last_contact_at": "2026-02-01T08:00:00Z",
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (
            {"state": "active"},
            {("active", "marketing"), ("active", "orders"), ("out", "orders"), ("whatsapp", "marketing")},
        ),
        ({"state": "opted_out"}, {("out", "marketing"), ("marker", "marketing")}),
        ({"state": "pending"}, {("pending", "marketing")}),
        ({"state": "lapsed"}, {("lapsed", "newsletter")}),
        ({"purpose": "orders"}, {("active", "orders"), ("out", "orders")}),
        ({"channel": "whatsapp"}, {("whatsapp", "marketing")}),
        (
            {"state": "active", "channel": "sms"},
            {("active", "marketing"), ("active", "orders"), ("out", "orders")},
        ),
        ({"state": "active", "purpose": "marketing", "channel": "sms"}, {("active", "marketing")}),
        ({"state": "opted_out", "purpose": "orders"}, set()),
    ],
)
def test_each_filter_and_their_combinations(context, population, query, expected):
    items, _ = every_item(context, **query)
    assert {
        (name, i["purpose"]) for name, key in population.items() for i in items if i["key"] == key
    } == expected
    assert len(items) == len(expected)
    for item in items:
        assert query.get("state", item["state"]) == item["state"]
        assert query.get("channel", item["channel"]) == item["channel"]
        assert query.get("purpose", item["purpose"]) == item["purpose"]


def test_an_opt_out_held_only_as_a_keyed_hash_is_exported_with_its_key(context, outbox):
    """An erasure keeps the opt-out as a marker (no number): exported with ``phone`` null and
    the subject's key, so a suppression list built from the export still holds it."""
    from smsconsent import keys, phone, privacy, tenants
    from tests.fixtures.journeys import PHONE, sign_up, stop

    sign_up(context, outbox, confirm=True)
    stop()
    privacy.erase(tenants.get("demo"), phone.normalise(PHONE))
    key = keys.subject_hashes("demo", PHONE)[0]
    items, _ = every_item(context, state="opted_out")
    assert items and {i["key"] for i in items} == {key}
    assert {i["phone"] for i in items} == {None}
    assert {i["purpose"] for i in items} == {"marketing", "newsletter"}  # the STOP scope


def test_a_signup_waiting_over_an_opt_out_is_exported_as_the_opt_out(context):
    """Unconfirmed, a new signup changes nothing: the opt-out stands, so it is exported as
    ``opted_out`` with the opt-out's ``since`` (and not as ``pending``)."""
    stopped = "2025-12-01T09:00:00Z"
    key = put(
        hexkey(9),
        {"sms:marketing": record("pending", token="y", issued_at=T0, prior=record("opted_out", stopped))},
    )
    [item] = page(context, state="opted_out")["items"]
    assert (item["key"], item["state"], item["since"]) == (key, "opted_out", stopped)
    assert page(context, state="pending")["items"] == []


def test_a_signup_through_the_handlers_is_exported(context, outbox):
    """Subjects written by the real flows carry the index's attributes."""
    from tests.fixtures.journeys import PHONE, sign_up

    sign_up(context, outbox, confirm=True)
    items, _ = every_item(context, state="active")
    assert {(i["phone"], i["purpose"]) for i in items} == {(PHONE, "marketing")}


def test_another_tenants_subjects_never_appear(context, population):
    for tenant in ("other", "demo2", "dem"):
        put(hexkey(42), {"sms:marketing": record("opted_out")}, tenant=tenant, phone="+4915112349999")
    items, _ = every_item(context)
    assert "+4915112349999" not in {i["phone"] for i in items}
    assert {i["key"] for i in items} == set(population.values())


# ---- paging ----------------------------------------------------------------------------------


def test_a_limit_of_one_pages_through_the_records_of_one_subject(context):
    key = put(hexkey(7), {f"sms:{p}": record("active") for p in ("marketing", "newsletter", "orders")})
    items, pages = every_item(context, limit="1")
    assert [(i["key"], i["purpose"]) for i in items] == [
        (key, "marketing"),
        (key, "newsletter"),
        (key, "orders"),
    ]
    assert pages == 3  # the last page knows it is the last: no empty page after it


def test_a_cursor_holds_any_pepper_version(context):
    """A pepper version is any text without a "." (keys.Pepper): the cursor of a subject
    keyed under one with spaces and slashes goes on all the same."""
    key = put(
        hexkey(8), {"sms:marketing": record("active"), "sms:orders": record("active")}, version="rot 2026/1"
    )
    items, pages = every_item(context, limit="1")
    assert [(i["key"], i["purpose"]) for i in items] == [(key, "marketing"), (key, "orders")]
    assert pages == 2


def test_pages_are_exact_over_many_subjects_and_shards(context):
    keys = [
        put(
            f"{n % 16:x}" + hexkey(n)[1:], {"sms:marketing": record("active"), "sms:orders": record("active")}
        )
        for n in range(40)
    ]
    for limit in ("1", "3", "7", "80", "81"):
        items, pages = every_item(context, limit=limit)
        assert sorted((i["key"], i["purpose"]) for i in items) == sorted(
            (k, p) for k in keys for p in ("marketing", "orders")
        ), limit
        assert pages == -(-80 // int(limit)), limit


def test_a_subject_changed_between_pages_is_read_as_it_is_then(context):
    from smsconsent import store

    first = put(
        "1" + hexkey(1)[1:],
        {
            "sms:marketing": record("active"),
            "sms:newsletter": record("active"),
            "sms:orders": record("active"),
        },
    )
    later = put("2" + hexkey(2)[1:], {"sms:marketing": record("active")})
    body = page(context, limit="2", state="active")
    assert [(i["key"], i["purpose"]) for i in body["items"]] == [(first, "marketing"), (first, "newsletter")]
    # Between the pages: the first subject opts out of orders, and the later one signs up to more.
    for key, changes in (
        (first, {"sms:orders": record("opted_out")}),
        (later, {"sms:orders": record("active")}),
    ):
        subject = store.load_subject("demo", [key])
        subject.consents.update(changes)  # type: ignore[arg-type]
        store.commit(store.Change(subject, []), subject_time())
    rest, _ = every_item(context, state="active", limit="2", cursor=body["cursor"])
    assert [(i["key"], i["purpose"]) for i in rest] == [(later, "marketing"), (later, "orders")]


def subject_time():
    from smsconsent.clock import parse_iso

    return parse_iso(T0) + timedelta(days=1)


def test_a_page_stops_at_its_read_budget_and_the_cursor_goes_on(context, monkeypatch):
    """A selective filter over a large tenant: a page reads at most its budget of subjects
    and hands back a cursor (with fewer items, even none) rather than running into the
    Lambda or API Gateway time limit."""
    from smsconsent import exporting

    monkeypatch.setattr(exporting, "READ_BUDGET", 5)
    keys = [put(f"{n % 16:x}" + hexkey(n)[1:], {"sms:marketing": record("active")}) for n in range(30)]
    stopped = put("f" + hexkey(99)[1:], {"sms:marketing": record("opted_out")})
    first = page(context, state="opted_out")
    assert first["items"] == [] and first["cursor"]
    items, pages = every_item(context, state="opted_out")
    assert [i["key"] for i in items] == [stopped]
    assert pages >= 30 // 5
    assert len(keys) == 30


# ---- CSV ---------------------------------------------------------------------------------------


def test_csv_has_a_header_the_same_fields_and_the_cursor_in_a_header(context, population):
    answer = export(context, accept="text/csv", limit="3")
    assert answer["statusCode"] == 200, answer["body"]
    headers = answer["headers"]
    assert headers["Content-Type"] == "text/csv; charset=utf-8; header=present"
    assert headers["Cache-Control"] == "no-store"
    rows = list(csv.reader(io.StringIO(answer["body"], newline="")))
    assert rows[0] == ["phone", "key", "state", "purpose", "channel", "since", "last_contact_at"]
    assert len(rows) == 4
    assert answer["body"].endswith("\r\n") and "\r\n" in answer["body"]
    # The same items as the JSON page with the same cursor.
    json_items = page(context, limit="3")["items"]
    assert [r[1:5] for r in rows[1:]] == [
        [i["key"], i["state"], i["purpose"], i["channel"]] for i in json_items
    ]
    cursor = headers["X-Next-Cursor"]
    assert cursor == page(context, limit="3")["cursor"]
    everything: list[list[str]] = rows[1:]
    while cursor:
        answer = export(context, accept="text/csv", limit="3", cursor=cursor)
        rows = list(csv.reader(io.StringIO(answer["body"], newline="")))
        assert rows[0][0] == "phone"
        everything += rows[1:]
        cursor = answer["headers"].get("X-Next-Cursor")
    assert len(everything) == 8


def test_csv_never_starts_a_cell_with_a_formula_trigger(context, population):
    """A number starts with ``+``, which a spreadsheet reads as a formula: every cell that
    starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading ``'``
    (OWASP, ASVS 1.2.10). A marker's number is an empty cell."""
    answer = export(context, accept="text/csv")
    rows = list(csv.DictReader(io.StringIO(answer["body"], newline="")))
    phones = {r["key"]: r["phone"] for r in rows}
    assert phones[population["active"]] == "'+4915112340001"
    assert phones[population["marker"]] == ""
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), row


def test_csv_of_hostile_values_is_quoted_and_defused():
    from smsconsent import exporting

    text = exporting.to_csv(
        [
            {
                "phone": "+4915112340001",
                "key": "t1.00",
                "state": "active",
                "purpose": '=HYPERLINK("http://x","y"),1',
                "channel": "-2+3",
                "since": "@SUM(1)",
                "last_contact_at": "\tx\r\ny",
            }
        ]
    )
    [header, row] = list(csv.reader(io.StringIO(text, newline="")))
    assert header == list(exporting.FIELDS)
    assert row == [
        "'+4915112340001",
        "t1.00",
        "active",
        '\'=HYPERLINK("http://x","y"),1',
        "'-2+3",
        "'@SUM(1)",
        "'\tx\r\ny",
    ]
    assert '"\'=HYPERLINK(""http://x"",""y""),1"' in text  # RFC 4180: quoted, quotes doubled


def test_an_escaped_number_still_reads_as_the_number():
    """The leading ``'`` does not stop the export being read back: the import (and any
    phone library) takes the number after it."""
    from smsconsent import phone

    assert phone.normalise_mobile("'+4915112340001", "DE").e164 == "+4915112340001"


# ---- refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "code", "field"),
    [
        ({"state": "confirmed"}, "invalid_field", "state"),
        ({"state": ""}, "invalid_field", "state"),
        ({"channel": "fax"}, "invalid_field", "channel"),
        ({"purpose": "promotions"}, "unknown_purpose", "purpose"),
        ({"limit": "0"}, "invalid_field", "limit"),
        ({"limit": "10001"}, "invalid_field", "limit"),
        ({"limit": "ten"}, "invalid_field", "limit"),
        ({"limit": "1e3"}, "invalid_field", "limit"),
        ({"stat": "opted_out"}, "invalid_field", "stat"),  # a typo must not export everything
        ({"": "opted_out"}, "invalid_field", "query"),  # no name to name: the query string
        ({"cursor": "!!!"}, "invalid_field", "cursor"),
        ({"cursor": ""}, "invalid_field", "cursor"),
        ({"cursor": "e30"}, "invalid_field", "cursor"),  # {}
        ({"cursor": "x" * 2000}, "invalid_field", "cursor"),
    ],
)
def test_bad_parameters_are_refused_with_the_field(context, query, code, field):
    refused(export(context, **query), 422, code, field)


def test_limit_10000_is_taken(context, population):
    assert len(page(context, limit="10000")["items"]) == 8


def _cursor_of(context: Any, **query: str) -> str:
    body = page(context, limit="1", **query)
    assert body["cursor"]
    return str(body["cursor"])


def _tampered(cursor: str, **changes: Any) -> str:
    data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    data.update(changes)
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def test_a_cursor_belongs_to_its_tenant_and_its_filters(context, population):
    from smsconsent import store
    from tests.fixtures.tenants import demo_tenant_doc

    doc = demo_tenant_doc()
    doc["id"] = "other"
    doc["inbound_numbers"] = []  # the demo's number is the demo's
    store.put_tenant_doc(doc, subject_time())
    cursor = _cursor_of(context, state="active")
    # The same cursor goes on, with any limit.
    assert page(context, state="active", limit="5", cursor=cursor)["items"]
    refused(export(context, tenant="other", state="active", cursor=cursor), 422, "invalid_field", "cursor")
    for query in (
        {"state": "opted_out"},
        {},
        {"state": "active", "channel": "sms"},
        {"state": "active", "purpose": "marketing"},
    ):
        refused(export(context, cursor=cursor, **query), 422, "invalid_field", "cursor")


def test_a_tampered_cursor_is_refused(context, population):
    cursor = _cursor_of(context)
    data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    for changes in (
        {"s": 16},
        {"s": -1},
        {"s": "0"},
        {"s": True},
        {"p": "SUBJ#other#t1.00"},
        {"p": "t1.00\u0000"},
        {"p": 5},
        {"k": 7},
        {"k": "marketing"},
        {"v": 2},
        {"t": "other"},
        {"x": 1},
    ):
        refused(export(context, cursor=_tampered(cursor, **changes)), 422, "invalid_field", "cursor")
    without = {k: v for k, v in data.items() if k != "s"}
    bare = base64.urlsafe_b64encode(json.dumps(without).encode()).decode().rstrip("=")
    refused(export(context, cursor=bare), 422, "invalid_field", "cursor")
    refused(
        export(context, cursor=base64.urlsafe_b64encode(b"[1, 2]").decode()), 422, "invalid_field", "cursor"
    )


def test_unknown_tenant_and_other_methods(context):
    refused(export(context, tenant="nobody"), 404, "unknown_tenant", "tenant")
    from functions.consents.app import handler

    event = load_event("consents-export.json")
    event["requestContext"]["http"]["method"] = "POST"
    assert handler(event, context)["statusCode"] == 405


# ---- scale -------------------------------------------------------------------------------------


@pytest.mark.slow
def test_25000_subjects_page_completely_without_a_scan(context, dynamo_calls):
    """25,000 subjects (a third opted out, some only as a marker) page completely, every
    record once, each page from Query requests of the index (counted at the botocore
    layer), never a Scan."""
    from boto3.dynamodb.types import TypeSerializer
    from moto.dynamodb.models import dynamodb_backends

    from local import moto_sorting
    from smsconsent import settings

    n = 25_000
    serialize = TypeSerializer().serialize
    backend = dynamodb_backends["123456789012"]["eu-central-1"]
    table = settings.get().table_name
    expected = set()
    for i in range(n):
        key = "t1." + hashlib.sha256(str(i).encode()).hexdigest()
        out = i % 3 == 0
        consents = {"sms:marketing": record("opted_out" if out else "active")}
        # What the export reads of a subject, as the store writes it (moto's Query time
        # grows with the attributes of every item it walks).
        item = {
            "pk": f"SUBJ#demo#{key}",
            "sk": "SUBJECT",
            "tenant": "demo",
            "consents": json.dumps(consents),
            "version": 1,
            "tenant_shard": f"demo#{key[3]}",
        }
        if not (out and i % 2):
            item["phone"] = f"+49151{i:08d}"
        if out:
            expected.add(key)
        # Straight into moto's table (as BatchWriteItem stores them, in a fraction of the
        # time): the test is about what the export reads.
        backend.put_item(table, {k: serialize(v) for k, v in item.items()})
    dynamo_calls.reset()
    with moto_sorting.sorted_by_values():  # moto's own order, without seconds of sorting per Query
        items, pages = every_item(context, state="opted_out", limit="1000")
    assert [i["key"] for i in items if i["key"]] and len(items) == len(expected)
    assert {i["key"] for i in items} == expected
    assert sum(1 for i in items if i["phone"] is None) == len([k for k in range(0, n, 3) if k % 2])
    operations = dynamo_calls.operations
    assert operations.get("Scan", 0) == 0, operations
    assert pages == -(-len(expected) // 1000)
    # Each page reads the shards it needs from where the last one stopped (16 shards, and
    # one more for each page that starts inside one), at most two Query requests in each
    # (the second where the page's guess of how many subjects to read fell short); the
    # last contacts of the page's subjects in BatchGetItem requests of 100.
    assert operations["Query"] <= 2 * (16 + pages - 1), operations
    assert operations["BatchGetItem"] <= -(-len(expected) // 100) + pages, operations
    assert set(operations) <= {"Query", "BatchGetItem", "GetItem"}, operations
