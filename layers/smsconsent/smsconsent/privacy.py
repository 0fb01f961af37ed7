"""Access (GDPR Art. 15), erasure (Art. 17) and opt-out on the person's behalf."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from smsconsent import clock, consent, errors, evidence, keys, optout, phone, store
from smsconsent.retry import retry_on_conflict
from smsconsent.tenants import Tenant


def number_of(raw: str, tenant: Tenant) -> phone.Phone:
    """``{phone}`` of the path: E.164, URL-encoded or not, the "+" optional."""
    text = unquote(raw or "").strip()
    if text and not text.startswith("+"):
        text = "+" + text
    try:
        return phone.normalise(text, tenant.default_country)
    except phone.PhoneError as exc:
        raise errors.Invalid("invalid_phone", "phone must be an E.164 number", "phone") from exc


def export(tenant: Tenant, number: phone.Phone) -> dict[str, Any]:
    """Everything held on the number at this tenant, with the evidence chain checked."""
    subject = store.load_subject(tenant.id, keys.subject_hashes(tenant.id, number.e164))
    answer: dict[str, Any] = {"tenant": tenant.id, "phone": number.e164, "held": subject is not None}
    if subject is None:
        return answer | {"consents": [], "evidence": [], "suppressed": False}
    events = store.evidence_of(subject.pk)
    if subject.purged_at:
        ok, detail = (not events), "evidence purged after its retention period"
    else:
        ok, detail = evidence.verify(events, subject.ev_head, subject.ev_seq)
    return answer | {
        "subject": {
            "key": subject.pk.rsplit("#", 1)[-1],
            "created_at": subject.created_at,
            "phone_stored": subject.phone is not None,
            "region": subject.region,
            "language": subject.language,
            "last_contact_at": subject.last_contact_at,
            "last_campaign": subject.last_campaign,
            "recent_marketing_sends": subject.sends,
            "optout_url": tenant.link(f"/o/{subject.optout_code}") if subject.optout_code else None,
            "evidence_purged_at": subject.purged_at,
        },
        "consents": [
            {"channel": k.split(":", 1)[0], "purpose": k.split(":", 1)[1], **_public(record)}
            for k, record in sorted(subject.consents.items())
        ],
        "open_opt_ins": {
            channel: {
                "purposes": p.get("purposes"),
                "issued_at": p.get("issued_at"),
                "sms_sent_at": p.get("sms_at"),
            }
            for channel, p in consent.open_opt_ins(subject).items()
        },
        "suppressed": consent.holds_opt_out(subject),
        "evidence": [
            {
                "seq": e.seq,
                "type": e.type,
                "at": e.at,
                "data": e.data,
                "personal_data": e.pii,
                "hash": e.hash,
                "prev": e.prev,
            }
            for e in events
        ],
        "chain": {"verified": ok, "detail": detail, "events": len(events)},
    }


def _public(record: store.ConsentRecord) -> dict[str, Any]:
    """A consent record without token hashes (they open nothing, but are no one's business)."""
    hidden = {"token", "confirmed_token", "undo_seq"}
    out: dict[str, Any] = {k: v for k, v in record.items() if k not in hidden and k != "prior"}
    prior = record.get("prior")
    if prior:
        out["before_this_request"] = prior.get("state")
    return out


def erase(tenant: Tenant, number: phone.Phone) -> dict[str, Any]:
    """Erase the number: nothing personal stays. An opted-out number keeps its
    suppression marker (its keyed hash and the opt-out), and the evidence of it without
    personal data until the evidence period ends; anything else is deleted entirely."""
    hashes = keys.subject_hashes(tenant.id, number.e164)

    def attempt() -> dict[str, Any]:
        now = clock.now()
        subject = store.load_subject(tenant.id, hashes)
        if subject is None:
            return {"erased": False, "held": False, "suppression_kept": False}
        suppress = consent.holds_opt_out(subject)
        if suppress and _only_a_marker(subject):
            # Erased before (or never held more): nothing to erase, no second "erased" event.
            return {"erased": False, "held": True, "suppression_kept": True}
        if not suppress:
            # The chain goes with the subject; its last event waits outside it for the stream.
            farewell = evidence.append(subject, "erased", now, {"via": "privacy", "suppression_kept": False})
            store.rewrite(subject, now, delete_subject=True, farewell=farewell)
        else:
            code = subject.optout_code
            consent.reduce_to_suppression(subject, now)
            event = evidence.append(subject, "erased", now, {"via": "privacy", "suppression_kept": True})
            store.rewrite(subject, now, due=consent.next_due(subject, tenant), new_events=[event])
            if code:
                store.delete_code(code)
        return {"erased": True, "held": True, "suppression_kept": suppress}

    return retry_on_conflict(attempt, "the subject is being changed by another request; retry")


def _only_a_marker(subject: store.Subject) -> bool:
    """Nothing personal is held: bare opt-out records and evidence without personal data."""
    bare = all(set(r) == {"state", "since"} for r in subject.consents.values())
    fields = (subject.phone, subject.region, subject.language, subject.optout_code, subject.pending)
    held = any(fields) or subject.sends or subject.last_campaign or subject.last_contact_at
    return bare and not held and not any(e.pii for e in store.evidence_of(subject.pk))


def opt_out(tenant: Tenant, number: phone.Phone, reason: str | None) -> dict[str, Any]:
    hashes = keys.subject_hashes(tenant.id, number.e164)
    changed = optout.withdraw(
        tenant, lambda: store.load_subject(tenant.id, hashes), "privacy", reason, {}, new_key=hashes[0]
    )
    return {"status": "opted_out" if changed else "already_opted_out", "consents": changed}
