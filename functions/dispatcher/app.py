"""The durable outbox: SMS the provider did not take (an outage, a timeout, throttling)
wait in SQS and are sent from here. A message that still fails is reported back to SQS
(partial batch failure) and retried; after the queue's maxReceiveCount it goes to the
dead-letter queue, whose depth has an alarm."""

from __future__ import annotations

from typing import Any

from smsconsent import optout, sender, sqs, tenants
from smsconsent.observability import logger, mask


class _SendAgain(Exception):
    """The provider did not take the SMS this time: SQS delivers it again."""


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return sqs.partial_batch(event, _record)


def _record(record: dict[str, Any]) -> None:
    try:
        retry = _dispatch(record)
    except Exception:
        # One record's trouble (DynamoDB busy while recording a provider opt-out, say)
        # is that record's: the others are not sent twice nor left untried.
        logger.exception("queued SMS failed; it is retried")
        raise
    if retry:
        raise _SendAgain(record.get("messageId", ""))


def _dispatch(record: dict[str, Any]) -> bool:
    """Send one queued SMS; True when SQS should deliver it again."""
    try:
        message = sender.message_from_json(record["body"])
    except (KeyError, TypeError, ValueError):
        logger.error("queued SMS is malformed; dropped")
        return False
    try:
        sender.get().send(message)
    except sender.SendError as exc:
        if exc.opted_out:
            tenant = tenants.get(message.tenant)
            if tenant is not None:
                optout.provider_opted_out(tenant, message.to, str(exc))
            logger.info(
                "queued SMS refused: the number opted out at the provider", extra={"to": mask(message.to)}
            )
            return False
        if exc.retryable:
            return True
        logger.error(
            "queued SMS refused for good; dropped", extra={"to": mask(message.to), "error": str(exc)}
        )
        return False
    logger.info("queued SMS sent", extra={"to": mask(message.to), "kind": message.kind})
    return False
