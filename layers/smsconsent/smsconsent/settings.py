"""Process settings read once from the environment (the template sets them in AWS,
the local stack and the tests set them locally). Logic takes values from here,
never from ``os.environ`` directly."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache


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


@cache
def get() -> Settings:
    return Settings(
        table_name=os.environ.get("TABLE_NAME", "sms-consent"),
        dynamodb_endpoint=os.environ.get("DYNAMODB_ENDPOINT") or None,
        region=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "eu-central-1",
        sms_sender=os.environ.get("SMS_SENDER", "aws"),
        pepper_secret_arn=os.environ.get("PEPPER_SECRET_ARN") or None,
        pepper_json=os.environ.get("PEPPER_JSON") or None,
        tenant_cache_seconds=int(os.environ.get("TENANT_CACHE_SECONDS", "60")),
        sms_queue_url=os.environ.get("SMS_QUEUE_URL") or None,
        inbound_queue_url=os.environ.get("INBOUND_QUEUE_URL") or None,
        allow_plain_secrets=os.environ.get("ALLOW_PLAIN_SECRETS", "").lower() == "true"
        and not (os.environ.get("AWS_LAMBDA_FUNCTION_NAME") and not os.environ.get("DYNAMODB_ENDPOINT")),
        signup_queue_url=os.environ.get("SIGNUP_QUEUE_URL") or None,
    )


def reset() -> None:
    """Forget the cached settings (tests and the local stack change the environment)."""
    get.cache_clear()
