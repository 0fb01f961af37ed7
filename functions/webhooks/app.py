"""Webhook subscriptions (IAM auth in AWS):
POST /v1/{tenant}/webhooks: subscribe (the signing secret is in this answer only);
GET /v1/{tenant}/webhooks: list, no secrets;
DELETE /v1/{tenant}/webhooks/{id}: unsubscribe;
GET /v1/{tenant}/webhooks/{id}/deliveries: recent attempts."""

from __future__ import annotations

from typing import Any

from smsconsent import api, errors, subscriptions
from smsconsent.http import Request, json_answer
from smsconsent.observability import logger


@api.entrypoint
def handler(request: Request) -> dict[str, Any]:
    tenant = api.tenant_of(request)
    webhook_id = request.path_params.get("id")
    if webhook_id is None:
        if request.method == "POST":
            fields, _ = request.fields()
            made = subscriptions.create(tenant, fields)
            logger.info("webhook subscribed", extra={"tenant": tenant.id, "webhook": made["id"]})
            return json_answer(201, made)
        if request.method == "GET":
            return json_answer(200, subscriptions.all_of(tenant))
        raise errors.MethodNotAllowed("use GET or POST")
    if request.path.rstrip("/").endswith("/deliveries"):
        if request.method != "GET":
            raise errors.MethodNotAllowed("use GET")
        return json_answer(200, subscriptions.deliveries(tenant, webhook_id))
    if request.method == "DELETE":
        subscriptions.delete(tenant, webhook_id)
        logger.info("webhook deleted", extra={"tenant": tenant.id, "webhook": webhook_id})
        return {"statusCode": 204, "headers": dict(request.answer_headers), "body": ""}
    raise errors.MethodNotAllowed("use DELETE, or GET .../deliveries")
