"""Consent events: what the outside world learns of each change, as CloudEvents 1.0.

An event is derived from an evidence event alone (its type, time, sequence number and
non-personal data) plus the subject's number as it is when the event is published: the
evidence item written in the change's own transaction is the outbox, so an event exists
if and only if its change committed. Pure: no storage, no AWS.

What is left out on purpose: personal free text (the reason a person typed, the SMS they
sent) and anything secret (token hashes). An event sent to a CRM cannot be erased later;
free text may hold a name or another number. The campaign is the sender's free text: it
goes out as its label (``campaigns.label``), without email addresses or phone numbers.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from typing import Any

from smsconsent import campaigns

SPECVERSION = "1.0"
SOURCE = "sms-consent"

# Evidence type -> event type. Evidence types missing here publish nothing (``number_reachable``:
# the end of an "unreachable", which the next consent event or send shows anyway).
TYPES: dict[str, str] = {
    "optin_requested": "consent.requested",
    "optin_repeated": "consent.requested",  # a repeated signup may add purposes: a request too
    "optin_confirmed": "consent.confirmed",
    "optout": "consent.opted_out",
    "optin_restored": "consent.restored",
    "optout_undone": "consent.restored",  # the opt-out page's undo, minutes after its opt-out
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
# Events about a number no longer held carry none, whatever is held under its key by the
# time the event is published (the same number signed up again, say).
_GONE = {"erased", "optin_expired"}
_NO_NUMBER = {TYPES[t] for t in _GONE}
# Who or what made the change, when the evidence does not name it.
_VIA = {"consent_lapsed": "retention", "optin_expired": "retention", "erased": "privacy"}


def event_id(tenant: str, subject_key: str, evidence_hash: str) -> str:
    """The event's id: the same on every redelivery, unique per change. The evidence hash
    alone is not: two new chains (two unknown numbers opted out in the same second) start
    from the same genesis with the same data, so the tenant and subject go in too."""
    digest = hashlib.sha256(f"{tenant}|{subject_key}|{evidence_hash}".encode()).hexdigest()
    return str(uuid.UUID(hex=digest[:32]))


def order(at: str, chain_seq: int) -> int:
    """``seq``: orders one subject's events, and keeps growing when the subject starts a new
    evidence chain (after an erasure or expiry deleted it, or its evidence was purged), where
    the chain's own count restarts at 1: the change's time in seconds, then its place in the
    chain. (Two chains of one number within the same second would still tie; a person who
    is erased and signs up again needs longer than that.)"""
    moment = datetime.strptime(at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return int(moment.timestamp()) * 1000 + chain_seq % 1000


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
        "id": event_id(tenant, subject_key, evidence["hash"]),
        "source": f"{SOURCE}/{tenant}",
        "type": event_type,
        "time": evidence["at"],
        "subject": subject_key,
        "datacontenttype": "application/json",
        "data": {
            "tenant": tenant,
            "phone": None if evidence["type"] in _GONE else phone,
            "channel": _channel(data, consents),
            "purposes": _purposes(data, consents),
            "consents": consents or None,
            "via": data.get("via") or _VIA.get(evidence["type"]),
            "keyword": data.get("keyword"),
            # A label: evidence written before labels came may hold the raw id.
            "campaign": campaigns.label_of(data.get("campaign")),
            "reason": data.get("reason_code") or _REASONS.get(evidence["type"]),
            "provider": data.get("provider"),
            "seq": order(evidence["at"], int(evidence["seq"])),
        },
    }


def with_phone(event: dict[str, Any], phone: str | None) -> dict[str, Any]:
    """The event with the number held now (none for an erasure or an expiry, whatever is
    held under the key by then: the number signed up again, say)."""
    if event["type"] in _NO_NUMBER:
        phone = None
    return {**event, "data": {**event["data"], "phone": phone}}


def wanted(subscribed: list[str], event_type: str) -> bool:
    """Whether a subscription to ``subscribed`` (types, or ``["*"]``) gets this event."""
    return "*" in subscribed or event_type in subscribed
