"""Webhook subscriptions and their delivery attempts."""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from smsconsent.clock import iso, parse_iso
from smsconsent.store.errors import Conflict, guard
from smsconsent.store.models import CounterItem, DeliveryItem, WebhookItem, get_or_none

# Attempts are kept this long: enough to see a day of retries and what came after.
KEEP_ATTEMPTS = timedelta(days=30)
# A subscription's id, as ``new_webhook_id`` makes it. An id of any other form names no
# subscription and is never looked up: DynamoDB refuses a key over its size limit outright.
WEBHOOK_ID = re.compile(r"wh_[0-9a-f]{24}")


def new_webhook_id() -> str:
    return "wh_" + secrets.token_hex(12)


@dataclass(frozen=True)
class Subscription:
    tenant: str
    id: str
    url: str
    events: list[str]
    description: str | None
    secret: str
    created_at: str


@dataclass(frozen=True)
class Attempt:
    event_id: str
    type: str
    attempt: int
    status: str
    http_status: int | None
    error: str | None
    at: str
    next_attempt_at: str | None


def _subscription(tenant: str, item: WebhookItem) -> Subscription:
    return Subscription(
        tenant=tenant,
        id=item.sk.removeprefix("WH#"),
        url=item.url,
        events=json.loads(item.events),
        description=item.description,
        secret=item.secret,
        created_at=item.created_at,
    )


def add_webhook(subscription: Subscription) -> None:
    """Store a new subscription (its id is random: a clash is a Conflict)."""
    item = WebhookItem(
        f"WEBHOOK#{subscription.tenant}",
        f"WH#{subscription.id}",
        url=subscription.url,
        events=json.dumps(subscription.events),
        description=subscription.description,
        secret=subscription.secret,
        created_at=subscription.created_at,
    )
    with guard():
        item.save(condition=WebhookItem.pk.does_not_exist())


def webhooks_of(tenant: str) -> list[Subscription]:
    """Every subscription of the tenant (one Query, strongly consistent: a subscription made
    a moment ago gets the next event)."""
    with guard():
        items = WebhookItem.query(f"WEBHOOK#{tenant}", WebhookItem.sk.startswith("WH#"), consistent_read=True)
        return [_subscription(tenant, item) for item in items]


def webhook(tenant: str, webhook_id: str) -> Subscription | None:
    if not WEBHOOK_ID.fullmatch(webhook_id):
        return None
    item = get_or_none(WebhookItem, f"WEBHOOK#{tenant}", f"WH#{webhook_id}")
    return _subscription(tenant, item) if item is not None else None


def delete_webhook(tenant: str, webhook_id: str) -> bool:
    """False when there was no such subscription."""
    if not WEBHOOK_ID.fullmatch(webhook_id):
        return False
    try:
        with guard():
            WebhookItem(f"WEBHOOK#{tenant}", f"WH#{webhook_id}").delete(condition=WebhookItem.pk.exists())
    except Conflict:
        return False
    return True


def next_attempt(tenant: str, webhook_id: str, event_id: str, now: datetime) -> tuple[int, datetime]:
    """Count one more attempt of this event for this subscription: the attempt's number and
    when the first attempt was made (the retry period runs from then, not from when the
    event was queued: one queued behind a subscriber's outage gets its own day of retries).
    Counted before the POST, so an attempt cut short by a crash still counts: the queue's
    receive count cannot say this (a message handed back behind a failed one counts too)."""
    counter = CounterItem(f"ATTEMPTS#{tenant}#{webhook_id}#{event_id}", "COUNT")
    with guard():
        counter.update(
            actions=[
                CounterItem.hits.add(1),
                CounterItem.first_at.set(CounterItem.first_at | iso(now)),
                CounterItem.ttl.set(now + KEEP_ATTEMPTS),
            ]
        )
    return int(counter.hits), parse_iso(counter.first_at or iso(now))


def record_attempt(tenant: str, webhook_id: str, attempt: Attempt, now: datetime) -> None:
    item = DeliveryItem(
        f"DELIVERY#{tenant}#{webhook_id}",
        f"{attempt.at}#{attempt.event_id}#{attempt.attempt:04d}",
        event_id=attempt.event_id,
        type=attempt.type,
        attempt=attempt.attempt,
        status=attempt.status,
        http_status=attempt.http_status,
        error=attempt.error,
        at=attempt.at,
        next_attempt_at=attempt.next_attempt_at,
        ttl=now + KEEP_ATTEMPTS,
    )
    with guard():
        item.save()


def recent_attempts(tenant: str, webhook_id: str, limit: int = 100) -> list[Attempt]:
    """The newest attempts first (one Query)."""
    with guard():
        items = DeliveryItem.query(
            f"DELIVERY#{tenant}#{webhook_id}", scan_index_forward=False, limit=limit, page_size=limit
        )
        return [
            Attempt(
                event_id=i.event_id,
                type=i.type,
                attempt=int(i.attempt),
                status=i.status,
                http_status=int(i.http_status) if i.http_status is not None else None,
                error=i.error,
                at=i.at,
                next_attempt_at=i.next_attempt_at,
            )
            for i in items
        ]
