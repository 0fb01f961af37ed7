"""Webhook subscriptions and deliveries: the routes on their events/, deliveries through the
FIFO queue (moto) by the delivery handler to loopback receivers, signatures checked with
the standardwebhooks library, retries with backoff past a receiver's outage, in seq order,
the dead-letter queue after 24 hours, and the SSRF guard at delivery time."""

from __future__ import annotations

import json
import socket
import time
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.fixtures.journeys import PHONE, sign_up, stop

OTHER = "+4915112345679"


def _verify(secret: str, got: Any) -> dict[str, Any]:
    return dict(Webhook(secret).verify(got.body, got.headers))


# ---- the routes ------------------------------------------------------------------------


def test_a_subscription_is_made_listed_without_its_secret_and_deleted(
    webhooks: Any, make_receiver: Any
) -> None:
    receiver = make_receiver()
    made = webhooks.subscribe(receiver.url, ["consent.opted_out"])
    assert made["id"].startswith("wh_")
    assert made["secret"].startswith("whsec_") and len(made["secret"]) >= len("whsec_") + 32
    assert made["events"] == ["consent.opted_out"] and made["url"] == receiver.url
    listed = json.loads(webhooks.call("webhooks-list.json")["body"])["webhooks"]
    assert [w["id"] for w in listed] == [made["id"]]
    assert "secret" not in json.dumps(listed) and made["secret"] not in json.dumps(listed)
    path = {"tenant": "demo", "id": made["id"]}
    deliveries = webhooks.call("webhooks-deliveries.json", pathParameters=path)
    assert deliveries["statusCode"] == 200 and json.loads(deliveries["body"]) == {"deliveries": []}
    assert webhooks.call("webhooks-delete.json", pathParameters=path)["statusCode"] == 204
    again = webhooks.call("webhooks-delete.json", pathParameters=path)
    assert again["statusCode"] == 404 and json.loads(again["body"])["error"]["code"] == "unknown_webhook"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "http://crm.example.com/hooks"}, "url"),  # http to a non-loopback host
        ({"url": "https://10.0.0.8/hooks"}, "url"),
        ({"url": "https://169.254.169.254/latest/meta-data"}, "url"),
        ({"url": "https://[fd00:ec2::254]/"}, "url"),
        ({"url": "https://user:pw@crm.example.com/"}, "url"),
        ({"url": "ftp://crm.example.com/"}, "url"),
        ({}, "url"),
        ({"url": "https://93.184.215.14/", "events": ["consent.everything"]}, "events"),
        ({"url": "https://93.184.215.14/", "events": "consent.opted_out"}, "events"),
        ({"url": "https://93.184.215.14/", "secret": "mine"}, "secret"),
        ({"url": "https://93.184.215.14/", "description": "x" * 201}, "description"),
    ],
)
def test_a_refused_subscription_names_its_field_and_stores_nothing(
    webhooks: Any, body: dict[str, Any], field: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LOCAL_WEBHOOKS")
    from tests.fixtures.aws import rebind

    rebind()
    answer = webhooks.call("webhooks-create.json", body=json.dumps(body))
    assert answer["statusCode"] == 422, answer["body"]
    error = json.loads(answer["body"])["error"]
    assert error["code"] == "invalid_field" and error["field"] == field
    assert json.loads(webhooks.call("webhooks-list.json")["body"]) == {"webhooks": []}


def test_a_dns_name_resolving_to_a_private_address_is_refused(
    webhooks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from smsconsent.webhooks import address

    monkeypatch.setattr(address, "resolve", lambda host, port: ["10.1.2.3"])
    answer = webhooks.call("webhooks-create.json", body=json.dumps({"url": "https://crm.example.com/hooks"}))
    assert answer["statusCode"] == 422 and json.loads(answer["body"])["error"]["field"] == "url"


def test_tenants_see_and_delete_only_their_own_subscriptions(webhooks: Any, make_receiver: Any) -> None:
    made = webhooks.subscribe(make_receiver().url)
    other = {"tenant": "other", "id": made["id"]}
    from smsconsent import store
    from tests.fixtures.tenants import demo_tenant_doc

    doc = demo_tenant_doc()
    doc.update(id="other", inbound_numbers=[])
    from smsconsent import clock

    store.put_tenant_doc(doc, clock.now())
    listed = webhooks.call("webhooks-list.json", pathParameters={"tenant": "other"})
    assert json.loads(listed["body"]) == {"webhooks": []}
    assert webhooks.call("webhooks-delete.json", pathParameters=other)["statusCode"] == 404
    assert webhooks.call("webhooks-deliveries.json", pathParameters=other)["statusCode"] == 404
    assert len(json.loads(webhooks.call("webhooks-list.json")["body"])["webhooks"]) == 1


# ---- deliveries ------------------------------------------------------------------------------


def test_each_change_is_delivered_signed_and_verifies_with_standardwebhooks(
    webhooks: Any, make_receiver: Any, context: Any, outbox: Any, clock: Any
) -> None:
    # Given a CRM subscribed to everything
    receiver = make_receiver()
    made = webhooks.subscribe(receiver.url)
    # When a person signs up, confirms and texts STOP
    sign_up(context, outbox, confirm=True)
    stop()
    webhooks.run(clock)
    # Then the CRM got one delivery per change, each verifying with the library
    payloads = [_verify(made["secret"], got) for got in receiver.got]
    assert [p["type"] for p in payloads] == ["consent.requested", "consent.confirmed", "consent.opted_out"]
    assert [p["data"]["seq"] % 1000 for p in payloads] == [1, 2, 3]
    for got, payload in zip(receiver.got, payloads, strict=True):
        assert got.headers["webhook-id"] == payload["id"]
        assert got.headers["content-type"] == "application/json"
        assert payload["data"]["phone"] == PHONE
    # And the bus got the same events, with the same ids
    assert [e["id"] for e in webhooks.published.received()] == [p["id"] for p in payloads]
    # And the deliveries route lists the attempts, newest first
    path = {"tenant": "demo", "id": made["id"]}
    listed = json.loads(webhooks.call("webhooks-deliveries.json", pathParameters=path)["body"])["deliveries"]
    assert {d["event_id"] for d in listed} == {p["id"] for p in payloads}
    assert {d["status"] for d in listed} == {"delivered"}


def test_a_subscription_gets_only_the_types_it_asked_for(
    webhooks: Any, make_receiver: Any, context: Any, outbox: Any, clock: Any
) -> None:
    receiver = make_receiver()
    webhooks.subscribe(receiver.url, ["consent.opted_out"])
    sign_up(context, outbox, confirm=True)
    stop()
    webhooks.run(clock)
    assert [e["type"] for e in receiver.events()] == ["consent.opted_out"]


def test_a_forged_or_replayed_delivery_fails_verification(
    webhooks: Any, make_receiver: Any, context: Any, outbox: Any, clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    receiver = make_receiver()
    made = webhooks.subscribe(receiver.url)
    sign_up(context, outbox)
    webhooks.run(clock)
    got = receiver.got[0]
    assert _verify(made["secret"], got)["type"] == "consent.requested"
    # A changed body (the number swapped), another id, another secret: each refused
    forged = got.body.replace(PHONE.encode(), OTHER.encode())
    with pytest.raises(WebhookVerificationError):
        Webhook(made["secret"]).verify(forged, got.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(made["secret"]).verify(got.body, {**got.headers, "webhook-id": "another"})
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "A" * 43 + "=").verify(got.body, got.headers)
    # A delivery captured and replayed ten minutes later: too old
    from smsconsent.webhooks import signing

    real = signing.headers
    monkeypatch.setattr(signing, "headers", lambda secret, id_, at, body: real(secret, id_, at - 600, body))
    sign_up(context, outbox, phone=OTHER)
    webhooks.run(clock)
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(made["secret"]).verify(receiver.got[-1].body, receiver.got[-1].headers)


def test_a_receiver_down_for_an_hour_gets_every_event_afterwards_in_seq_order(
    webhooks: Any, make_receiver: Any, context: Any, outbox: Any, clock: Any
) -> None:
    # Given a receiver that answers 500 for the next hour
    receiver = make_receiver()
    back_at = clock.now.timestamp() + 3600
    answered: list[int] = []

    def answer(got: Any) -> int:
        answered.append(200 if clock.now.timestamp() >= back_at else 500)
        return answered[-1]

    receiver.answer = answer
    made = webhooks.subscribe(receiver.url)
    # When two people sign up, confirm and opt out meanwhile
    sign_up(context, outbox, confirm=True)
    sign_up(context, outbox, phone=OTHER, confirm=True)
    stop()
    stop(OTHER)
    webhooks.run(clock)
    # Then after it recovers it has every event, each subject's in seq order
    assert 500 in answered and answered.count(200) >= 6  # tried while down, then delivered
    payloads = [_verify(made["secret"], r) for r in receiver.got]
    assert len({p["id"] for p in payloads}) == 6
    # In the order of their last (successful) arrival, per subject: 1, 2, 3
    order: dict[str, list[int]] = {}
    seen: set[str] = set()
    for payload in reversed(payloads):  # the latest arrival of each id
        if payload["id"] not in seen:
            seen.add(payload["id"])
            order.setdefault(payload["subject"], []).insert(0, payload["data"]["seq"] % 1000)
    assert len(order) == 2 and all(seqs == [1, 2, 3] for seqs in order.values())


def test_deliveries_are_retried_for_at_least_a_day_then_dead_lettered(
    webhooks: Any, make_receiver: Any, context: Any, outbox: Any, clock: Any
) -> None:
    receiver = make_receiver()
    receiver.answer = 503
    made = webhooks.subscribe(receiver.url)
    start = clock.now
    sign_up(context, outbox)
    webhooks.run(clock)
    # Then it was tried with growing pauses for at least 24 hours, then dead-lettered
    assert (clock.now - start).total_seconds() >= 24 * 3600
    assert 8 <= len(receiver.got) <= 30
    dead = webhooks.dead()
    assert [d["event"]["type"] for d in dead] == ["consent.requested"]
    path = {"tenant": "demo", "id": made["id"]}
    listed = json.loads(webhooks.call("webhooks-deliveries.json", pathParameters=path)["body"])["deliveries"]
    assert listed[0]["status"] == "dead" and listed[0]["next_attempt_at"] is None
    assert {d["status"] for d in listed[1:]} == {"failed"}
    assert all(d["http_status"] == 503 for d in listed)
    assert sorted(d["attempt"] for d in listed) == list(range(1, len(listed) + 1))


def test_a_slow_receiver_does_not_hold_up_another(
    webhooks: Any, make_receiver: Any, context: Any, outbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from smsconsent import delivery

    monkeypatch.setattr(delivery, "TIMEOUT_SECONDS", 1.5)  # the 10 s, scaled down
    slow, fast = make_receiver(), make_receiver()
    slow.pause = 3.0
    webhooks.subscribe(slow.url)
    webhooks.subscribe(fast.url)
    sign_up(context, outbox)
    started = time.time()
    webhooks.run_once()
    took = time.time() - started
    # The fast one got its event at once; the batch took about the slow one's timeout
    assert fast.got and fast.got[0].at - started < 1.0
    assert took < 2.9


def test_an_address_that_turns_private_after_subscribing_is_refused_at_delivery(
    webhooks: Any, context: Any, outbox: Any, clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from smsconsent.webhooks import address

    # Given a subscription whose name resolved to a public address when it was made
    monkeypatch.setattr(address, "resolve", lambda host, port: ["93.184.215.14"])
    made = webhooks.subscribe("https://crm.example.com/hooks")
    # When DNS now answers with the metadata address
    monkeypatch.setattr(address, "resolve", lambda host, port: ["169.254.169.254"])

    def no_connection(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a connection was opened")

    monkeypatch.setattr(socket, "create_connection", no_connection)
    monkeypatch.setattr(socket.socket, "connect", no_connection)
    sign_up(context, outbox)
    webhooks.run_once()
    # Then the attempt failed as a blocked address, nothing was connected, and it waits to retry
    path = {"tenant": "demo", "id": made["id"]}
    listed = json.loads(webhooks.call("webhooks-deliveries.json", pathParameters=path)["body"])["deliveries"]
    assert listed[0]["error"] == "blocked_address" and listed[0]["status"] == "failed"


def test_a_deleted_subscription_gets_nothing_more(
    webhooks: Any, make_receiver: Any, context: Any, outbox: Any, clock: Any
) -> None:
    receiver = make_receiver()
    made = webhooks.subscribe(receiver.url)
    sign_up(context, outbox)
    webhooks.published.publish()  # queued for it
    path = {"tenant": "demo", "id": made["id"]}
    assert webhooks.call("webhooks-delete.json", pathParameters=path)["statusCode"] == 204
    webhooks.run(clock)
    assert receiver.got == []


def test_the_sample_delivery_event_is_handled(webhooks: Any, make_receiver: Any) -> None:
    # The events/ sample names a subscription that does not exist here: dropped, not failed
    from functions.delivery import app
    from tests.fixtures.context import make_context
    from tests.fixtures.events import load_event

    assert app.handler(load_event("delivery-sqs.json"), make_context()) == {"batchItemFailures": []}


def test_the_sample_stream_event_is_published(published: Any, context: Any) -> None:
    from functions.publisher import app
    from tests.fixtures.events import load_event

    assert app.handler(load_event("publisher-stream.json"), context) == {"batchItemFailures": []}
    (event,) = published.received()
    assert event["type"] == "consent.opted_out" and event["data"]["campaign"] == "black-friday"
    assert event["data"]["phone"] is None  # no such subject here


def test_a_delivery_retried_after_the_erasure_carries_no_number(
    webhooks: Any, make_receiver: Any, context: Any, outbox: Any, clock: Any
) -> None:
    from smsconsent import phone, privacy, tenants

    # Given a receiver that is down when a person signs up
    receiver = make_receiver()
    receiver.answer = 500
    made = webhooks.subscribe(receiver.url)
    sign_up(context, outbox)
    webhooks.run_once()
    assert _verify(made["secret"], receiver.got[0])["data"]["phone"] == PHONE
    # When the person is erased before the receiver recovers
    privacy.erase(tenants.get("demo"), phone.normalise(PHONE, "DE"))
    receiver.answer = 200
    webhooks.run(clock)
    # Then the retried request (same id) and the erasure event carry no number
    payloads = [_verify(made["secret"], got) for got in receiver.got[1:]]
    assert [p["type"] for p in payloads] == ["consent.requested", "subject.erased"]
    assert payloads[0]["id"] == _verify(made["secret"], receiver.got[0])["id"]
    assert all(p["data"]["phone"] is None for p in payloads)


def test_a_delivery_queued_behind_a_long_outage_gets_its_own_day_of_retries(
    webhooks: Any, make_receiver: Any, context: Any, outbox: Any, clock: Any
) -> None:
    # Given a receiver down for 24 hours, then up but failing once more for the second event
    receiver = make_receiver()
    back_at = clock.now.timestamp() + 24 * 3600
    blipped: list[str] = []

    def answer(got: Any) -> int:
        if clock.now.timestamp() < back_at:
            return 500
        if got.event["type"] == "consent.confirmed" and not blipped:
            blipped.append(got.headers["webhook-id"])
            return 500  # one more blip after the outage
        return 200

    receiver.answer = answer
    made = webhooks.subscribe(receiver.url)
    # When a person signs up and confirms during the outage (two events, one group)
    sign_up(context, outbox, confirm=True)
    webhooks.run(clock)
    # Then both arrive: the second was not dead-lettered for the time it waited behind the first
    delivered = {_verify(made["secret"], g)["type"] for g in receiver.got if clock.now.timestamp() >= back_at}
    assert {"consent.requested", "consent.confirmed"} <= delivered
    assert webhooks.dead() == []


def test_a_partly_failed_queue_batch_never_lets_a_later_event_overtake(
    webhooks: Any, make_receiver: Any, context: Any, outbox: Any, clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from smsconsent import sender

    # Given one subject's two events, and a queue that refuses the first entry of a batch
    # while taking the others (nothing in SQS's contract says it fails the rest of a group)
    receiver = make_receiver()
    made = webhooks.subscribe(receiver.url)
    sign_up(context, outbox, confirm=True)
    client = sender.queue_client()
    real = client.send_message_batch
    calls = {"n": 0}

    def first_entry_refused(**kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] > 1:
            return real(**kwargs)
        entries = kwargs["Entries"]
        taken = real(QueueUrl=kwargs["QueueUrl"], Entries=entries[1:]) if entries[1:] else {}
        refused = [{"Id": entries[0]["Id"], "SenderFault": False, "Code": "InternalError"}]
        return {"Successful": taken.get("Successful", []), "Failed": refused}

    monkeypatch.setattr(client, "send_message_batch", first_entry_refused)
    webhooks.published.publish()  # the failure is handed back: the stream retries from there
    webhooks.run(clock)
    # Then the subscriber gets them in order
    types = [_verify(made["secret"], got)["type"] for got in receiver.got]
    assert types == ["consent.requested", "consent.confirmed"]
