"""Regression tests for the bugs the hostile tests found (all fixed): each states the
answer a careful user would expect for the input that once broke."""

from __future__ import annotations

import http.client
import json
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest

from local.stack import LocalStack, start
from tests.fixtures.events import load_event
from tests.hostile.support import assert_clean_answer, dump_table, enforce_dynamodb_key_limits

LONG_ID = "x" * 2100  # over DynamoDB's 2048-byte partition key
DIGITS = "1" * 4301  # over Python's 4300-digit limit for int()


# ---- inbound webhooks ---------------------------------------------------------------------


@pytest.mark.usefixtures("aws")
@pytest.mark.parametrize(
    ("where", "value"),
    [("x-forwarded-proto", "http://["), ("domainName", "127.0.0.1:abc"), ("domainName", "[::1")],
)
def test_twilio_signature_check_survives_an_unparseable_request_url(context, where, value):
    from functions.inbound.app import handler

    event = load_event("inbound-twilio-stop.json")
    if where == "domainName":
        event["requestContext"]["domainName"] = value
    else:
        event["headers"][where] = value
    before = dump_table()
    answer = handler(event, context)
    assert assert_clean_answer(answer) in (400, 403)  # a broken host is malformed, else unsigned
    assert dump_table() == before


@pytest.mark.usefixtures("aws")
def test_bird_signature_check_survives_a_timestamp_of_4301_digits(context):
    from functions.inbound.app import handler

    event = load_event("inbound-bird-stop.json")
    event["headers"]["messagebird-request-timestamp"] = DIGITS
    answer = handler(event, context)
    assert assert_clean_answer(answer) == 403


@pytest.mark.usefixtures("aws")
def test_sinch_signature_check_survives_a_timestamp_of_4301_digits(context):
    from functions.inbound.app import handler

    event = load_event("inbound-sinch-stop-signed.json")
    event["headers"]["x-sinch-webhook-signature-timestamp"] = DIGITS
    answer = handler(event, context)
    assert assert_clean_answer(answer) == 403


def _cm_with_id(message_id: str) -> dict[str, Any]:
    event = load_event("inbound-cm-stop.json")  # carries the tenant's webhook secret
    body = json.loads(event["body"])
    body["id"] = message_id
    event["body"] = json.dumps(body)
    return event


def _twilio_signed_with_sid(message_sid: str) -> dict[str, Any]:
    from smsconsent.providers import twilio

    pairs = [
        ("MessageSid", message_sid),
        ("SmsSid", message_sid),
        ("AccountSid", "ACebbef090ddae5eb33c8a5f771f74d14c"),
        ("From", "+4915112345678"),
        ("To", "+4915790000000"),
        ("Body", "STOP"),
    ]
    event = load_event("inbound-twilio-stop.json")
    event["body"], event["isBase64Encoded"] = urlencode(pairs), False
    url = "http://127.0.0.1:3000/v1/demo/inbound/twilio"
    event["headers"]["x-twilio-signature"] = twilio.signature("demo-twilio-auth-token", url, pairs)
    return event


@pytest.mark.usefixtures("aws")
@pytest.mark.parametrize(
    ("build", "status"), [(_cm_with_id, 200), (_twilio_signed_with_sid, 400)], ids=["cm", "twilio-signed"]
)
def test_webhook_with_a_message_id_longer_than_a_dynamodb_key(context, build, status):
    from functions.inbound.app import handler

    # CM.com ids are free-form; a Twilio SID has one shape, so a 2,100-character one is a
    # re-cut signed request: refused as malformed (400), changing nothing.
    event = build(LONG_ID)
    before = dump_table()
    answer = handler(event, context)
    assert assert_clean_answer(answer) == status
    if status == 400:
        assert json.loads(answer["body"])["error"]["code"] == "invalid_message_id"
        assert dump_table() == before


@pytest.mark.usefixtures("aws")
def test_two_way_sms_with_a_message_id_longer_than_a_dynamodb_key(context):
    from functions.inbound.app import handler

    event = load_event("inbound-sns-stop.json")
    record = event["Records"][0]["Sns"]
    message = json.loads(record["Message"])
    message["inboundMessageId"] = LONG_ID
    record["Message"] = json.dumps(message)
    answer = handler(event, context)
    assert isinstance(answer, dict)


@pytest.mark.usefixtures("aws")
@pytest.mark.parametrize("records", [5, True, 1.5])
def test_two_way_sms_event_whose_records_are_not_a_list(context, records):
    from functions.inbound.app import handler

    event = {"Records": records}
    answer = handler(event, context)
    assert answer == {"handled": 0, "skipped": 1}


# ---- retention ----------------------------------------------------------------------------


@pytest.mark.usefixtures("aws")
@pytest.mark.parametrize("scheduled", ["9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+01:00"])
def test_expiry_survives_a_scheduled_time_beyond_the_datetime_range(context, scheduled):
    from functions.expiry.app import handler

    event = {"scheduled_time": scheduled}
    summary = handler(event, context)
    assert isinstance(summary, dict) and "examined" in summary


# ---- webhook subscriptions ----------------------------------------------------------------


@pytest.mark.usefixtures("aws")
@pytest.mark.parametrize("name", ["webhooks-delete.json", "webhooks-deliveries.json"])
@pytest.mark.parametrize("webhook_id", ["x" * 1100, "é" * 600])
def test_webhook_id_longer_than_a_dynamodb_key_is_unknown(context, monkeypatch, name, webhook_id):
    from functions.webhooks.app import handler

    # DynamoDB refuses a read or a delete naming a sort key over 1,024 bytes (moto does not).
    enforce_dynamodb_key_limits(monkeypatch)
    event = load_event(name)
    event["pathParameters"]["id"] = webhook_id
    answer = handler(event, context)
    assert assert_clean_answer(answer) == 404
    assert json.loads(answer["body"])["error"]["code"] == "unknown_webhook"


# ---- consent events out: the table's stream -----------------------------------------------


def _stream_record(number: int, **image: Any) -> dict[str, Any]:
    """The sample stream record with its own sequence number and hash, ``image`` changing
    (or, as None, removing) attributes of its new image."""
    record = load_event("publisher-stream.json")["Records"][0]
    record["dynamodb"]["SequenceNumber"] = str(number)
    new_image = record["dynamodb"]["NewImage"]
    new_image["hash"]["S"] = f"{number:032x}" * 2  # the event's id comes from it
    for name, value in image.items():
        if value is None:
            new_image.pop(name, None)
        else:
            new_image[name] = value
    return record


@pytest.mark.usefixtures("aws")
@pytest.mark.parametrize(
    "event", [None, [], "x", 5, {"Records": "abc"}, {"Records": {"a": 1}}, {"Records": 5}]
)
def test_publisher_given_no_stream_event_publishes_nothing(published, context, event):
    from functions.publisher.app import handler

    assert handler(event, context) == {"batchItemFailures": []}
    assert published.received() == []


BAD_RECORDS = {
    "not a record": None,
    "a number": 5,
    "no change": {"eventName": "INSERT"},
    "a change of another type": {"eventName": "INSERT", "dynamodb": []},
    "no hash": _stream_record(1, hash=None),
    "no seq": _stream_record(1, seq=None),
    "seq not a number": _stream_record(1, seq={"N": "three"}),
    "seq as text": _stream_record(1, seq={"S": "3"}),
    "no time": _stream_record(1, at=None),
    "a time that is none": _stream_record(1, at={"S": "yesterday"}),
    "a time beyond the datetime range": _stream_record(1, at={"S": "0001-01-01T00:00:00+01:00"}),
    "data as a list": _stream_record(1, data={"S": "[1, 2]"}),
    "data of mixed consents": _stream_record(1, data={"S": '{"consents": ["sms:marketing", 5]}'}),
    "data as a number": _stream_record(1, data={"N": "1"}),
    "a tenant too long for a key": _stream_record(1, pk={"S": "SUBJ#" + "x" * 3000 + "#t1.abc"}),
}


@pytest.mark.usefixtures("aws")
@pytest.mark.parametrize("bad", list(BAD_RECORDS.values()), ids=list(BAD_RECORDS))
def test_publisher_skips_an_unreadable_record_and_publishes_the_next(published, context, monkeypatch, bad):
    from functions.publisher.app import handler

    # Handed back, the record would come again and again until it left the stream a day
    # later, holding up every record behind it: it is skipped (and logged) instead.
    enforce_dynamodb_key_limits(monkeypatch)
    answer = handler({"Records": [bad, _stream_record(2)]}, context)
    assert answer == {"batchItemFailures": []}
    from smsconsent import events

    pk = _stream_record(2)["dynamodb"]["NewImage"]["pk"]["S"]
    expected = events.event_id("demo", pk.rsplit("#", 1)[-1], f"{2:032x}" * 2)
    assert [e["id"] for e in published.received()] == [expected]


# ---- webhook deliveries: the FIFO queue ----------------------------------------------------


def _sqs_record(message_id: str = "m-1", webhook_id: str | None = None, **body: Any) -> dict[str, Any]:
    """The sample SQS record for ``webhook_id`` with ``body`` changing (or, as None,
    removing) fields of its delivery; ``event_x`` names the field ``x`` of its event."""
    record = load_event("delivery-sqs.json")["Records"][0]
    record["messageId"] = message_id
    delivery = json.loads(record["body"])
    if webhook_id is not None:
        delivery["webhook_id"] = webhook_id
    for name, value in body.items():
        where, key = (delivery["event"], name[6:]) if name.startswith("event_") else (delivery, name)
        if value is None:
            where.pop(key, None)
        else:
            where[key] = value
    record["body"] = json.dumps(delivery)
    return record


@pytest.mark.usefixtures("webhooks")
@pytest.mark.parametrize(
    "event",
    [
        None,
        [],
        "x",
        {"Records": "abc"},
        {"Records": 5},
        {"Records": [None, 5, "x", {"body": "{}"}]},  # nothing to deliver and nothing to name
        {"Records": [{**_sqs_record(), "attributes": ["x"]}]},
        {"Records": [{**_sqs_record(), "attributes": {"MessageGroupId": ["x"]}}]},
    ],
    ids=[
        "none",
        "list",
        "text",
        "records-text",
        "records-number",
        "no-messages",
        "attributes-list",
        "group-list",
    ],
)
def test_delivery_given_no_sqs_messages_to_deliver_answers_without_failures(context, event):
    from functions.delivery.app import handler

    assert handler(event, context) == {"batchItemFailures": []}


@pytest.mark.parametrize("body", [5, None, ["x"]])
def test_delivery_of_a_message_that_cannot_be_dead_lettered_hands_it_back(webhooks, context, body):
    from functions.delivery.app import handler

    # SQS refuses to dead-letter a body that is not text: the message comes back (after
    # the queue's receive limit, SQS dead-letters it itself).
    record = {**_sqs_record(), "body": body}
    assert handler({"Records": [record]}, context) == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}


def test_delivery_hands_back_a_failed_message_without_a_receipt_handle(webhooks, make_receiver, context):
    from functions.delivery.app import handler

    receiver = make_receiver()
    receiver.answer = 500
    made = webhooks.subscribe(receiver.url)
    first, second = _sqs_record("m-1", made["id"]), _sqs_record("m-2", made["id"], event_id=str(uuid.uuid4()))
    del first["receiptHandle"], second["receiptHandle"]
    answer = handler({"Records": [first, second]}, context)
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m-1"}, {"itemIdentifier": "m-2"}]}


UNDELIVERABLE = {
    "an event id no key can hold": {"event_id": "x" * 3000},
    "an event id no header can carry": {"event_id": "a.b"},
    "a queued_at that is no time": {"queued_at": "yesterday"},
    "a queued_at out of range": {"queued_at": "0001-01-01T00:00:00+01:00"},
    "an event with a lone surrogate": {"event_keyword": "\ud800"},
    "an event without an id": {"event_id": None},
    "data that is not an object": {"event_data": ["x"]},
}


@pytest.mark.parametrize("body", list(UNDELIVERABLE.values()), ids=list(UNDELIVERABLE))
def test_delivery_that_no_attempt_could_make_is_dead_lettered_at_once(
    webhooks, make_receiver, context, monkeypatch, body
):
    from functions.delivery.app import handler

    # Handed back, it would be posted (or tried) again and again, holding up its group,
    # until the queue's receive limit, a day later.
    enforce_dynamodb_key_limits(monkeypatch)
    receiver = make_receiver()
    receiver.answer = 500
    made = webhooks.subscribe(receiver.url)
    answer = handler({"Records": [_sqs_record("m-1", made["id"], **body)]}, context)
    assert answer == {"batchItemFailures": []}
    assert len(webhooks.dead()) == 1 and receiver.got == []


def test_delivery_with_a_number_and_no_tenant_in_its_data_is_delivered(webhooks, make_receiver, context):
    from functions.delivery.app import handler

    receiver = make_receiver()
    made = webhooks.subscribe(receiver.url)
    record = _sqs_record("m-1", made["id"])
    delivery = json.loads(record["body"])
    del delivery["event"]["data"]["tenant"]  # the delivery's own tenant is the subject's
    record["body"] = json.dumps(delivery)
    assert handler({"Records": [record]}, context) == {"batchItemFailures": []}
    assert len(receiver.got) == 1


def test_delivery_queued_at_the_end_of_time_is_retried_as_any_other(webhooks, make_receiver, context):
    from functions.delivery.app import handler

    receiver = make_receiver()
    receiver.answer = 500
    made = webhooks.subscribe(receiver.url)
    answer = handler({"Records": [_sqs_record("m-1", made["id"], queued_at="9999-12-31T23:59:59Z")]}, context)
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    path = {"tenant": "demo", "id": made["id"]}
    listed = json.loads(webhooks.call("webhooks-deliveries.json", pathParameters=path)["body"])["deliveries"]
    assert [(d["status"], d["http_status"]) for d in listed] == [("failed", 500)]
    assert listed[0]["next_attempt_at"] is not None


# ---- the local stack ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    running = start(port=0)
    yield running
    running.stop()


def _raw(stack: LocalStack, method: str, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
    host, port = stack.url.removeprefix("http://").rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.putrequest(method, path, skip_host="Host" in headers)
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.putheader("Content-Length", "0")
        connection.endheaders()
        answer = connection.getresponse()
        return answer.status, answer.read()
    finally:
        connection.close()


@pytest.mark.parametrize("method", ["TRACE", "QUERY", "PROPFIND"])
def test_local_stack_answers_unknown_methods_like_api_gateway(stack, method):
    status, body = _raw(stack, method, "/v1/demo/signup", {})
    assert status == 404 and json.loads(body) == {"message": "Not Found"}


def test_local_stack_twilio_webhook_with_a_bad_host_port(stack):
    status, body = _raw(
        stack,
        "POST",
        "/v1/demo/inbound/twilio",
        {
            "Host": "127.0.0.1:abc",
            "X-Twilio-Signature": "x",
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    assert status in (400, 403), body
