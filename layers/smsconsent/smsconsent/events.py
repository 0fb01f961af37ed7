"""Consent events: what the outside world learns of each change, as CloudEvents 1.0.

An event is derived from an evidence event alone (its type, time, sequence number and
non-personal data) plus the subject's number as it is when the event is published: the
evidence item written in the change's own transaction is the outbox, so an event exists
if and only if its change committed. Pure: no storage, no AWS.

What is left out on purpose: personal free text (the reason a person typed, the SMS they
sent) and anything secret (token hashes). An event sent to a CRM cannot be erased later;
free text may hold a name or another number.
"""

from __future__ import annotations

import uuid
from typing import Any

SPECVERSION = "1.0"
SOURCE = "sms-consent"

# Evidence type -> event type. Evidence types missing here (none today) publish nothing.
TYPES: dict[str, str] = {
    "optin_requested": "consent.requested",
    "optin_repeated": "consent.requested",  # a repeated signup may add purposes: a request too
    "optin_confirmed": "consent.confirmed",
    "optout": "consent.opted_out",
    "optin_restored": "consent.restored",
    "consent_lapsed": "consent.lapsed",
    "optin_expired": "consent.expired",
    "consent_imported": "consent.imported",
    "erased": "subject.erased",
    "number_unreachable": "number.unreachable",
}
EVENT_TYPES: tuple[str, ...] = tuple(sorted(set(TYPES.values())))

# Why a change happened, when the change itself says it (never the person's own words).
_REASONS = {
    "consent_lapsed": "no_marketing_contact",
    "optin_expired": "not_confirmed",
    "erased": "erasure_request",
}
# Who or what made the change, when the evidence does not name it.
_VIA = {"consent_lapsed": "retention", "optin_expired": "retention", "erased": "privacy"}


def event_id(evidence_hash: str) -> str:
    """The event's id: the same on every redelivery, unique per evidence event (its hash
    covers the subject's whole chain before it)."""
    return str(uuid.UUID(hex=evidence_hash[:32]))


def _consents(data: dict[str, Any]) -> list[str]:
    listed = data.get("consents")
    return sorted(listed) if isinstance(listed, list) else []


def _channel(data: dict[str, Any], consents: list[str]) -> str | None:
    if isinstance(data.get("channel"), str) and not consents:
        return str(data["channel"])
    channels = {c.split(":", 1)[0] for c in consents}
    if len(channels) == 1:
        return channels.pop()
    return data.get("channel") if not channels else None  # several: see "consents"


def _purposes(data: dict[str, Any], consents: list[str]) -> list[str] | None:
    if isinstance(data.get("purposes"), list):
        return sorted(data["purposes"])
    if consents:
        return sorted({c.split(":", 1)[1] for c in consents})
    return None


def cloud_event(
    tenant: str,
    subject_key: str,
    evidence: dict[str, Any],
    phone: str | None,
) -> dict[str, Any] | None:
    """The CloudEvent for one evidence event (``type``, ``at``, ``seq``, ``data``, ``hash``),
    None when its type is not published."""
    event_type = TYPES.get(evidence["type"])
    if event_type is None:
        return None
    data: dict[str, Any] = evidence.get("data") or {}
    consents = _consents(data)
    return {
        "specversion": SPECVERSION,
        "id": event_id(evidence["hash"]),
        "source": f"{SOURCE}/{tenant}",
        "type": event_type,
        "time": evidence["at"],
        "subject": subject_key,
        "datacontenttype": "application/json",
        "data": {
            "tenant": tenant,
            "phone": phone,
            "channel": _channel(data, consents),
            "purposes": _purposes(data, consents),
            "consents": consents or None,
            "via": data.get("via") or _VIA.get(evidence["type"]),
            "keyword": data.get("keyword"),
            "campaign": data.get("campaign"),
            "reason": data.get("reason_code") or _REASONS.get(evidence["type"]),
            "provider": data.get("provider"),
            "seq": int(evidence["seq"]),
        },
    }


def wanted(subscribed: list[str], event_type: str) -> bool:
    """Whether a subscription to ``subscribed`` (types, or ``["*"]``) gets this event."""
    return "*" in subscribed or event_type in subscribed
