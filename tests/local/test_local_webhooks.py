"""Consent events on the local stack: real signed deliveries from its worker within 2 s of
the change, retries on the local clock, one subscription's events of one subject in
order, slow receivers holding up only themselves, /_local/webhooks, the demo sink and
what a reset does to them. Every receiver listens on 127.0.0.1."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote

import boto3
import pytest

from local import template as tpl
from local.stack import EVENT_BUS_NAME, LocalStack
from local.streams import check_pattern, matches
from tests.fixtures.journeys import JSON_ACCEPT, PHONE, call, link_in, move_clock, outbox, signup
from tests.fixtures.receivers import Receiver

pytestmark = pytest.mark.usefixtures("fresh")

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
T = TypeVar("T")


# ---- helpers ----------------------------------------------------------------------------------


def subscribe(stack: LocalStack, url: str) -> str:
    answer = call(stack, "POST", "/v1/demo/webhooks", json_body={"url": url, "events": ["*"]})
    assert answer.status == 201, answer.text
    webhook_id: str = answer.json()["id"]
    return webhook_id


def wait_for(what: Callable[[], T], timeout: float = 2.0, message: str = "") -> tuple[T, float]:
    """``what()`` once it is truthy, and the seconds it took; fails after ``timeout``."""
    started = time.monotonic()
    while True:
        value = what()
        took = time.monotonic() - started
        if value:
            return value, took
        assert took < timeout, message or f"nothing within {timeout} s"
        time.sleep(0.02)


def attempts_of(stack: LocalStack, webhook_id: str) -> list[dict[str, Any]]:
    return [a for a in stack.deliveries.report()["attempts"] if a["webhook_id"] == webhook_id]


def sink(stack: LocalStack) -> list[dict[str, Any]]:
    answer = call(stack, "GET", "/_local/sink", headers=JSON_ACCEPT)
    assert answer.status == 200
    received: list[dict[str, Any]] = answer.json()["received"]
    return received


# ---- the demo sink ------------------------------------------------------------------------------


def test_a_signup_reaches_the_demo_sink_signed_within_two_seconds(stack: LocalStack) -> None:
    # Given the demo tenant's subscription to the sink, made at seed
    (subscription,) = call(stack, "GET", "/v1/demo/webhooks").json()["webhooks"]
    assert subscription["url"] == stack.url + "/_local/sink"
    assert (subscription["events"], subscription["description"]) == (["*"], "local demo sink")
    # When a number signs up over HTTP
    assert signup(stack).status == 202
    # Then within 2 s of the answer the sink has its consent.requested, verified with the
    # standardwebhooks library against the subscription's secret
    (got,), took = wait_for(stack.sink.received)
    assert took < 2.0
    assert got["verified"] is True
    event = got["event"]
    assert (event["type"], event["source"], event["data"]["phone"]) == (
        "consent.requested",
        "sms-consent/demo",
        PHONE,
    )
    assert got["headers"]["webhook-id"] == event["id"]
    assert sink(stack) == [got]
    # And /_local/webhooks shows the attempt that delivered it
    report = call(stack, "GET", "/_local/webhooks", headers=JSON_ACCEPT).json()
    (attempt,) = report["attempts"]
    assert attempt == {
        "webhook_id": subscription["id"],
        "url": stack.url + "/_local/sink",
        "event_id": event["id"],
        "type": "consent.requested",
        "attempt": 1,
        "status": "delivered",
        "http_status": 204,
        "error": None,
        "at": attempt["at"],
        "next_attempt_at": None,
    }
    assert (report["waiting"], report["dead"]) == (0, 0)


def test_the_sink_and_attempts_read_as_pages_and_the_demo_form_links_them(stack: LocalStack) -> None:
    assert signup(stack).status == 202
    wait_for(stack.sink.received)
    page = call(stack, "GET", "/_local/sink", headers={"Accept": BROWSER_ACCEPT})
    assert page.status == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "consent.requested" in page.text and "&quot;phone&quot;: &quot;+4915112345678&quot;" in page.text
    page = call(stack, "GET", "/_local/webhooks", headers={"Accept": BROWSER_ACCEPT})
    assert page.status == 200 and "delivered" in page.text and "/_local/sink" in page.text
    form = call(stack, "GET", "/", headers={"Accept": BROWSER_ACCEPT}).text
    assert 'href="/_local/sink"' in form and 'href="/_local/webhooks"' in form


def test_the_new_routes_keep_the_local_routes_rules(stack: LocalStack) -> None:
    # A page of another site can neither post to the sink nor read it through DNS rebinding
    form = call(stack, "POST", "/_local/sink", data=b"a=1", headers={"Content-Type": "text/plain"})
    assert form.status == 403
    rebound = call(stack, "GET", "/_local/webhooks", headers={"Host": "evil.example"})
    assert rebound.status == 421
    assert call(stack, "DELETE", "/_local/sink", headers={"X-Requested-With": "tests"}).status == 405
    # An unsigned post is kept, and shown as not verified
    assert call(stack, "POST", "/_local/sink", json_body={"type": "forged"}).status == 204
    (got,) = sink(stack)
    assert (got["verified"], got["event"]) == (False, {"type": "forged"})


# ---- retries on the local clock -----------------------------------------------------------------


def test_a_failed_delivery_is_retried_once_the_local_clock_passes_its_time(
    stack: LocalStack, make_receiver: Callable[[], Receiver]
) -> None:
    # Given a subscription made over HTTP to a receiver that answers 500
    receiver = make_receiver()
    receiver.answer = 500
    webhook_id = subscribe(stack, receiver.url)
    # When a number signs up; Then the failed attempt is shown with its next time
    assert signup(stack).status == 202
    (failed,), _ = wait_for(lambda: attempts_of(stack, webhook_id))
    assert (failed["status"], failed["http_status"], failed["attempt"]) == ("failed", 500, 1)
    assert failed["url"] == receiver.url and failed["next_attempt_at"] > failed["at"]
    report = call(stack, "GET", "/_local/webhooks", headers=JSON_ACCEPT).json()
    assert failed in report["attempts"] and report["waiting"] == 1
    # ... the same as the deliveries route says
    deliveries = call(stack, "GET", f"/v1/demo/webhooks/{webhook_id}/deliveries").json()["deliveries"]
    assert [(d["status"], d["next_attempt_at"]) for d in deliveries] == [
        ("failed", failed["next_attempt_at"])
    ]
    # ... and nothing is sent again before that time
    assert stack.settle(timeout=2) and len(receiver.got) == 1
    # When the receiver is fixed and the clock moved past that time
    receiver.answer = 200
    assert move_clock(stack, now=failed["next_attempt_at"]).status == 200
    move_clock(stack, advance_seconds=1)
    # Then it is delivered within 2 s, as attempt 2 of the same event
    _, took = wait_for(lambda: len(receiver.got) == 2)
    assert took < 2.0
    assert receiver.got[0].body == receiver.got[1].body
    second = wait_for(lambda: attempts_of(stack, webhook_id)[1:])[0][0]
    assert (second["attempt"], second["status"], second["http_status"]) == (2, "delivered", 200)
    assert stack.deliveries.report()["waiting"] == 0


def test_a_retry_for_a_deleted_subscription_is_dropped(
    stack: LocalStack, make_receiver: Callable[[], Receiver]
) -> None:
    receiver = make_receiver()
    receiver.answer = 503
    webhook_id = subscribe(stack, receiver.url)
    assert signup(stack).status == 202
    (failed,), _ = wait_for(lambda: attempts_of(stack, webhook_id))
    deleted = call(stack, "DELETE", f"/v1/demo/webhooks/{webhook_id}", headers={"X-Requested-With": "tests"})
    assert deleted.status == 204
    move_clock(stack, now=failed["next_attempt_at"])
    move_clock(stack, advance_seconds=1)
    (_, dropped), _ = wait_for(lambda: attempts_of(stack, webhook_id)[1:] and attempts_of(stack, webhook_id))
    assert (dropped["attempt"], dropped["status"], dropped["http_status"]) == (2, "dropped", None)
    assert stack.deliveries.report()["waiting"] == 0 and len(receiver.got) == 1


def test_an_attempt_that_raises_is_tried_again_a_second_later(
    stack: LocalStack, make_receiver: Callable[[], Receiver], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a subscription whose first attempt fails inside (the table, say)
    from smsconsent import delivery

    receiver = make_receiver()
    webhook_id = subscribe(stack, receiver.url)
    real, calls = delivery.attempt, []

    def flaky(job: Any, now: Any) -> Any:
        calls.append(job.webhook_id)
        if job.webhook_id == webhook_id and calls.count(webhook_id) == 1:
            raise RuntimeError("the table is away")
        return real(job, now)

    monkeypatch.setattr(delivery, "attempt", flaky)
    # When a number signs up; Then the failure is shown, and the next try delivers it
    assert signup(stack).status == 202
    (first, second), _ = wait_for(
        lambda: attempts_of(stack, webhook_id)[1:] and attempts_of(stack, webhook_id), 4
    )
    assert (first["status"], first["error"]) == ("failed", "the attempt raised RuntimeError")
    assert (second["status"], second["http_status"]) == ("delivered", 200)


def test_a_receiver_that_was_down_gets_one_subjects_events_in_seq_order(
    stack: LocalStack, make_receiver: Callable[[], Receiver]
) -> None:
    # Given a receiver that is down (500)
    receiver = make_receiver()
    receiver.answer = 500
    webhook_id = subscribe(stack, receiver.url)
    # When three changes of one subject happen: signup, confirmation, opt-out
    assert signup(stack).status == 202
    path = link_in(stack, outbox(stack)[-1])
    assert call(stack, "POST", path, headers=JSON_ACCEPT).json() == {"status": "confirmed"}
    optout = call(stack, "POST", f"/v1/demo/subjects/{quote(PHONE)}/optout", json_body={})
    assert optout.status == 200, optout.text
    assert stack.settle(timeout=5)
    # Then only the first was attempted; the other two wait behind it
    (failed,) = attempts_of(stack, webhook_id)
    assert failed["type"] == "consent.requested"
    # When it is up again and the clock moved on
    receiver.answer = 204
    move_clock(stack, now=failed["next_attempt_at"])
    move_clock(stack, advance_seconds=1)
    # Then it gets all three within 2 s, in seq order
    _, took = wait_for(lambda: len(receiver.got) == 4, timeout=3)
    assert took < 2.0
    events = receiver.events()[1:]
    assert [e["data"]["seq"] % 1000 for e in events] == [1, 2, 3]
    assert [e["type"] for e in events] == ["consent.requested", "consent.confirmed", "consent.opted_out"]
    assert len({e["subject"] for e in events}) == 1


def test_a_slow_receiver_does_not_hold_up_another_subscription(
    stack: LocalStack, make_receiver: Callable[[], Receiver]
) -> None:
    # Given a receiver that takes 10 s to answer, and another subscription
    released = threading.Event()

    def slowly(_: Any) -> int:
        released.wait(10)
        return 200

    slow, fast = make_receiver(), make_receiver()
    slow.answer = slowly
    subscribe(stack, slow.url)
    subscribe(stack, fast.url)
    try:
        # When a number signs up; Then the other subscription gets it within 2 s of the answer
        assert signup(stack).status == 202
        _, took = wait_for(lambda: fast.got)
        assert took < 2.0
        assert fast.events()[0]["type"] == "consent.requested"
        assert slow.got == []  # still answering
    finally:
        released.set()
    wait_for(lambda: slow.got)


# ---- reset ----------------------------------------------------------------------------------


def test_reset_clears_attempts_and_sink_and_subscribes_the_demo_sink_again(
    stack: LocalStack, make_receiver: Callable[[], Receiver]
) -> None:
    # Given a delivered event, and one waiting for a retry
    receiver = make_receiver()
    receiver.answer = 500
    webhook_id = subscribe(stack, receiver.url)
    (before,) = [
        w for w in call(stack, "GET", "/v1/demo/webhooks").json()["webhooks"] if w["id"] != webhook_id
    ]
    assert signup(stack).status == 202
    wait_for(stack.sink.received)
    (failed,), _ = wait_for(lambda: attempts_of(stack, webhook_id))
    # When the stack is reset
    assert call(stack, "POST", "/_local/reset", json_body={}).status == 200
    # Then attempts and sink are empty and the demo tenant has one new sink subscription
    assert call(stack, "GET", "/_local/webhooks", headers=JSON_ACCEPT).json() == {
        "attempts": [],
        "waiting": 0,
        "dead": 0,
    }
    assert sink(stack) == []
    (after,) = call(stack, "GET", "/v1/demo/webhooks").json()["webhooks"]
    assert after["url"] == before["url"] and after["id"] != before["id"]
    # And the retry from before the reset never goes out, even with the clock far on
    move_clock(stack, now=failed["next_attempt_at"])
    move_clock(stack, advance_seconds=3600)
    assert stack.settle(timeout=2)
    assert len(receiver.got) == 1
    # While a signup after it reaches the new subscription, verified with its secret
    assert signup(stack).status == 202
    (got,), _ = wait_for(stack.sink.received)
    assert got["verified"] is True


def test_settle_publishes_what_the_stream_holds(stack: LocalStack) -> None:
    # A look right after a change sees its deliveries: settle publishes and delivers.
    assert signup(stack).status == 202
    assert stack.settle(timeout=5)
    assert [r["event"]["type"] for r in stack.sink.received()] == ["consent.requested"]


# ---- the bus, and the stream's filter -------------------------------------------------------


def test_events_go_to_the_bus_in_the_embedded_moto(stack: LocalStack) -> None:
    # Given a rule copying the stack's bus into a queue, both in the stack's own moto
    moto = stack.dynamodb_endpoint
    assert moto.startswith("http://127.0.0.1:")
    sqs = boto3.client("sqs", endpoint_url=moto, region_name="eu-central-1")
    events = boto3.client("events", endpoint_url=moto, region_name="eu-central-1")
    queue_url = sqs.create_queue(QueueName="local-bus-copy")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    pattern = json.dumps({"source": ["sms-consent"]})
    events.put_rule(Name="copy", EventBusName=EVENT_BUS_NAME, EventPattern=pattern)
    events.put_targets(Rule="copy", EventBusName=EVENT_BUS_NAME, Targets=[{"Id": "q", "Arn": arn}])
    # When a number signs up; Then its event is on the bus, as in AWS
    assert signup(stack).status == 202
    assert stack.settle(timeout=5)
    (message,) = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1)["Messages"]
    envelope = json.loads(message["Body"])
    assert (envelope["detail-type"], envelope["detail"]["type"]) == ("consent.requested", "consent.requested")
    events.remove_targets(Rule="copy", EventBusName=EVENT_BUS_NAME, Ids=["q"])
    events.delete_rule(Name="copy", EventBusName=EVENT_BUS_NAME)
    sqs.delete_queue(QueueUrl=queue_url)


def test_stream_filters_match_as_lambdas_filter_criteria() -> None:
    sources = {s.function: s for s in tpl.stream_sources(tpl.load())}
    assert set(sources) == {"PublisherFunction", "TallyFunction"}  # the stream's two readers
    (pattern,) = sources["PublisherFunction"].filters
    assert sources["TallyFunction"].filters == (pattern,)  # insights count what is published

    def record(event: str, sk: str) -> dict[str, Any]:
        return {"eventName": event, "dynamodb": {"Keys": {"pk": {"S": "SUBJ#demo#x"}, "sk": {"S": sk}}}}

    assert matches(pattern, record("INSERT", "EV#00000001"))
    assert matches(pattern, record("INSERT", "OUT#1"))
    assert not matches(pattern, record("MODIFY", "EV#00000001"))
    assert not matches(pattern, record("INSERT", "SUBJECT"))
    assert not matches(pattern, {"eventName": "INSERT"})
    assert matches({"a": [{"exists": False}]}, {}) and not matches({"a": [{"exists": False}]}, {"a": 1})
    with pytest.raises(ValueError, match="unsupported"):
        check_pattern({"a": [{"anything-but": ["x"]}]})
