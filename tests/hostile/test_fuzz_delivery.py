"""Hostile events for the webhook delivery function: the FIFO queue (see
tests/hostile/support.py for what every answer must be)."""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fixtures.events import load_event
from tests.hostile.support import (
    SEEN,
    TRIED,
    assert_no_trace,
    fuzz,
    json_text,
    json_values,
    mangle,
    reached,
    sometimes,
)

pytestmark = pytest.mark.usefixtures("aws")

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
        mangle(draw, doc)
    if draw(sometimes(2)):
        mangle(draw, doc, delete=True)
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
            mangle(draw, record)
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
