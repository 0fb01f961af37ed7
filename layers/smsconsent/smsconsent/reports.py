"""Delivery reports: what a provider's failure says about the recipient, applied to consent.

A "recipient opted out" error (the provider handled a STOP we never saw) records an
opt-out here, with evidence naming the provider, the code, the message and the campaign.
A permanent "no such number / not a mobile" error marks the number unreachable: the
pre-send check answers ``unreachable`` for marketing until it signs up again or texts in.
Anything else changes nothing. Each report is applied once: its provider message id is
recorded in the same transaction as its change, so a replay gets the first answer.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from smsconsent import campaigns, clock, consent, delivery_codes, errors, evidence, keys, phone, store
from smsconsent.retry import retry_on_conflict
from smsconsent.tenants import Tenant

MAX_REPORTS = 1000
STATUSES = ("delivered", "failed")
# A report's id is remembered this long: providers and sending systems retry for days, not
# months; a report replayed later than this is applied again (an opt-out twice is harmless,
# an "unreachable" after a later signup is a fresh report of a dead number anyway).
_REMEMBER = timedelta(days=90)
_MAX_TEXT = 200
_FIELDS = {"phone", "provider", "status", "error_code", "message_id", "campaign"}


@dataclass(frozen=True)
class Report:
    phone: phone.Phone
    provider: str
    status: str
    error_code: str | None
    message_id: str | None
    campaign: str | None

    @property
    def action(self) -> str:
        if self.status != "failed":
            return delivery_codes.NONE
        return delivery_codes.classify(self.provider, self.error_code)


def _text(item: dict[str, Any], name: str, where: str, required: bool = False) -> str | None:
    value = item.get(name)
    if value is None or value == "":
        if required:
            raise errors.Invalid("invalid_field", f"{name} is required", f"{where}.{name}")
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)  # error codes come as numbers from some systems
    if not isinstance(value, str) or len(value) > _MAX_TEXT:
        raise errors.Invalid(
            "invalid_field", f"{name} must be text of at most {_MAX_TEXT} characters", f"{where}.{name}"
        )
    return value.strip()


def _report(tenant: Tenant, item: Any, where: str) -> Report:
    if not isinstance(item, dict):
        raise errors.Invalid("invalid_field", "each report must be an object", where)
    unknown = sorted(set(item) - _FIELDS)
    if unknown:
        raise errors.Invalid("invalid_field", f"unknown fields {unknown}", f"{where}.{unknown[0]}")
    provider = _text(item, "provider", where, required=True)
    if provider not in delivery_codes.PROVIDERS:
        raise errors.Invalid(
            "invalid_field", f"provider must be one of {list(delivery_codes.PROVIDERS)}", f"{where}.provider"
        )
    status = _text(item, "status", where, required=True)
    if status not in STATUSES:
        raise errors.Invalid("invalid_field", 'status must be "delivered" or "failed"', f"{where}.status")
    raw = _text(item, "phone", where, required=True) or ""
    try:
        number = phone.normalise(raw, tenant.default_country)
    except phone.PhoneError as exc:
        raise errors.Invalid("invalid_phone", "phone is not a valid number", f"{where}.phone") from exc
    return Report(
        phone=number,
        provider=provider,
        status=status,
        error_code=_text(item, "error_code", where),
        # Required for a failure: it is what makes a retried report harmless.
        message_id=_text(item, "message_id", where, required=status == "failed"),
        campaign=_text(item, "campaign", where),
    )


def parse(tenant: Tenant, fields: dict[str, Any]) -> list[Report]:
    """Every report of the body, or a refusal naming the first field at fault (nothing is
    applied then)."""
    unknown = sorted(set(fields) - {"reports"})
    if unknown:
        raise errors.Invalid("invalid_field", f"unknown fields {unknown}", unknown[0] or "body")
    items = fields.get("reports")
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_REPORTS:
        raise errors.Invalid(
            "invalid_field", f"reports must be a list of 1 to {MAX_REPORTS} reports", "reports"
        )
    return [_report(tenant, item, f"reports[{i}]") for i, item in enumerate(items)]


def apply(tenant: Tenant, report: Report) -> str:
    """Apply one report; the action taken (``opted_out``, ``unreachable`` or ``none``)."""
    action = report.action
    if action == delivery_codes.NONE or not report.message_id:
        return delivery_codes.NONE
    digest = hashlib.sha256(f"{report.provider}|{report.message_id}".encode()).hexdigest()
    message_keys = (f"report:{tenant.id}:{digest}",)
    hashes = keys.subject_hashes(tenant.id, report.phone.e164)

    def attempt() -> str:
        now = clock.now()
        stored = store.message_answer(message_keys, now)
        if stored is not None:
            return str(stored["action"])
        subject = store.load_subject(tenant.id, hashes)
        done, change = _decide(tenant, report, action, subject, hashes[0], now)
        answer, keep = {"action": done}, now + _REMEMBER
        if change is None:
            earlier = store.remember_message(message_keys, answer, keep, now)
            return str(earlier["action"]) if earlier else done
        change.message = (message_keys, answer, keep)
        store.commit(change, now)
        return done

    return retry_on_conflict(attempt, "the number is being changed by another request; retry")


def _decide(
    tenant: Tenant, report: Report, action: str, subject: store.Subject | None, key: str, now: datetime
) -> tuple[str, store.Change | None]:
    data: dict[str, Any] = {
        "via": "provider",
        "provider": report.provider,
        "error_code": report.error_code,
        "provider_message_id": report.message_id,
    }
    if action == delivery_codes.OPTED_OUT:
        # An unknown number is suppressed too, as a STOP from it would be.
        target = subject or store.new_subject(tenant.id, key, now)
        changed = consent.opt_out(target, tenant, None, now)
        if not changed:
            return action, None
        named, raw = campaigns.evidence_parts(report.campaign or target.last_campaign)
        data |= {"consents": changed, **named, "country": report.phone.region}
        event = evidence.append(target, "optout", now, data, pii=raw)
        return action, store.Change(target, [event], due=consent.next_due(target, tenant))
    if subject is None:
        return delivery_codes.NONE, None  # nothing held: the pre-send check says no_consent anyway
    if subject.unreachable:
        return action, None
    subject.unreachable = {
        "since": clock.iso(now),
        "provider": report.provider,
        "code": report.error_code or "",
    }
    named, raw = campaigns.evidence_parts(report.campaign or subject.last_campaign)
    event = evidence.append(subject, "number_unreachable", now, data | named, pii=raw)
    return action, store.Change(subject, [event], due=consent.next_due(subject, tenant))


def apply_all(tenant: Tenant, reports: list[Report]) -> dict[str, Any]:
    return {"results": [{"phone": r.phone.e164, "action": apply(tenant, r)} for r in reports]}
