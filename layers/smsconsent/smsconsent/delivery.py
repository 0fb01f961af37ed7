"""One attempt to deliver one consent event to one webhook subscription.

The attempt is signed as the Standard Webhooks specification says, posted with the SSRF
guard checking the address again (DNS may have changed since the subscription was made),
recorded for the deliveries route, and answered with what to do next: nothing (delivered,
or the subscription is gone), try again at a time, or give up (dead-letter). Where the
retry waits (an SQS message's visibility, the local stack's clock) is the caller's.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from smsconsent import clock, metrics, settings, store
from smsconsent.observability import logger
from smsconsent.publishing import Delivery
from smsconsent.records import subject_pk
from smsconsent.webhooks import backoff, signing, transport

# A receiver must answer within this (the SPEC's 10 s); the caller runs attempts side by
# side, so a slow receiver holds up only its own subscription's events of one subject.
TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class Outcome:
    status: str  # delivered | retry | dead | dropped
    next_attempt_at: datetime | None = None
    recorded: store.Attempt | None = None  # the attempt as recorded (None: dropped)


def _as_held_now(tenant: str, event: dict[str, Any]) -> dict[str, Any]:
    """The event with the number as held now: a delivery retried after the subject was
    erased (or its number dropped on expiry) carries none. The id stays the same."""
    phone = (event.get("data") or {}).get("phone")
    if phone is None:
        return event
    pk = subject_pk(tenant, event["subject"])
    held = store.phones_of([pk]).get(pk)
    if held == phone:
        return event
    return {**event, "data": {**event["data"], "phone": None}}


def attempt(delivery: Delivery, now: datetime) -> Outcome:
    """One more attempt of ``delivery`` at ``now`` (its number counted in the table)."""
    subscription = store.webhook(delivery.tenant, delivery.webhook_id)
    if subscription is None:
        return Outcome("dropped")  # deleted since: its events go nowhere
    number, first_at = store.next_attempt(delivery.tenant, delivery.webhook_id, delivery.event["id"], now)
    body = json.dumps(
        _as_held_now(delivery.tenant, delivery.event), separators=(",", ":"), ensure_ascii=False
    ).encode()
    # The signature's timestamp is the real time of sending: the receiver checks it against
    # its own clock to refuse replays (the local stack's moved clock is not the receiver's).
    headers = signing.headers(subscription.secret, delivery.event["id"], int(time.time()), body)
    response = transport.post(
        subscription.url,
        body,
        headers,
        timeout=TIMEOUT_SECONDS,
        allow_loopback=settings.get().allow_loopback_webhooks,
    )
    delivered = response.status is not None and 200 <= response.status < 300 and response.error is None
    following = None
    if delivered:
        status = "delivered"
    else:
        following = backoff.next_attempt_at(first_at, number, now)
        status = "failed" if following is not None else "dead"
    recorded = store.Attempt(
        event_id=delivery.event["id"],
        type=delivery.event["type"],
        attempt=number,
        status=status,
        http_status=response.status,
        error=response.error,
        at=clock.iso(now),
        next_attempt_at=clock.iso(following) if following else None,
    )
    store.record_attempt(delivery.tenant, delivery.webhook_id, recorded, now)
    metrics.count("WebhookDeliveries" if delivered else "WebhookFailures")
    if delivered:
        return Outcome("delivered", recorded=recorded)
    logger.info(
        "webhook delivery failed",
        extra={
            "webhook": delivery.webhook_id,
            "attempt": number,
            "status": response.status,
            "error": response.error,
        },
    )
    if following is None:
        metrics.count("WebhookDeadLettered")
        return Outcome("dead", recorded=recorded)
    return Outcome("retry", following, recorded)
