"""DynamoDB throttling and 5xx injected at the botocore layer: bounded retries, then a
clean 503 with Retry-After, nothing half-written; a transient fault is retried through."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from moto.core.botocore_stubber import BotocoreStubber, MockRawResponse

from tests.fixtures.aws import queue_in_env
from tests.fixtures.events import load_event
from tests.fixtures.journeys import PHONE, signed_up_and_confirmed, twilio_event

pytestmark = pytest.mark.usefixtures("aws")

THROTTLED = (400, "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException")
SERVER_ERROR = (500, "com.amazonaws.dynamodb.v20120810#InternalServerError")


@dataclass
class Faults:
    """Answer chosen DynamoDB operations with an error, ``times`` times (None: always)."""

    operations: set[str] = field(default_factory=set)
    error: tuple[int, str] = THROTTLED
    times: int | None = None
    attempts: dict[str, int] = field(default_factory=dict)
    sleeps: list[float] = field(default_factory=list)

    def inject(self, *operations: str, error: tuple[int, str] = THROTTLED, times: int | None = None) -> None:
        self.operations, self.error, self.times = set(operations), error, times
        self.attempts.clear()

    def clear(self) -> None:
        self.operations = set()


@pytest.fixture
def faults(monkeypatch: pytest.MonkeyPatch) -> Iterator[Faults]:
    state = Faults()
    real = BotocoreStubber.__call__

    def answer(self: BotocoreStubber, event_name: str, request: Any, **kwargs: Any) -> Any:
        target = (request.headers.get("X-Amz-Target") or b"").decode() if request.headers else ""
        operation = target.rsplit(".", 1)[-1]
        if operation in state.operations:
            state.attempts[operation] = state.attempts.get(operation, 0) + 1
            if state.times is None or state.attempts[operation] <= state.times:
                status, kind = state.error
                body = json.dumps({"__type": kind, "message": "injected fault"})
                return AWSResponse(request.url, status, {"x-amzn-requestid": "fault"}, MockRawResponse(body))
        return real(self, event_name, request, **kwargs)

    monkeypatch.setattr(BotocoreStubber, "__call__", answer)
    # botocore backs off between attempts: record the delays instead of waiting them out
    monkeypatch.setattr("botocore.endpoint.time.sleep", state.sleeps.append)
    yield state


def signup(context: Any) -> dict[str, Any]:
    from functions.signup.app import handler

    event = load_event("signup-json.json")
    event["body"] = json.dumps({"phone": PHONE, "consent": True, "age_confirmed": True})
    return handler(event, context)


def subject() -> Any:
    from smsconsent import keys, store

    return store.load_subject("demo", keys.subject_hashes("demo", PHONE))


@pytest.mark.parametrize("error", [THROTTLED, SERVER_ERROR], ids=["throttled", "5xx"])
def test_a_failing_write_gives_503_after_bounded_retries_and_writes_nothing(context, outbox, faults, error):
    faults.inject("TransactWriteItems", error=error)
    answer = signup(context)
    assert answer["statusCode"] == 503
    assert json.loads(answer["body"])["error"]["code"] == "service_unavailable"
    assert int(answer["headers"]["Retry-After"]) > 0
    assert faults.attempts["TransactWriteItems"] == 4  # one call and three retries, no more
    assert "Traceback" not in answer["body"]
    faults.clear()
    assert subject() is None and outbox.messages() == []  # nothing half-written, no SMS


def test_a_failing_read_gives_503(context, outbox, faults):
    faults.inject("GetItem", error=SERVER_ERROR)
    answer = signup(context)
    assert answer["statusCode"] == 503 and faults.attempts["GetItem"] == 4


def test_a_transient_throttle_is_retried_through(context, outbox, faults):
    faults.inject("TransactWriteItems", times=2)
    assert signup(context)["statusCode"] == 202
    assert len(outbox.messages()) == 1
    assert faults.attempts["TransactWriteItems"] == 3 and len(faults.sleeps) >= 2


def test_once_the_sms_is_out_a_failing_bookkeeping_write_still_answers_202(
    context, outbox, faults, monkeypatch
):
    # Given DynamoDB refusing the writes that follow the SMS (marking it sent, the cooldown)
    send = outbox.send

    def send_then_throttle(message: Any) -> str:
        sent: str = send(message)
        faults.inject("UpdateItem", "PutItem")
        return sent

    monkeypatch.setattr(outbox, "send", send_then_throttle)
    # When a person signs up
    answer = signup(context)
    # Then the answer is the normal 202: a 503 would make the caller retry and send a
    # second SMS whose new link voids the first
    assert answer["statusCode"] == 202
    faults.clear()
    [sms] = outbox.messages()
    from smsconsent import confirmation

    token = sms["body"].split("/c/")[1].split()[0]
    assert confirmation.confirm(token, "198.51.100.1", "ua").status == "confirmed"


def test_a_confirmation_during_throttling_is_refused_whole_and_works_after(context, outbox, faults):
    assert signup(context)["statusCode"] == 202
    token = outbox.messages()[0]["body"].split("/c/")[1].split()[0]
    from functions.confirm.app import handler

    event = load_event("confirm-post.json", rawPath=f"/c/{token}", pathParameters={"token": token})
    event["headers"]["accept"] = "application/json"
    faults.inject("TransactWriteItems")
    assert handler(event, context)["statusCode"] == 503
    faults.clear()
    assert subject().consents["sms:marketing"]["state"] == "pending"
    assert json.loads(handler(event, context)["body"]) == {"status": "confirmed"}


def test_a_person_confirming_during_throttling_gets_a_page_not_json(context, outbox, faults):
    """The link pages answer people in HTML (SPEC: confirmation outcomes, refused form
    posts): a store outage too, with its 503 and Retry-After, and the way back to the link."""
    assert signup(context)["statusCode"] == 202
    token = outbox.messages()[0]["body"].split("/c/")[1].split()[0]
    from functions.confirm.app import handler

    event = load_event("confirm-post.json", rawPath=f"/c/{token}", pathParameters={"token": token})
    faults.inject("TransactWriteItems")
    answer = handler(event, context)
    assert answer["statusCode"] == 503 and answer["headers"]["Retry-After"]
    assert answer["headers"]["Content-Type"].startswith("text/html")
    assert 'data-code="service_unavailable"' in answer["body"] and '<html lang="de">' in answer["body"]
    assert 'href="?"' in answer["body"] and token not in answer["body"]  # back to the link
    faults.clear()
    assert subject().consents["sms:marketing"]["state"] == "pending"


@pytest.mark.parametrize("page", ["confirm", "optout"])
def test_a_person_opening_a_link_during_an_outage_gets_a_page_not_json(context, outbox, faults, page):
    signed_up_and_confirmed(context, outbox, purposes="marketing")
    from functions.confirm.app import handler

    path = "/c/Zm9vYmFyYmF6cXV4MDEyMzQ1" if page == "confirm" else f"/o/{subject().optout_code}"
    params = {"token": path[3:]} if page == "confirm" else {"code": path[3:]}
    event = load_event("confirm-get.json", rawPath=path, pathParameters=params)
    event["requestContext"]["http"]["path"] = path
    faults.inject("GetItem", "Query", "BatchGetItem", error=SERVER_ERROR)
    answer = handler(event, context)
    assert answer["statusCode"] == 503
    assert answer["headers"]["Content-Type"].startswith("text/html")
    assert 'data-code="service_unavailable"' in answer["body"]
    # A JSON client still gets JSON
    event["headers"]["accept"] = "application/json"
    answer = handler(event, context)
    assert answer["statusCode"] == 503 and answer["headers"]["Content-Type"] == "application/json"
    assert json.loads(answer["body"])["error"]["code"] == "service_unavailable"


def test_a_stop_during_throttling_gets_503_so_the_provider_retries_and_it_applies_once(
    context, outbox, faults
):
    signed_up_and_confirmed(context, outbox, purposes="marketing")
    from functions.inbound.app import handler

    faults.inject("TransactWriteItems")
    assert handler(twilio_event("STOP", sid="SM-retry"), context)["statusCode"] == 503
    faults.clear()
    assert subject().consents["sms:marketing"]["state"] == "active"
    assert handler(twilio_event("STOP", sid="SM-retry"), context)["statusCode"] == 200
    assert handler(twilio_event("STOP", sid="SM-retry"), context)["statusCode"] == 200
    from smsconsent import store

    assert [e.type for e in store.evidence_of(subject().pk)].count("optout") == 1


def test_the_pre_send_check_answers_503_not_a_partial_answer(context, outbox, faults):
    signed_up_and_confirmed(context, outbox, purposes="marketing")
    from functions.presend.app import handler

    faults.inject("BatchGetItem", error=SERVER_ERROR)
    answer = handler(load_event("presend-http.json"), context)
    assert answer["statusCode"] == 503 and answer["headers"]["Retry-After"]
    assert "results" not in json.loads(answer["body"])


@pytest.fixture
def signup_queue(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    yield from queue_in_env(monkeypatch, "signup-queue", "SIGNUP_QUEUE_URL")


@pytest.fixture
def inbound_queue(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    yield from queue_in_env(monkeypatch, "inbound-retry", "INBOUND_QUEUE_URL")


def test_a_stop_during_throttling_is_queued_answered_200_and_applied_from_the_queue(
    context, outbox, faults, inbound_queue
):
    import boto3

    from functions.inbound.app import handler
    from smsconsent import store

    # Given a confirmed number, an inbound queue, and DynamoDB refusing every transaction
    signed_up_and_confirmed(context, outbox, purposes="marketing")
    faults.inject("TransactWriteItems")
    # When a STOP arrives through Twilio (which does not retry a 503 by default)
    answer = handler(twilio_event("STOP", sid="SM-queued"), context)
    # Then Twilio gets a 200 (no reply in it) and the message waits in the queue
    assert answer["statusCode"] == 200 and "<Message>" not in answer["body"]
    sqs = boto3.client("sqs")
    received = sqs.receive_message(QueueUrl=inbound_queue, MaxNumberOfMessages=10, VisibilityTimeout=0)
    [queued] = [
        {"messageId": m["MessageId"], "body": m["Body"], "eventSource": "aws:sqs"}
        for m in received["Messages"]
    ]
    # When the queue delivers it while DynamoDB still refuses, Then SQS keeps it
    assert handler({"Records": [queued]}, context) == {
        "batchItemFailures": [{"itemIdentifier": queued["messageId"]}]
    }
    assert subject().consents["sms:marketing"]["state"] == "active"
    # When DynamoDB is back, Then it applies once, and the reply goes out through the sender
    faults.clear()
    sent_before = len(outbox.messages())
    assert handler({"Records": [queued]}, context) == {"batchItemFailures": []}
    assert subject().consents["sms:marketing"]["state"] == "opted_out"
    assert [m["kind"] for m in outbox.messages()[sent_before:]] == ["optout_confirmation"]
    # And a late retry of the webhook by the provider changes nothing more
    assert handler(twilio_event("STOP", sid="SM-queued"), context)["statusCode"] == 200
    assert [e.type for e in store.evidence_of(subject().pk)].count("optout") == 1


def test_an_erasure_cut_short_midway_is_finished_by_the_retry_and_leaves_nothing_personal(
    context, outbox, faults, monkeypatch
):
    from pynamodb.transactions import TransactWrite

    from smsconsent import clock, evidence, store

    # Given a confirmed number with 150 evidence events carrying personal data (two
    # transactions of evidence to erase)
    signed_up_and_confirmed(context, outbox, purposes="marketing")
    for _ in range(5):
        found = subject()
        events = [
            evidence.append(found, "note", clock.now(), {"n": i}, pii={"ip": "198.51.100.9"})
            for i in range(30)
        ]
        store.commit(store.Change(found, events), clock.now())
    assert len(store.evidence_of(subject().pk)) > 150

    # When DynamoDB fails every transaction after the first
    class FirstThenThrottled(TransactWrite):
        def __exit__(self, *exc: Any) -> None:
            super().__exit__(*exc)
            faults.inject("TransactWriteItems")

    monkeypatch.setattr(store.subjects, "TransactWrite", FirstThenThrottled)
    from functions.privacy.app import handler

    answer = handler(load_event("privacy-erase.json"), context)
    assert answer["statusCode"] == 503
    # Then the subject is still there to be found (only evidence went), and the caller's
    # retry finishes: nothing of the number is left, reachable or not
    faults.clear()
    monkeypatch.setattr(store.subjects, "TransactWrite", TransactWrite)
    pk = subject().pk
    again = handler(load_event("privacy-erase.json"), context)
    assert json.loads(again["body"]) == {
        "erased": True,
        "held": True,
        "suppression_kept": False,
        "outcome": "deleted",
        "summary": "Everything held on this number was deleted; nothing of it is kept.",
        "kept": [],
    }
    assert subject() is None and store.evidence_of(pk) == []


def _the_one_queued(url: str) -> dict[str, Any]:
    """The one message waiting in the queue, as the SQS event source hands it over."""
    import boto3

    [message] = boto3.client("sqs").receive_message(QueueUrl=url, VisibilityTimeout=0)["Messages"]
    return {"messageId": message["MessageId"], "body": message["Body"], "eventSource": "aws:sqs"}


def _kept(record: dict[str, Any]) -> dict[str, Any]:
    """The partial batch answer that gives ``record`` back to SQS."""
    return {"batchItemFailures": [{"itemIdentifier": record["messageId"]}]}


def _break_and_mend_demo(clock: Any) -> tuple[Any, Any]:
    """Two steps: store the demo tenant with a misspelt key (a TenantError on load), and
    store it as it was."""
    from smsconsent import store, tenants

    good = json.loads(Path("local/tenants/demo.json").read_text())

    def put(doc: dict[str, Any]) -> None:
        store.TenantItem(
            "TENANT#demo", "CONFIG", doc=json.dumps(doc), updated_at=clock.now.isoformat()
        ).save()
        tenants.clear_cache()

    return (lambda: put({**good, "quiet_hour": {"start": "21:00", "end": "08:00"}})), (lambda: put(good))


def test_a_queued_stop_for_a_tenant_misconfigured_for_now_is_retried_not_dropped(
    context, outbox, faults, inbound_queue, clock
):

    from functions.inbound.app import handler

    # Given a STOP queued during throttling
    signed_up_and_confirmed(context, outbox, purposes="marketing")
    faults.inject("TransactWriteItems")
    assert handler(twilio_event("STOP", sid="SM-misconf"), context)["statusCode"] == 200
    faults.clear()
    queued = _the_one_queued(inbound_queue)
    # When the queue delivers it while the tenant's stored settings fail validation
    break_demo, mend_demo = _break_and_mend_demo(clock)
    break_demo()
    # Then SQS keeps it (a STOP is never dropped as "malformed") and nothing changed yet
    assert handler({"Records": [queued]}, context) == _kept(queued)
    assert subject().consents["sms:marketing"]["state"] == "active"
    # When the settings are mended, Then the redelivery applies it
    mend_demo()
    assert handler({"Records": [queued]}, context) == {"batchItemFailures": []}
    assert subject().consents["sms:marketing"]["state"] == "opted_out"


def test_a_queued_signup_for_a_tenant_misconfigured_for_now_is_retried_not_dropped(
    context, outbox, signup_queue, clock
):

    from functions.signup.app import handler

    # Given a signup waiting in SignupQueue
    url = signup_queue
    event = load_event("signup-json.json")
    assert handler(event, context)["statusCode"] == 202
    queued = _the_one_queued(url)
    # When it is delivered while the tenant's stored settings fail validation
    break_demo, mend_demo = _break_and_mend_demo(clock)
    break_demo()
    # Then SQS keeps it, and no SMS went out
    assert handler({"Records": [queued]}, context) == _kept(queued)
    assert outbox.messages() == []
    # When the settings are mended, Then the redelivery sends its confirmation SMS
    mend_demo()
    assert handler({"Records": [queued]}, context) == {"batchItemFailures": []}
    assert [m["kind"] for m in outbox.messages()] == ["confirmation"]
