"""Process settings read once from the environment (the template sets them in AWS,
the local stack and the tests set them locally). Logic takes values from here,
never from ``os.environ`` directly: this is the only module of the layer and the
functions that reads it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache

DEFAULT_TABLE = "sms-consent"


class SettingsError(RuntimeError):
    """The environment lacks or garbles a setting the process cannot do without."""


@dataclass(frozen=True)
class Settings:
    table_name: str
    dynamodb_endpoint: str | None
    region: str
    # "aws" sends through AWS End User Messaging SMS, "sns" through SNS; "outbox" keeps
    # messages locally.
    sms_sender: str
    # One of these gives the HMAC pepper: a Secrets Manager secret (AWS) or a JSON
    # value in the environment (local stack, tests).
    pepper_secret_arn: str | None
    pepper_json: str | None
    tenant_cache_seconds: int
    # The durable outbox: SMS the provider did not take are queued here and retried.
    sms_queue_url: str | None = None
    # Inbound messages DynamoDB could not take (throttling): applied later from here.
    inbound_queue_url: str | None = None
    # Valid signups wait here for the signup function's worker (the answer's time must not
    # depend on the number); unset, they are processed inline.
    signup_queue_url: str | None = None
    # Requests bigger than this are refused with 413 before parsing.
    max_body_bytes: int = 64 * 1024
    # Tenant secrets given in plain text ({"value": ...}) are honoured: the local stack and
    # the tests set ALLOW_PLAIN_SECRETS=true. AWS never does: the template does not set it,
    # and a Lambda function on AWS's DynamoDB (no DYNAMODB_ENDPOINT) refuses them anyway.
    allow_plain_secrets: bool = False
    # The service dimension of business metrics (Powertools reads the same variable).
    service_name: str = "sms-consent"
    # SMS_SENDER=twilio: the account, and the Secrets Manager secret with its auth token.
    twilio_account_sid: str = ""
    twilio_auth_token_secret_arn: str | None = None
    # Consent events: the stack's EventBridge bus, and the FIFO queue of webhook deliveries
    # (unset: that way out is off; the local stack hands deliveries to its own worker).
    event_bus_name: str | None = None
    webhook_queue_url: str | None = None
    list_sync_queue_url: str | None = None  # the AWS opt-out list sync's queue
    import_queue_url: str | None = None  # the import chunks' queue
    webhook_dead_letter_queue_url: str | None = None
    # Webhooks may go to http on loopback (the local stack's own sink): LOCAL_WEBHOOKS=true,
    # never honoured by a Lambda function on AWS's DynamoDB, as plain secrets.
    allow_loopback_webhooks: bool = False


def _text(name: str) -> str | None:
    return os.environ.get(name) or None


def _seconds(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number of seconds, not {raw!r}") from None


def _table_name(in_lambda: bool) -> str:
    table = _text("TABLE_NAME")
    if table is None and in_lambda:
        # A default table here would be another stack's, or none: refuse to start instead.
        raise SettingsError("TABLE_NAME is not set: a Lambda function must be told its DynamoDB table")
    return table or DEFAULT_TABLE


@cache
def get() -> Settings:
    """The settings, read at first use; raises ``SettingsError`` (every call, until the
    environment is fixed) when a required one is missing or malformed."""
    in_lambda = _text("AWS_LAMBDA_FUNCTION_NAME") is not None
    endpoint = _text("DYNAMODB_ENDPOINT")
    return Settings(
        table_name=_table_name(in_lambda),
        dynamodb_endpoint=endpoint,
        region=_text("AWS_REGION") or _text("AWS_DEFAULT_REGION") or "eu-central-1",
        sms_sender=os.environ.get("SMS_SENDER", "aws"),
        pepper_secret_arn=_text("PEPPER_SECRET_ARN"),
        pepper_json=_text("PEPPER_JSON"),
        tenant_cache_seconds=_seconds("TENANT_CACHE_SECONDS", 60),
        sms_queue_url=_text("SMS_QUEUE_URL"),
        inbound_queue_url=_text("INBOUND_QUEUE_URL"),
        allow_plain_secrets=os.environ.get("ALLOW_PLAIN_SECRETS", "").lower() == "true"
        and not (in_lambda and endpoint is None),
        signup_queue_url=_text("SIGNUP_QUEUE_URL"),
        service_name=os.environ.get("POWERTOOLS_SERVICE_NAME", "sms-consent"),
        twilio_account_sid=os.environ.get("TWILIO_ACCOUNT_SID", ""),
        twilio_auth_token_secret_arn=_text("TWILIO_AUTH_TOKEN_SECRET_ARN"),
        event_bus_name=_text("EVENT_BUS_NAME"),
        webhook_queue_url=_text("WEBHOOK_QUEUE_URL"),
        list_sync_queue_url=_text("LIST_SYNC_QUEUE_URL"),
        import_queue_url=_text("IMPORT_QUEUE_URL"),
        webhook_dead_letter_queue_url=_text("WEBHOOK_DEAD_LETTER_QUEUE_URL"),
        allow_loopback_webhooks=os.environ.get("LOCAL_WEBHOOKS", "").lower() == "true"
        and not (in_lambda and endpoint is None),
    )


def reset() -> None:
    """Forget the cached settings (tests and the local stack change the environment)."""
    get.cache_clear()
