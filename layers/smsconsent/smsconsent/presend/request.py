"""The check request, validated field by field (``errors.Invalid`` names the field at
fault), and which tenant a direct invocation is bound to."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from smsconsent import errors
from smsconsent.clock import parse_iso
from smsconsent.tenants import CATEGORIES, CHANNELS, SLUG, Tenant

MAX_RECIPIENTS = 10_000
MAX_CAMPAIGN = 100
SEND_AT_RANGE = timedelta(days=366)  # consent states are today's: a send far off is not checkable


@dataclass(frozen=True)
class CheckRequest:
    recipients: list[str]
    category: str  # marketing | transactional
    purpose: str
    channel: str
    campaign: str | None
    send_at: datetime
    record: bool


# ---- who may check for which tenant --------------------------------------------------------

# A direct invocation is bound to a tenant by the alias it comes through:
# ``<function>:tenant-<id>``; ``lambda:InvokeFunction`` on that alias ARN is the grant.
TENANT_ALIAS_PREFIX = "tenant-"


def alias_tenant(invoked_function_arn: str | None) -> str | None:
    """The tenant id of a ``tenant-<id>`` alias the function was invoked through, else None
    (unqualified, a version, or another alias)."""
    parts = (invoked_function_arn or "").split(":")
    if len(parts) != 8 or not parts[7].startswith(TENANT_ALIAS_PREFIX):
        return None
    tenant_id = parts[7].removeprefix(TENANT_ALIAS_PREFIX)
    return tenant_id if SLUG.match(tenant_id) else None


def bind(invoked_function_arn: str | None, named: Any) -> None:
    """Refuse (``tenant_not_bound``) a direct invocation that did not come through the alias
    of the tenant it names, before anything is read or written."""
    bound = alias_tenant(invoked_function_arn)
    if bound is None:
        raise errors.Forbidden(
            "tenant_not_bound",
            f"invoke through the tenant's alias, {TENANT_ALIAS_PREFIX}<tenant id>; "
            "this invocation is bound to no tenant",
            "tenant",
        )
    if isinstance(named, str) and named != bound:
        raise errors.Forbidden("tenant_not_bound", f"this alias is bound to the tenant {bound!r}", "tenant")


# ---- the request ----------------------------------------------------------------------------


def _invalid(field: str, message: str, code: errors.InvalidCode = "invalid_field") -> errors.Invalid:
    return errors.Invalid(code, message, field)


def parse_request(tenant: Tenant, data: Mapping[str, Any], now: datetime) -> CheckRequest:
    """Validate the check request; ``errors.Invalid`` names the field at fault."""
    recipients = _recipients(data)
    purpose = _purpose(tenant, data)
    category = _category(tenant, data, purpose)
    channel = _channel(data)
    campaign = _campaign(data)
    moment = _send_at(data, now)
    record = _record(data)
    return CheckRequest(
        recipients=recipients,
        category=category,
        purpose=purpose,
        channel=channel,
        campaign=campaign,
        send_at=moment.replace(microsecond=0),
        record=record,
    )


def _recipients(data: Mapping[str, Any]) -> list[str]:
    recipients = data.get("recipients")
    if not isinstance(recipients, list) or not all(isinstance(r, str) for r in recipients):
        raise _invalid("recipients", "recipients must be a list of phone numbers as strings")
    if not 1 <= len(recipients) <= MAX_RECIPIENTS:
        raise _invalid("recipients", f"recipients must hold 1 to {MAX_RECIPIENTS:,} numbers")
    return recipients


def _purpose(tenant: Tenant, data: Mapping[str, Any]) -> str:
    """The purpose named, else ``marketing`` where the tenant has it, else its default."""
    purpose = data.get("purpose")
    if purpose is None:
        purpose = "marketing" if "marketing" in tenant.purposes else tenant.default_purposes[0]
    if not isinstance(purpose, str):
        raise _invalid("purpose", "purpose must be a string")
    if purpose not in tenant.purposes:
        raise _invalid("purpose", "this tenant has no such purpose", "unknown_purpose")
    return purpose


def _category(tenant: Tenant, data: Mapping[str, Any], purpose: str) -> str:
    """The category named, else the purpose's."""
    category = data.get("category")
    if category is None:
        category = tenant.purposes[purpose].category
    if category not in CATEGORIES:
        raise _invalid("category", f"category must be one of {', '.join(CATEGORIES)}")
    if category == "marketing" and tenant.purposes[purpose].category != "marketing":
        # Consent to receipts is no consent to advertising: a STOP leaves such a purpose
        # active, so marketing under it would reach people who said STOP.
        raise _invalid("category", f"marketing cannot be sent under the transactional purpose {purpose!r}")
    return str(category)


def _channel(data: Mapping[str, Any]) -> str:
    channel = data.get("channel")
    if channel is None:
        channel = "sms"
    if channel not in CHANNELS:
        raise _invalid("channel", f"channel must be one of {', '.join(CHANNELS)}")
    return str(channel)


def _campaign(data: Mapping[str, Any]) -> str | None:
    campaign = data.get("campaign")
    if campaign is not None and (not isinstance(campaign, str) or not 1 <= len(campaign) <= MAX_CAMPAIGN):
        raise _invalid("campaign", f"campaign must be a string of 1 to {MAX_CAMPAIGN} characters")
    # An id, not a message: no control characters, and nothing DynamoDB cannot store (a
    # direct invocation's JSON may carry a lone surrogate, which the HTTP edge refuses).
    if campaign is not None and (_CONTROL.search(campaign) or not _utf8(campaign)):
        raise _invalid("campaign", "campaign must be text without control characters")
    return campaign


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _send_at(data: Mapping[str, Any], now: datetime) -> datetime:
    """``send_at`` (within a year of now), else now."""
    send_at = data.get("send_at")
    if send_at is None:
        return now
    if not isinstance(send_at, str) or len(send_at) > 40:
        raise _invalid("send_at", "send_at must be an ISO-8601 time")
    try:
        moment = parse_iso(send_at)
    except (ValueError, OverflowError) as exc:
        raise _invalid("send_at", "send_at must be an ISO-8601 time") from exc
    if abs(moment - now) > SEND_AT_RANGE:
        raise _invalid("send_at", "send_at must be within a year of now")
    return moment


def _record(data: Mapping[str, Any]) -> bool:
    record = data.get("record")
    if record is None:
        return False
    if not isinstance(record, bool):
        raise _invalid("record", "record must be true or false")
    return record
