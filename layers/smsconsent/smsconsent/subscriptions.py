"""Webhook subscriptions: made (the secret shown once), listed, deleted, and their recent
delivery attempts."""

from __future__ import annotations

from typing import Any

from smsconsent import clock, errors, events, settings, store
from smsconsent.tenants import Tenant
from smsconsent.webhooks import address, signing

MAX_PER_TENANT = 20
_MAX_DESCRIPTION = 200


def _event_types(value: Any) -> list[str]:
    if value is None:
        return ["*"]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise errors.Invalid("invalid_field", 'events must be a list of event types, or ["*"]', "events")
    unknown = sorted(set(value) - {*events.EVENT_TYPES, "*"})
    if unknown:
        raise errors.Invalid(
            "invalid_field", f"unknown event types {unknown}; known: {list(events.EVENT_TYPES)}", "events"
        )
    return ["*"] if "*" in value else sorted(set(value))


def create(tenant: Tenant, fields: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(fields) - {"url", "events", "description"})
    if unknown:
        # The field named as sent; one without a name is the body's fault.
        raise errors.Invalid("invalid_field", f"unknown fields {unknown}", unknown[0] or "body")
    url = fields.get("url")
    if not isinstance(url, str) or not url.strip():
        raise errors.Invalid("invalid_field", "url is required", "url")
    url = address.check_url(url, allow_loopback_http=settings.get().allow_loopback_webhooks)
    types = _event_types(fields.get("events"))
    description = fields.get("description")
    if description is not None and (not isinstance(description, str) or len(description) > _MAX_DESCRIPTION):
        raise errors.Invalid(
            "invalid_field",
            f"description must be text of at most {_MAX_DESCRIPTION} characters",
            "description",
        )
    if len(store.webhooks_of(tenant.id)) >= MAX_PER_TENANT:
        raise errors.Invalid(
            "invalid_field", f"a tenant has at most {MAX_PER_TENANT} webhook subscriptions", "url"
        )
    subscription = store.Subscription(
        tenant=tenant.id,
        id=store.new_webhook_id(),
        url=url,
        events=types,
        description=description or None,
        secret=signing.new_secret(),
        created_at=clock.iso(clock.now()),
    )
    store.add_webhook(subscription)
    return {**listed(subscription), "secret": subscription.secret}


def listed(subscription: store.Subscription) -> dict[str, Any]:
    return {
        "id": subscription.id,
        "url": subscription.url,
        "events": subscription.events,
        "description": subscription.description,
        "created_at": subscription.created_at,
    }


def all_of(tenant: Tenant) -> dict[str, Any]:
    return {"webhooks": [listed(s) for s in sorted(store.webhooks_of(tenant.id), key=lambda s: s.created_at)]}


def _known(tenant: Tenant, webhook_id: str) -> None:
    if store.webhook(tenant.id, webhook_id) is None:
        raise errors.NotFound("unknown_webhook", "no such webhook subscription", "id")


def delete(tenant: Tenant, webhook_id: str) -> None:
    if not store.delete_webhook(tenant.id, webhook_id):
        raise errors.NotFound("unknown_webhook", "no such webhook subscription", "id")


def deliveries(tenant: Tenant, webhook_id: str) -> dict[str, Any]:
    _known(tenant, webhook_id)
    return {
        "deliveries": [
            {
                "event_id": a.event_id,
                "type": a.type,
                "attempt": a.attempt,
                "status": a.status,
                "http_status": a.http_status,
                "error": a.error,
                "at": a.at,
                "next_attempt_at": a.next_attempt_at,
            }
            for a in store.recent_attempts(tenant.id, webhook_id)
        ]
    }
