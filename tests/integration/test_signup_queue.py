"""Signups through SignupQueue (moto SQS): the answer takes the same time for a new and
an active number, the queued request is processed by the same function, and a
redelivered message never sends a second SMS whose link voids the first."""

from __future__ import annotations

import gc
import json
import math
import random
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.fixtures.aws import queue_in_env
from tests.fixtures.events import load_event
from tests.fixtures.logs import function_logs

pytestmark = pytest.mark.usefixtures("aws")

PHONE = "+4915112345678"


@pytest.fixture
def queue(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    yield from queue_in_env(monkeypatch, "signup-queue", "SIGNUP_QUEUE_URL")


def signup(context: Any, phone: str = PHONE, ip: str = "203.0.113.10") -> dict[str, Any]:
    from functions.signup.app import handler

    event = load_event("signup-json.json")
    event["body"] = json.dumps({"phone": phone, "consent": True, "age_confirmed": True})
    event["requestContext"]["http"]["sourceIp"] = ip
    return handler(event, context)


def receive(url: str) -> list[dict[str, Any]]:
    """Every message waiting, as the SQS event source would hand them to the function."""
    sqs = boto3.client("sqs")
    records = []
    while True:
        answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)
        messages = answer.get("Messages", [])
        if not messages:
            return records
        for message in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            records.append(
                {
                    "messageId": message["MessageId"],
                    "receiptHandle": message["ReceiptHandle"],
                    "body": message["Body"],
                    "eventSource": "aws:sqs",
                    "eventSourceARN": "arn:aws:sqs:eu-central-1:123456789012:signup-queue",
                }
            )


def deliver(context: Any, records: list[dict[str, Any]]) -> list[str]:
    """Hand records to the signup function; returns the ids it wants again."""
    from functions.signup.app import handler

    answer = handler({"Records": records}, context)
    return [failure["itemIdentifier"] for failure in answer["batchItemFailures"]]


def link(message: dict[str, Any]) -> str:
    return str(message["body"].split("/c/")[1].split()[0])


def generous_budgets(clock: Any) -> None:
    """Budgets no timing run reaches (they count every signup alike; not under test here)."""
    from smsconsent import store, tenants

    doc = json.loads(Path("local/tenants/demo.json").read_text())
    doc["rate_limits"].update(
        signups_per_ip_per_hour=10**6, sms_per_number_per_day=100, sms_per_prefix_per_hour=10**6
    )
    store.put_tenant_doc(doc, clock.now)
    tenants.clear_cache()


def rank_z(a: list[float], b: list[float]) -> float:
    """Mann-Whitney U of ``a`` against ``b`` as a normal z score (ties get mid ranks)."""
    pooled = sorted([(x, 0) for x in a] + [(x, 1) for x in b])
    ranks = [0.0] * len(pooled)
    i = 0
    while i < len(pooled):
        j = i
        while j + 1 < len(pooled) and pooled[j + 1][0] == pooled[i][0]:
            j += 1
        for k in range(i, j + 1):
            ranks[k] = (i + j) / 2 + 1
        i = j + 1
    r_a = sum(r for r, (_, group) in zip(ranks, pooled, strict=True) if group == 0)
    n1, n2 = len(a), len(b)
    u = r_a - n1 * (n1 + 1) / 2
    return (u - n1 * n2 / 2) / math.sqrt(n1 * n2 * (n1 + n2 + 1) / 12)


ACTIVE = [f"+49171{i:08d}" for i in range(60)]
NEW = [f"+49170{i:08d}" for i in range(60)]


def timed(context: Any) -> tuple[list[float], list[float]]:
    """Answer times (ms) of signups for never-seen numbers and for active ones, one each per
    round in a shuffled order, so drift and noise fall on both alike."""
    rng = random.Random(11)
    new, active = [], []
    for i in range(3):  # warm-up: first calls make clients and fill caches
        signup(context, f"+4916{i:09d}")
    gc.collect()
    gc.disable()
    try:
        for pair in zip(NEW, ACTIVE, strict=True):
            order = [("new", pair[0]), ("active", pair[1])]
            rng.shuffle(order)
            for kind, phone in order:
                started = time.perf_counter()
                assert signup(context, phone)["statusCode"] == 202
                (new if kind == "new" else active).append((time.perf_counter() - started) * 1000)
    finally:
        gc.enable()
    return new, active


def make_active(context: Any, outbox: Any, clock: Any, url: str | None) -> None:
    """ACTIVE all confirmed, then a day later (so every number's own counters start anew:
    both kinds are a first signup of the day, as an attacker's first probe would be)."""
    from smsconsent import confirmation

    generous_budgets(clock)
    for phone in ACTIVE:
        assert signup(context, phone)["statusCode"] == 202
    if url:
        assert deliver(context, receive(url)) == []
    for message in outbox.messages():
        assert confirmation.confirm(link(message), "198.51.100.1", "ua").status == "confirmed"
    assert len(outbox.messages()) == len(ACTIVE)
    outbox.clear()
    clock.advance(days=1)


@pytest.mark.slow
@pytest.mark.perf
def test_new_and_active_numbers_take_the_same_time_through_the_queue(context, outbox, clock, queue):
    make_active(context, outbox, clock, queue)
    new, active = timed(context)
    z = rank_z(new, active)
    medians = statistics.median(new), statistics.median(active)
    print(f"queued: median new {medians[0]:.2f} ms, active {medians[1]:.2f} ms, z={z:.2f}")
    assert abs(z) < 3.3  # two-sided p > 0.001: no difference found
    assert max(medians) <= 1.15 * min(medians)
    # and every queued signup is done by the worker: one SMS per new number, none for ACTIVE
    assert deliver(context, receive(queue)) == []
    sent = [m["to"] for m in outbox.messages()]
    assert sorted(sent) == sorted([*NEW, *(f"+4916{i:09d}" for i in range(3))])


@pytest.mark.slow
@pytest.mark.perf
def test_without_the_queue_the_answer_times_differ(context, outbox, clock):
    # The same measurement of the inline path (the design before the queue) finds the
    # difference, so the test above has the power to find one.
    make_active(context, outbox, clock, None)
    new, active = timed(context)
    z = rank_z(new, active)
    print(f"inline: median new {statistics.median(new):.2f} ms, active {statistics.median(active):.2f} ms")
    assert z > 3.3
    assert statistics.median(new) > 1.15 * statistics.median(active)


def test_a_queued_signup_is_answered_at_once_and_processed_by_the_worker(context, outbox, queue):
    from smsconsent import confirmation, keys, store

    answer = signup(context)
    assert answer["statusCode"] == 202 and json.loads(answer["body"])["status"] == "pending"
    assert outbox.messages() == []  # nothing decided, nothing sent on the request path
    assert store.load_subject("demo", keys.subject_hashes("demo", PHONE)) is None
    records = receive(queue)
    assert len(records) == 1 and PHONE in records[0]["body"]
    assert deliver(context, records) == []
    [message] = outbox.messages()
    assert confirmation.confirm(link(message), "198.51.100.1", "ua").status == "confirmed"


def test_a_redelivered_signup_sends_no_second_sms(context, outbox, queue):
    from smsconsent import confirmation, keys, store

    signup(context)
    records = receive(queue)
    assert deliver(context, records) == []
    # SQS delivers the same message again (at-least-once)
    assert deliver(context, records) == []
    assert deliver(context, records + records) == []
    [message] = outbox.messages()
    subject = store.load_subject("demo", keys.subject_hashes("demo", PHONE))
    assert [e.type for e in store.evidence_of(subject.pk)] == ["optin_requested"]
    assert confirmation.confirm(link(message), "198.51.100.1", "ua").status == "confirmed"
    # a redelivery after the confirmation changes nothing either
    assert deliver(context, records) == []
    assert len(outbox.messages()) == 1
    assert [e.type for e in store.evidence_of(subject.pk)] == ["optin_requested", "optin_confirmed"]


def test_a_signup_whose_sms_failed_is_retried_with_the_same_link(context, outbox, queue, monkeypatch):
    from smsconsent import confirmation
    from smsconsent.sender import SendError

    signup(context)
    records = receive(queue)

    def refuse(message: Any) -> str:
        raise SendError("provider down")

    with monkeypatch.context() as patch:
        patch.setattr(outbox, "send", refuse)
        assert deliver(context, records) == [records[0]["messageId"]]  # back to SQS
    assert outbox.messages() == []
    assert deliver(context, records) == []
    assert deliver(context, records) == []
    [message] = outbox.messages()
    assert confirmation.confirm(link(message), "198.51.100.1", "ua").status == "confirmed"


def test_an_sms_sent_but_not_recorded_is_sent_again_with_the_same_link(context, outbox, queue, monkeypatch):
    # Given a delivery that sent the SMS but could record neither its sending nor the
    # resend cooldown (DynamoDB failing right then), and SQS delivering it again
    from smsconsent import confirmation, store

    signup(context)
    records = receive(queue)

    def unavailable(*args: Any, **kwargs: Any) -> None:
        raise store.StoreUnavailable("throttled")

    with monkeypatch.context() as patch:
        patch.setattr(store, "mark_sms_sent", unavailable)
        patch.setattr(store, "set_last_sms", unavailable)
        assert deliver(context, records) == []
    assert deliver(context, records) == []
    # Then the second SMS carries the same link: nothing the person got stops working
    first, second = outbox.messages()
    assert link(first) == link(second)
    assert confirmation.confirm(link(first), "198.51.100.1", "ua").status == "confirmed"


def test_an_sms_whose_mark_was_lost_is_not_sent_again(context, outbox, queue, monkeypatch):
    from smsconsent import store

    signup(context)
    records = receive(queue)

    def unavailable(*args: Any, **kwargs: Any) -> None:
        raise store.StoreUnavailable("throttled")

    with monkeypatch.context() as patch:
        patch.setattr(store, "mark_sms_sent", unavailable)
        assert deliver(context, records) == []
    assert deliver(context, records) == []
    assert len(outbox.messages()) == 1  # the resend cooldown says it went out


def test_a_signup_the_queue_cannot_take_is_503(context, outbox, queue, monkeypatch):
    from botocore.exceptions import ClientError

    from smsconsent import sender

    class Broken:
        def send_message(self, **kwargs: Any) -> None:
            raise ClientError({"Error": {"Code": "KMS.KMSThrottlingException"}}, "SendMessage")

    monkeypatch.setattr(sender, "queue_client", lambda: Broken())
    answer = signup(context)
    assert answer["statusCode"] == 503
    assert json.loads(answer["body"])["error"]["code"] == "service_unavailable"
    assert answer["headers"]["Retry-After"]


def test_malformed_or_stale_queue_messages_are_dropped(context, outbox, queue, clock):
    from smsconsent import keys, store

    bad = {"messageId": "m-1", "body": "{not json", "eventSource": "aws:sqs"}
    assert deliver(context, [bad]) == []
    signup(context)
    records = receive(queue)
    clock.advance(hours=48)  # the link would have expired already
    with function_logs() as stream:
        assert deliver(context, records) == []
    # The drop is logged without the number or the request (its id yields the token)
    logs = stream.getvalue()
    assert "queued signup older than the token lifetime; dropped" in logs
    request_id = json.loads(records[0]["body"])["id"]
    for secret in ("4915112345678", "15112345678", request_id):
        assert secret not in logs
    assert outbox.messages() == []
    assert store.load_subject("demo", keys.subject_hashes("demo", PHONE)) is None
