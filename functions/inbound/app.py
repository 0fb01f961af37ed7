"""Inbound SMS: provider webhooks (POST /v1/{tenant}/inbound/{provider}, Vonage also GET)
and AWS End User Messaging two-way SMS delivered through SNS."""

from __future__ import annotations

import json
from typing import Any

from smsconsent import api, clock, inbound, providers, settings, store, tenants
from smsconsent.http import ApiError, Request
from smsconsent.observability import logger
from smsconsent.providers.base import InboundMessage, Webhook


def _webhook(request: Request) -> dict[str, Any]:
    tenant = api.tenant_of(request)
    name = request.path_params.get("provider", "")
    module = providers.get(name)
    conf = tenant.providers.get(name)
    if module is None or conf is None:
        raise ApiError(404, "unknown_provider", "this tenant has no such provider configured", "provider")
    if len(request.raw_body) > settings.get().max_body_bytes:
        raise ApiError(413, "body_too_large", "body is over 64 KiB")
    hook = Webhook.from_request(request, conf)
    if not module.verify(hook, conf, clock.now()):
        logger.warning("inbound signature refused", extra={"tenant": tenant.id, "provider": name})
        raise ApiError(403, "invalid_signature", "the request signature is missing or wrong", "signature")
    message = module.parse(hook)
    if message is None:
        return module.respond(None)  # not an inbound message (a receipt, a ping): acknowledge
    outcome = inbound.receive(tenant, message)
    if module.INLINE_REPLY:
        return module.respond(outcome.reply, message=message)
    inbound.send_reply(tenant, message, outcome)
    return module.respond(None)


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


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if isinstance(event, dict) and "Records" in event:
        return _sns(event)
    return http_handler(event, context)
