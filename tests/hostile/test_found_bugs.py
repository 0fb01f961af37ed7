"""Regression tests for the bugs the hostile tests found (all fixed): each states the
answer a careful user would expect for the input that once broke."""

from __future__ import annotations

import http.client
import json
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
    new_image["hash"]["S"] = f"{number:032x}" * 2  # the event's id: its first 32 digits
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
    assert [e["id"] for e in published.received()] == ["00000000-0000-0000-0000-000000000002"]


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
