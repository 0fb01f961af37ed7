"""Webhook deliveries from the FIFO queue (one group per subscription and subject).

Groups are delivered side by side, each in order: a slow or failing receiver holds up only
its own group. A failed attempt waits in the queue for its backoff (the message's
visibility); later messages of its group are handed back unattempted, keeping the order.
After the retry period a delivery goes to the dead-letter queue (alarmed)."""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from smsconsent import clock, delivery, sender, settings
from smsconsent.observability import logger
from smsconsent.publishing import Delivery

_MAX_VISIBILITY = 12 * 3600  # SQS's limit


def _message_id(record: Any) -> str | None:
    """The record's message id; None when it has none (no SQS record: it cannot be named)."""
    message_id = record.get("messageId") if isinstance(record, dict) else None
    return message_id if isinstance(message_id, str) and message_id else None


def _group_id(record: dict[str, Any]) -> str | None:
    attributes = record.get("attributes")
    group = attributes.get("MessageGroupId") if isinstance(attributes, dict) else None
    return group if isinstance(group, str) and group else None


def _dead_letter(record: dict[str, Any]) -> bool:
    """Moved to the dead-letter queue: True. If SQS refuses, the message comes back and is
    tried again (after the queue's receive limit, SQS moves it there itself)."""
    from botocore.exceptions import BotoCoreError, ClientError

    url = settings.get().webhook_dead_letter_queue_url
    if not url:
        logger.error("a webhook delivery was given up on and no dead-letter queue is set")
        return True
    try:
        sender.queue_client().send_message(
            QueueUrl=url,
            MessageBody=record.get("body"),
            MessageGroupId=_group_id(record) or "unreadable",
            MessageDeduplicationId=record["messageId"],
        )
    except (BotoCoreError, ClientError) as exc:
        logger.error("a webhook delivery could not be dead-lettered", extra={"error": type(exc).__name__})
        return False
    return True


def _wait(record: dict[str, Any], seconds: float) -> None:
    """Show the message again in ``seconds`` (if SQS refuses, it comes back after the
    queue's visibility timeout instead: later, never lost)."""
    from botocore.exceptions import BotoCoreError, ClientError

    url = settings.get().webhook_queue_url
    if not url:
        return
    try:
        sender.queue_client().change_message_visibility(
            QueueUrl=url,
            ReceiptHandle=record.get("receiptHandle"),
            VisibilityTimeout=max(0, min(_MAX_VISIBILITY, math.ceil(seconds))),
        )
    except (BotoCoreError, ClientError) as exc:
        logger.warning("visibility not changed", extra={"error": type(exc).__name__})


def _one(record: dict[str, Any]) -> bool:
    """True when the message is done with (delivered, dropped or dead-lettered)."""
    try:
        job = Delivery.from_json(record["body"])
    except (ValueError, KeyError, TypeError, RecursionError):
        logger.error("unreadable webhook delivery dead-lettered")
        return _dead_letter(record)
    now = clock.now()
    try:
        outcome = delivery.attempt(job, now)
        if outcome.status == "dead":
            return _dead_letter(record)
        if outcome.status == "retry" and outcome.next_attempt_at is not None:
            _wait(record, (outcome.next_attempt_at - now).total_seconds())
            return False
    except Exception:  # the table or the queue failed: the message comes back by itself
        logger.exception("webhook delivery could not be attempted")
        return False
    return True


def _group(records: list[dict[str, Any]]) -> list[str]:
    for index, record in enumerate(records):
        if not _one(record):
            # The rest go back unattempted, visible at once: the group stays blocked behind
            # its waiting head (FIFO), and comes back with it in order when it is due.
            for later in records[index + 1 :]:
                _wait(later, 0)
            return [r["messageId"] for r in records[index:]]
    return []


def handler(event: Any, context: Any) -> dict[str, Any]:
    records = (event.get("Records") if isinstance(event, dict) else None) or []
    if not isinstance(records, list):
        logger.error("not an SQS event: nothing delivered")
        records = []
    groups: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        message_id = _message_id(record)
        if message_id is None:  # no SQS record: nothing to deliver, and no name to hand back
            logger.error("a record without a message id skipped")
            continue
        groups.setdefault(_group_id(record) or message_id, []).append(record)
    if not groups:
        return {"batchItemFailures": []}
    with ThreadPoolExecutor(max_workers=min(10, len(groups))) as pool:
        failed = [message for result in pool.map(_group, groups.values()) for message in result]
    return {"batchItemFailures": [{"itemIdentifier": m} for m in failed]}
