"""Inbound SMS: provider webhooks (POST /v1/{tenant}/inbound/{provider}, Vonage also GET)
and their status callbacks for messages we sent (POST /v1/{tenant}/status/{provider}),
AWS End User Messaging two-way SMS delivered through SNS, and webhook messages queued
while DynamoDB was unavailable (SQS)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from smsconsent import api, clock, errors, inbound, phone, providers, reports, settings, sqs, store, tenants
from smsconsent.http import Request
from smsconsent.observability import logger
from smsconsent.providers.base import InboundMessage, Malformed, Webhook, ok
from smsconsent.snapstart import register as register_snapstart_hooks

register_snapstart_hooks()  # a provider's webhook waits on this function: see EnableSnapStart


def _verified(request: Request, status: bool) -> tuple[tenants.Tenant, str, Any, Webhook]:
    """The tenant, provider name, provider module and the webhook, its signature checked."""
    tenant = api.tenant_of(request)
    name = request.path_params.get("provider", "")
    module = providers.get(name)
    conf = tenant.providers.get(name)
    if module is None or conf is None or (status and not hasattr(module, "parse_status")):
        raise errors.NotFound("unknown_provider", "this tenant has no such provider configured", "provider")
    if len(request.raw_body) > settings.get().max_body_bytes:
        raise errors.TooLarge("body is over 64 KiB")
    hook = Webhook.status_from_request(request, conf, name) if status else Webhook.from_request(request, conf)
    now = clock.now()
    if not module.verify(hook, conf, now):
        stale = getattr(module, "stale", None)  # providers whose signature carries a time
        if stale is not None and stale(hook, conf, now):
            logger.warning("inbound timestamp stale", extra={"tenant": tenant.id, "provider": name})
            raise errors.Forbidden(
                "stale_timestamp", "the request's signed timestamp is outside the window", "timestamp"
            )
        logger.warning("inbound signature refused", extra={"tenant": tenant.id, "provider": name})
        raise errors.Forbidden("invalid_signature", "the request signature is missing or wrong", "signature")
    return tenant, name, module, hook


def _not_ours(tenant: tenants.Tenant, name: str) -> errors.Forbidden:
    # Signed for another tenant's number (same provider account): not ours.
    logger.warning(
        "webhook for a number the tenant does not own", extra={"tenant": tenant.id, "provider": name}
    )
    return errors.Forbidden(
        "unknown_recipient", "the message's recipient is not one of the tenant's numbers", "recipient"
    )


def _status(request: Request) -> dict[str, Any]:
    """A provider's status callback (POST /v1/{tenant}/status/{provider})."""
    tenant, name, module, hook = _verified(request, status=True)
    return _apply_status(tenant, name, module, hook)


def _apply_status(tenant: tenants.Tenant, name: str, module: Any, hook: Webhook) -> dict[str, Any]:
    """A failure that says the recipient opted out or does not exist is applied as a
    delivery report; anything else is acknowledged."""
    report = module.parse_status(hook)
    if report is None:
        return ok("")  # another event (sent, delivered, a ping): acknowledged
    if not inbound.owns_recipient(tenant, report.sender):
        raise _not_ours(tenant, name)
    try:
        number = phone.normalise(report.recipient, tenant.default_country)
    except phone.PhoneError:
        logger.warning("status callback for an unreadable number", extra={"provider": name})
        return ok("")  # nothing to apply it to; the provider must not retry it
    action = reports.apply(
        tenant,
        reports.Report(
            phone=number,
            provider=name,
            status="failed" if report.failed else "delivered",
            error_code=report.error_code,
            message_id=report.message_id,
            campaign=None,
        ),
    )
    logger.info("status callback", extra={"tenant": tenant.id, "provider": name, "action": action})
    return ok("")


def _webhook(request: Request) -> dict[str, Any]:
    if "/status/" in request.path:
        return _status(request)
    tenant, name, module, hook = _verified(request, status=False)
    respond: Callable[..., dict[str, Any]] = module.respond
    message = module.parse(hook)
    if message is None and hasattr(module, "parse_status"):
        # Telnyx sends a profile's delivery events to its one webhook URL: a status there is
        # applied as at /status/ (the signature checked is the same).
        return _apply_status(tenant, name, module, hook)
    if message is None:
        return respond(None)  # not an inbound message (a receipt, a ping): acknowledge
    validate = getattr(module, "validate", None)  # ids whose shape the provider fixes
    try:
        if validate is not None:
            validate(hook, message)
    except Malformed as exc:
        logger.warning("inbound message id malformed", extra={"tenant": tenant.id, "provider": name})
        raise errors.Malformed("invalid_message_id", str(exc), exc.field) from exc
    if not inbound.owns_recipient(tenant, message.recipient):
        raise _not_ours(tenant, name)
    message = replace(
        message,
        signed_digest=hashlib.sha256(hook.signed).hexdigest() if hook.signed is not None else None,
        replay_window=hook.window,
    )
    try:
        outcome = inbound.receive(tenant, message)
    except store.StoreUnavailable:
        if not inbound.queue_for_later(tenant, message):
            raise  # 503: the provider's retry is all that is left
        logger.warning("store unavailable: inbound message queued", extra={"provider": name})
        return respond(None)  # taken: applied from the queue, any reply sent from there
    if module.INLINE_REPLY:
        return respond(outcome.reply, message=message)
    inbound.send_reply(tenant, message, outcome)
    return respond(None)


http_handler = api.entrypoint(_webhook, inject_context=False)


def _sns(event: dict[str, Any]) -> dict[str, Any]:
    """AWS End User Messaging two-way SMS: the tenant is found by the number written to.
    A store failure raises, so Lambda's asynchronous retry delivers the message again."""
    handled = skipped = 0
    records = event.get("Records")
    if not isinstance(records, list):
        logger.warning("SNS event without a list of records")
        return {"handled": 0, "skipped": 1}
    for record in records:
        try:
            body = json.loads(record["Sns"]["Message"])
            message = InboundMessage(
                provider="aws",
                message_id=str(body["inboundMessageId"]),
                sender=str(body["originationNumber"]),
                recipient=str(body["destinationNumber"]),
                text=str(body.get("messageBody") or ""),
            )
        except (KeyError, TypeError, ValueError):
            logger.warning("SNS record is not a two-way SMS message")
            skipped += 1
            continue
        tenant_id = store.tenant_of_number(message.recipient)
        tenant = tenants.get(tenant_id) if tenant_id else None
        if tenant is None:
            logger.warning("two-way SMS to a number no tenant owns")
            skipped += 1
            continue
        inbound.send_reply(tenant, message, inbound.receive(tenant, message))
        handled += 1
    return {"handled": handled, "skipped": skipped}


def _queued(record: dict[str, Any]) -> None:
    """A webhook message queued while DynamoDB was unavailable (``InboundRetryQueue``):
    applied now, replies through the sender; one still failing goes back to SQS alone."""
    try:
        tenant_id, message = inbound.from_queue(record["body"])
    except (KeyError, TypeError, ValueError):
        logger.error("queued inbound message is malformed; dropped")
        return
    try:
        tenant = tenants.get(tenant_id)  # a misconfigured tenant raises: retried, not dropped
        if tenant is None:
            logger.warning("queued inbound message for a tenant that is gone; dropped")
            return
        inbound.send_reply(tenant, message, inbound.receive(tenant, message))
    except Exception:
        logger.exception("queued inbound message failed; it is retried")
        raise


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if isinstance(event, dict) and "Records" in event:
        first = (event["Records"] or [None])[0] if isinstance(event["Records"], list) else None
        if isinstance(first, dict) and first.get("eventSource") == "aws:sqs":
            return sqs.partial_batch(event, _queued)
        return _sns(event)
    return http_handler(event, context)
