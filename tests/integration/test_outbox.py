"""The durable outbox: a confirmation or reply SMS the provider refuses or times out on is
queued in SQS and sent by the dispatcher, so no signup is lost to a provider outage; a
provider that says "this number opted out with us" marks the subject opted out."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from smsconsent.sender import SendError, SmsMessage
from tests.fixtures.aws import queue_in_env
from tests.fixtures.events import load_event
from tests.fixtures.journeys import PHONE, signed_up_and_confirmed, twilio_event

pytestmark = pytest.mark.usefixtures("aws")


@pytest.fixture
def queue(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    yield from queue_in_env(monkeypatch, "sms-outbox", "SMS_QUEUE_URL")


def provider_down(monkeypatch: pytest.MonkeyPatch, outbox: Any, **error: Any) -> None:
    def refuse(message: SmsMessage) -> str:
        raise SendError("provider timed out", **error)

    monkeypatch.setattr(outbox, "send", refuse)


def queued(url: str) -> list[dict[str, Any]]:
    answer = boto3.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)
    return [{"messageId": m["MessageId"], "body": m["Body"]} for m in answer.get("Messages", [])]


def signup(context: Any) -> dict[str, Any]:
    from functions.signup.app import handler

    event = load_event("signup-json.json")
    event["body"] = json.dumps({"phone": PHONE, "consent": True, "age_confirmed": True})
    return handler(event, context)


def dispatch(context: Any, records: list[dict[str, Any]]) -> dict[str, Any]:
    from functions.dispatcher.app import handler

    return handler({"Records": [{**r, "eventSource": "aws:sqs"} for r in records]}, context)


def states() -> dict[str, str]:
    from smsconsent import keys, store

    found = store.load_subject("demo", keys.subject_hashes("demo", PHONE))
    return {k: r["state"] for k, r in found.consents.items()} if found else {}


def test_a_provider_outage_queues_the_confirmation_and_the_dispatcher_sends_it(
    context, outbox, queue, monkeypatch
):
    # Given the provider is down; When a person signs up
    provider_down(monkeypatch, outbox)
    assert signup(context)["statusCode"] == 202  # accepted: the SMS waits in the queue
    [record] = queued(queue)
    assert json.loads(record["body"])["to"] == PHONE
    # When the dispatcher runs while the provider is still down, Then SQS keeps it
    assert dispatch(context, [record]) == {"batchItemFailures": [{"itemIdentifier": record["messageId"]}]}
    # When the provider is back, Then the SMS goes out and its link confirms
    monkeypatch.undo()
    assert dispatch(context, [record]) == {"batchItemFailures": []}
    [sms] = outbox.messages()
    from smsconsent import confirmation

    token = sms["body"].split("/c/")[1].split()[0]
    assert confirmation.confirm(token, "198.51.100.1", "ua").status == "confirmed"


def test_without_a_queue_the_caller_gets_503_and_retries(context, outbox, monkeypatch):
    provider_down(monkeypatch, outbox)
    answer = signup(context)
    assert answer["statusCode"] == 503 and answer["headers"]["Retry-After"]


def test_a_provider_opt_out_at_signup_marks_the_subject_opted_out(context, outbox, monkeypatch):
    provider_down(monkeypatch, outbox, retryable=False, opted_out=True)
    assert signup(context)["statusCode"] == 202  # the same answer as any signup
    assert states() == {"sms:marketing": "opted_out", "sms:newsletter": "opted_out"}
    from smsconsent import keys, store

    found = store.load_subject("demo", keys.subject_hashes("demo", PHONE))
    [event] = [e for e in store.evidence_of(found.pk) if e.type == "optout"]
    assert event.data["via"] == "provider_opt_out"


def test_the_dispatcher_marks_a_provider_opt_out_and_drops_the_message(context, outbox, queue, monkeypatch):
    signed_up_and_confirmed(context, outbox, purposes="marketing")
    provider_down(monkeypatch, outbox, retryable=False, opted_out=True)
    message = SmsMessage(to=PHONE, body="Demo Shop: reply", tenant="demo", kind="help")
    record = {"messageId": "m-1", "body": json.dumps(message.__dict__)}
    assert dispatch(context, [record, {"messageId": "m-2", "body": "not json"}]) == {"batchItemFailures": []}
    assert states()["sms:marketing"] == "opted_out"


def test_one_failing_record_is_retried_alone_and_the_others_are_sent_once(
    context, outbox, queue, monkeypatch
):
    from smsconsent import store

    # Given three queued SMS, the second to a number the provider says opted out, while
    # DynamoDB cannot record that opt-out
    signed_up_and_confirmed(context, outbox, purposes="marketing")
    sent_before = len(outbox.messages())
    send = outbox.send

    def provider(message: SmsMessage) -> str:
        if message.body == "second":
            raise SendError("opted out at the provider", retryable=False, opted_out=True)
        return send(message)

    monkeypatch.setattr(outbox, "send", provider)

    def unavailable(*_: Any, **__: Any) -> None:
        raise store.StoreUnavailable("throttled")

    monkeypatch.setattr(store, "commit", unavailable)
    records = [
        {
            "messageId": f"m-{body}",
            "body": json.dumps(SmsMessage(to=PHONE, body=body, tenant="demo", kind="help").__dict__),
        }
        for body in ("first", "second", "third")
    ]
    # When the dispatcher gets them in one batch
    answer = dispatch(context, records)
    # Then only the second comes back to SQS; the first and third went out once each
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m-second"}]}
    assert [m["body"] for m in outbox.messages()[sent_before:]] == ["first", "third"]


def test_a_failed_stop_reply_is_queued_and_the_opt_out_stands(context, outbox, queue, monkeypatch, clock):
    signed_up_and_confirmed(context, outbox, purposes="marketing")
    provider_down(monkeypatch, outbox)
    from functions.inbound.app import handler

    assert handler(load_event("inbound-sns-stop.json"), context) == {"handled": 1, "skipped": 0}
    assert states()["sms:marketing"] == "opted_out"
    [record] = queued(queue)
    assert json.loads(record["body"])["kind"] == "optout_confirmation"
    # a Twilio STOP answers in TwiML and needs no queue (the next day: one STOP
    # confirmation per number a day)
    clock.advance(days=1)
    assert "<Message>" in handler(twilio_event("STOP", sid="SM-q"), context)["body"]


@pytest.mark.parametrize(
    ("code", "reason", "retryable", "opted_out"),
    [
        ("ValidationException", "DESTINATION_PHONE_NUMBER_OPTED_OUT", False, True),
        ("ThrottlingException", "", True, False),
        ("InternalServerException", "", True, False),
        ("ValidationException", "INVALID_PARAMETER", False, False),
    ],
)
def test_end_user_messaging_answers_are_classified(code, reason, retryable, opted_out):
    from smsconsent.sender.aws import EndUserMessagingSender

    aws = EndUserMessagingSender()
    client = aws._sms()
    with Stubber(client) as stub:
        stub.add_client_error(
            "send_text_message",
            service_error_code=code,
            http_status_code=400,
            response_meta={},
            modeled_fields=({"Reason": reason} if reason else {}),
        )
        with pytest.raises(SendError) as raised:
            aws.send(SmsMessage(to=PHONE, body="x", tenant="demo", kind="confirmation"))
    assert (raised.value.retryable, raised.value.opted_out) == (retryable, opted_out)


def test_sns_opted_out_answer_is_classified():
    from smsconsent.sender.sns import SnsSender

    sns = SnsSender()
    sns._client = boto3.client("sns", region_name="eu-central-1")
    with Stubber(sns._client) as stub:
        stub.add_client_error("publish", service_error_code="OptedOutException", http_status_code=400)
        with pytest.raises(SendError) as raised:
            sns.send(SmsMessage(to=PHONE, body="x", tenant="demo", kind="confirmation"))
    assert raised.value.opted_out and not raised.value.retryable
