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


def _dead_letter(record: dict[str, Any]) -> bool:
    url = settings.get().webhook_dead_letter_queue_url
    if not url:
        logger.error("a webhook delivery was given up on and no dead-letter queue is set")
        return True
    group = record.get("attributes", {}).get("MessageGroupId") or "unreadable"
    sender.queue_client().send_message(
        QueueUrl=url,
        MessageBody=record["body"],
        MessageGroupId=group,
        MessageDeduplicationId=record["messageId"],
    )
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
            ReceiptHandle=record["receiptHandle"],
            VisibilityTimeout=max(0, min(_MAX_VISIBILITY, math.ceil(seconds))),
        )
    except (BotoCoreError, ClientError) as exc:
        logger.warning("visibility not changed", extra={"error": type(exc).__name__})


def _one(record: dict[str, Any]) -> bool:
    """True when the message is done with (delivered, dropped or dead-lettered)."""
    try:
        job = Delivery.from_json(record["body"])
    except (ValueError, KeyError, TypeError):
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


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for record in event.get("Records") or []:
        key = record.get("attributes", {}).get("MessageGroupId") or record["messageId"]
        groups.setdefault(key, []).append(record)
    if not groups:
        return {"batchItemFailures": []}
    with ThreadPoolExecutor(max_workers=min(10, len(groups))) as pool:
        failed = [message for result in pool.map(_group, groups.values()) for message in result]
    return {"batchItemFailures": [{"itemIdentifier": m} for m in failed]}
