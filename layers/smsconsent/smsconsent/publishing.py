"""Consent events out: the table's stream in, EventBridge and webhook deliveries out.

The stream carries every evidence item as its change's own transaction wrote it, so an
event goes out if and only if its change committed; a change rolled back left nothing in
the stream. Records are published in stream order (per subject: in ``seq`` order). When
something fails, everything from the first record not fully published on is handed back
(the stream's checkpoint), so the retry republishes it: at least once, never skipped, and
a record after a failed one never overtakes it in a subscription's delivery queue. Only a
record that cannot be read (not one the table wrote) is passed over, with an error logged:
no retry would ever publish it.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from smsconsent import aws, clock, events, metrics, settings, store, tenants
from smsconsent.observability import logger
from smsconsent.tenants import SLUG

SOURCE = events.SOURCE
_CHUNK = 10  # PutEvents takes 10 entries, SendMessageBatch 10 messages
_MAX_PK_BYTES = 2048  # DynamoDB's limit: no item of the table has a longer key


@dataclass(frozen=True)
class Delivery:
    """One event for one subscription, as queued for the delivery worker."""

    tenant: str
    webhook_id: str
    event: dict[str, Any]
    queued_at: str

    @property
    def group(self) -> str:
        """The FIFO group: one subscription's events of one subject go out in order."""
        return f"{self.webhook_id}#{self.event['subject']}"[:128]

    @property
    def dedupe_id(self) -> str:
        return hashlib.sha256(f"{self.webhook_id}:{self.event['id']}".encode()).hexdigest()

    def to_json(self) -> str:
        return json.dumps(
            {
                "tenant": self.tenant,
                "webhook_id": self.webhook_id,
                "event": self.event,
                "queued_at": self.queued_at,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> Delivery:
        """The delivery ``to_json`` wrote; ValueError (or KeyError, TypeError) for anything
        else, which no attempt could deliver."""
        data = json.loads(text)
        delivery = cls(data["tenant"], data["webhook_id"], data["event"], data["queued_at"])
        event = delivery.event
        if not (
            isinstance(delivery.tenant, str)
            and SLUG.match(delivery.tenant)
            and isinstance(delivery.webhook_id, str)
            and isinstance(event, dict)
            and all(isinstance(event.get(name), str) for name in ("id", "type", "subject"))
            and isinstance(event.get("data") or {}, dict)
            and isinstance(delivery.queued_at, str)
        ):
            raise ValueError("not a webhook delivery")
        if str(uuid.UUID(event["id"])) != event["id"]:  # as events.event_id makes it
            raise ValueError("not an event id")
        if len(store.subject_pk(delivery.tenant, event["subject"]).encode()) > _MAX_PK_BYTES:
            raise ValueError("not a subject")
        try:
            clock.parse_iso(delivery.queued_at)
        except OverflowError:
            raise ValueError("queued_at is out of range") from None
        json.dumps(event, ensure_ascii=False).encode()  # sent as UTF-8: no lone surrogate
        return delivery


# The local stack's delivery worker stands in for the queue when set.
_local_deliveries: Callable[[Delivery], None] | None = None


def set_local_deliveries(take: Callable[[Delivery], None] | None) -> None:
    global _local_deliveries
    _local_deliveries = take


@dataclass(frozen=True)
class _Found:
    index: int  # the record's place in the batch
    tenant: str
    pk: str
    event: dict[str, Any]  # without the number: the subject's as it is now goes in when sent


class _Unreadable(ValueError):
    pass


# What reading a record can raise when it is not as the table's stream writes it.
_UNREADABLE = (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError, RecursionError)


def _value(image: dict[str, Any], name: str, kind: str) -> Any:
    """The attribute's value when it is of ``kind`` ("S" or "N"), None when it is absent;
    raises when it is anything else."""
    if name not in image:
        return None
    value = image[name][kind]
    if not isinstance(value, str):
        raise _Unreadable(f"{name} is not of type {kind}")
    return int(value) if kind == "N" else value


def _event_of(record: dict[str, Any]) -> tuple[str, str, dict[str, Any]] | None:
    """The tenant, subject pk and CloudEvent (without a number) of the evidence event a
    stream record inserted; None for any other record (another item, another change, an
    evidence type that publishes nothing). Raises when the record cannot be read."""
    if record["eventName"] != "INSERT":
        return None
    change = record["dynamodb"]
    if not isinstance(change["SequenceNumber"], str):  # a record handed back is named by it
        raise _Unreadable("no sequence number")
    image = change["NewImage"]
    pk, sk = _value(image, "pk", "S"), _value(image, "sk", "S")
    if not (pk and pk.startswith("SUBJ#") and sk and sk.startswith(("EV#", "OUT#"))):
        return None
    evidence_type = _value(image, "type", "S")
    if evidence_type not in events.TYPES:
        return None
    _, tenant, _ = pk.split("#", 2)
    if not SLUG.match(tenant) or len(pk.encode()) > _MAX_PK_BYTES:
        raise _Unreadable("not a subject's key")
    evidence = {
        "type": evidence_type,
        "at": _value(image, "at", "S"),
        "seq": _value(image, "seq", "N"),
        "hash": _value(image, "hash", "S"),
        "data": json.loads(_value(image, "data", "S") or "{}"),
    }
    if not isinstance(evidence["data"], dict):
        raise _Unreadable("data is not an object")
    if not evidence["hash"] or evidence["seq"] is None or not evidence["at"]:
        raise _Unreadable("no hash, seq or time")  # the id and the order come from them
    event = events.cloud_event(tenant, pk.rsplit("#", 1)[-1], evidence, None)
    if event is None:
        return None
    clock.parse_iso(event["time"])  # the bus takes the event's time as a time
    return tenant, pk, event


def _evidence_of(index: int, record: Any) -> _Found | None:
    """The evidence event a stream record inserted (None: any other record, or one that
    cannot be read, which is logged: handed back, the stream would hand it over again and
    again until it left it a day later, holding up every record behind it)."""
    try:
        found = _event_of(record)
    except _UNREADABLE as exc:  # parsing only, nothing stored or sent: the record's own fault
        logger.error("unreadable stream record skipped", extra={"index": index, "error": type(exc).__name__})
        return None
    if found is None:
        return None
    tenant, pk, event = found
    return _Found(index, tenant, pk, event)


def publish(records: list[Any]) -> int | None:
    """Publish the batch's events; the index of the first record not published (None: all).
    A record that cannot be read is skipped (logged), not handed back."""
    found = [f for i, r in enumerate(records) if (f := _evidence_of(i, r)) is not None]
    for start in range(0, len(found), _CHUNK):
        chunk = found[start : start + _CHUNK]
        try:
            failed = _publish_chunk(chunk)
        except Exception:  # an outage of the table, the bus or the queue: retry from here
            logger.exception("publishing failed; the batch is retried from this record")
            failed = chunk[0].index
        if failed is not None:
            return failed
    return None


def _publish_chunk(chunk: list[_Found]) -> int | None:
    phones = store.phones_of([f.pk for f in chunk])
    published = [(f, events.with_phone(f.event, phones.get(f.pk))) for f in chunk]
    failed = [_put_on_bus(published), _queue_deliveries(published), _queue_list_sync(published)]
    first = min((i for i in failed if i is not None), default=None)
    ok = len([f for f, _ in published if first is None or f.index < first])
    if ok:
        metrics.count("EventsPublished", ok)
    return first


def _put_on_bus(published: list[tuple[_Found, dict[str, Any]]]) -> int | None:
    bus = settings.get().event_bus_name
    if not bus or not published:
        return None
    answer = _events_client().put_events(
        Entries=[
            {
                "Source": SOURCE,
                "DetailType": event["type"],
                "Detail": json.dumps(event, separators=(",", ":")),
                "EventBusName": bus,
                "Time": clock.parse_iso(event["time"]),
            }
            for _, event in published
        ]
    )
    if not answer.get("FailedEntryCount"):
        return None
    for (found, _), entry in zip(published, answer["Entries"], strict=False):
        if entry.get("ErrorCode"):
            logger.warning("event not taken by the bus", extra={"error": entry["ErrorCode"]})
            return found.index
    return published[0][0].index


def _queue_deliveries(published: list[tuple[_Found, dict[str, Any]]]) -> int | None:
    subscriptions: dict[str, list[store.Subscription]] = {}
    queued_at = clock.iso(clock.now())
    todo: list[tuple[int, Delivery]] = []
    for found, event in published:
        if found.tenant not in subscriptions:
            subscriptions[found.tenant] = store.webhooks_of(found.tenant)
        for sub in subscriptions[found.tenant]:
            if events.wanted(sub.events, event["type"]):
                todo.append((found.index, Delivery(found.tenant, sub.id, event, queued_at)))
    if not todo:
        return None
    if _local_deliveries is not None:
        for _, delivery in todo:
            _local_deliveries(delivery)
        return None
    url = settings.get().webhook_queue_url
    if not url:
        logger.warning("webhook subscriptions exist but no WEBHOOK_QUEUE_URL is set")
        return todo[0][0]
    return _send(url, todo)


# Events after which a tenant's AWS opt-out list may have to change (``list_sync``).
_LIST_EVENTS = frozenset({"consent.opted_out", "consent.restored", "consent.confirmed", "consent.imported"})

# The local stack's list sync stands in for the queue when set.
_local_list_sync: Callable[[dict[str, str]], None] | None = None


def set_local_list_sync(take: Callable[[dict[str, str]], None] | None) -> None:
    global _local_list_sync
    _local_list_sync = take


def _queue_list_sync(published: list[tuple[_Found, dict[str, Any]]]) -> int | None:
    """Queue the subject of each SMS opt-out, START or confirmation of a tenant that names an
    opt-out list. The message names the subject only: the sync reads it as it is then."""
    todo: list[tuple[int, dict[str, str]]] = []
    for found, event in published:
        if event["type"] not in _LIST_EVENTS or event["data"].get("channel") not in ("sms", None):
            continue
        try:
            tenant = tenants.get(found.tenant)
        except tenants.TenantError:
            tenant = None  # refused everywhere else too; its own requests say why
        if tenant is not None and tenant.sms_opt_out_list:
            todo.append((found.index, {"tenant": found.tenant, "subject": found.pk}))
    if not todo:
        return None
    if _local_list_sync is not None:
        for _, message in todo:
            _local_list_sync(message)
        return None
    url = settings.get().list_sync_queue_url
    if not url:
        logger.warning("a tenant names an opt-out list but no LIST_SYNC_QUEUE_URL is set")
        return todo[0][0]
    from smsconsent import sender

    for start in range(0, len(todo), _CHUNK):
        part = todo[start : start + _CHUNK]
        answer = sender.queue_client().send_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(n), "MessageBody": json.dumps(m)} for n, (_, m) in enumerate(part)],
        )
        failed = sorted(int(f["Id"]) for f in answer.get("Failed") or [])
        if failed:
            logger.warning("opt-out list syncs not queued", extra={"count": len(failed)})
            return part[failed[0]][0]
    return None


def _batches(todo: list[tuple[int, Delivery]]) -> list[list[tuple[int, Delivery]]]:
    """Consecutive batches of at most ten, none holding two messages of one group: when an
    entry fails, SQS may still take later entries of the batch, and a later event of the
    same group queued before its failed predecessor would overtake it for good."""
    batches: list[list[tuple[int, Delivery]]] = []
    groups: set[str] = set()
    for item in todo:
        if not batches or len(batches[-1]) == _CHUNK or item[1].group in groups:
            batches.append([])
            groups = set()
        batches[-1].append(item)
        groups.add(item[1].group)
    return batches


def _send(url: str, todo: list[tuple[int, Delivery]]) -> int | None:
    from smsconsent import sender

    for part in _batches(todo):
        answer = sender.queue_client().send_message_batch(
            QueueUrl=url,
            Entries=[
                {
                    "Id": str(n),
                    "MessageBody": delivery.to_json(),
                    "MessageGroupId": delivery.group,
                    "MessageDeduplicationId": delivery.dedupe_id,
                }
                for n, (_, delivery) in enumerate(part)
            ],
        )
        failed = sorted(int(f["Id"]) for f in answer.get("Failed") or [])
        if failed:
            logger.warning("webhook deliveries not queued", extra={"count": len(failed)})
            return part[failed[0]][0]
    return None


@cache
def _events_client() -> Any:
    return aws.client("events")


def reset() -> None:
    """Forget the bus client (tests and the local stack move the endpoint)."""
    _events_client.cache_clear()
