"""Access (GDPR Art. 15), erasure (Art. 17) and opt-out on the person's behalf."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import unquote

from smsconsent import clock, consent, errors, evidence, keys, optout, pages, phone, store
from smsconsent.clock import iso, parse_iso
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
    subject, events = _held(tenant, number)
    answer: dict[str, Any] = {"tenant": tenant.id, "phone": number.e164, "held": subject is not None}
    if subject is None:
        return answer | {"consents": [], "evidence": [], "suppressed": False}
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


_READS = 3  # reads of subject and evidence before the report is cut to the subject read


def _held(tenant: Tenant, number: phone.Phone) -> tuple[store.Subject | None, list[store.Evidence]]:
    """The subject and its evidence as of one moment. The evidence is read after the
    subject, so a change committed in between adds events the subject read does not know
    (the opt-out list sync after a STOP) or removes them (an erasure): a chain that would
    not verify. Read again; if changes keep coming, report as of the last subject read
    (and a chain still short of its events is what the report must say)."""
    hashes = keys.subject_hashes(tenant.id, number.e164)
    attempt = 0
    while True:
        attempt += 1
        subject = store.load_subject(tenant.id, hashes)
        if subject is None:
            return None, []
        events = store.evidence_of(subject.pk)
        if subject.purged_at or sorted(e.seq for e in events) == list(range(1, subject.ev_seq + 1)):
            return subject, events
        if attempt == _READS:
            return subject, [e for e in events if e.seq <= subject.ev_seq]


def _public(record: store.ConsentRecord) -> dict[str, Any]:
    """A consent record without token hashes (they open nothing, but are no one's business)."""
    hidden = {"token", "confirmed_token", "undo_seq"}
    out: dict[str, Any] = {k: v for k, v in record.items() if k not in hidden and k != "prior"}
    prior = record.get("prior")
    if prior:
        out["before_this_request"] = prior.get("state")
    return out


# The erasure's answer in words (``outcome`` -> summary). ``held`` says whether anything
# was held before, so a second erasure still answers ``held: true``: ``outcome`` and
# ``summary`` say that only the marker is left.
_ERASED = {
    "nothing_held": "Nothing was held on this number, so nothing was erased.",
    "deleted": "Everything held on this number was deleted; nothing of it is kept.",
    "suppression_kept": "The personal data of this number was erased. It had opted out, so its "
    "suppression marker is kept (see kept).",
    "already_erased": "This number was erased before: only its suppression marker is held, nothing "
    "personal, so nothing more was erased (see kept).",
}


def _kept(evidence_until: str | None) -> list[dict[str, str | None]]:
    kept: list[dict[str, str | None]] = [
        {
            "what": "suppression_marker",
            "detail": "a keyed hash of the number (not the number itself) and the opt-out with its date",
            "why": "the opt-out must be honoured: marketing to this number stays refused",
            "until": None,
        }
    ]
    if evidence_until:
        kept.append(
            {
                "what": "evidence",
                "detail": "the evidence events of the consent and the opt-out, without IP address, "
                "user agent or free text",
                "why": "proof of the consent and of its withdrawal (GDPR Art. 7(1), 17(3)(e))",
                "until": evidence_until,
            }
        )
    return kept


def _erased(
    outcome: str, held: bool, erased: bool, subject: store.Subject | None, tenant: Tenant
) -> dict[str, Any]:
    suppress = outcome in ("suppression_kept", "already_erased")
    purge = consent.purge_at(subject, tenant) if subject is not None and suppress else None
    until = iso(purge) if purge else None
    return {
        "erased": erased,
        "held": held,
        "suppression_kept": suppress,
        "outcome": outcome,
        "summary": _ERASED[outcome],
        "kept": _kept(until) if suppress else [],
    }


def erase(tenant: Tenant, number: phone.Phone) -> dict[str, Any]:
    """Erase the number: nothing personal stays. An opted-out number keeps its
    suppression marker (its keyed hash and the opt-out), and the evidence of it without
    personal data until the evidence period ends; anything else is deleted entirely.
    The answer says in words (``outcome``, ``summary``, ``kept``) what was kept and why."""
    hashes = keys.subject_hashes(tenant.id, number.e164)

    def attempt() -> dict[str, Any]:
        now = clock.now()
        subject = store.load_subject(tenant.id, hashes)
        if subject is None:
            return _erased("nothing_held", False, False, None, tenant)
        suppress = consent.holds_opt_out(subject)
        if suppress and _only_a_marker(subject):
            # Erased before (or never held more): nothing to erase, no second "erased" event.
            return _erased("already_erased", True, False, subject, tenant)
        if not suppress:
            # The chain goes with the subject; its last event waits outside it for the stream.
            farewell = evidence.append(subject, "erased", now, {"via": "privacy", "suppression_kept": False})
            store.rewrite(subject, now, delete_subject=True, farewell=farewell)
            return _erased("deleted", True, True, None, tenant)
        code = subject.optout_code
        consent.reduce_to_suppression(subject, now)
        event = evidence.append(subject, "erased", now, {"via": "privacy", "suppression_kept": True})
        store.rewrite(subject, now, due=consent.next_due(subject, tenant), new_events=[event])
        if code:
            store.delete_code(code)
        return _erased("suppression_kept", True, True, subject, tenant)

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


# Who processes the data besides the controller: AWS always (it runs this), and each SMS
# provider whose webhooks the tenant receives (they carry the person's replies).
_PROVIDERS = {
    "twilio": "Twilio Inc.",
    "vonage": "Vonage",
    "plivo": "Plivo Inc.",
    "telnyx": "Telnyx LLC",
    "bird": "Bird (MessageBird B.V.)",
    "sinch": "Sinch AB",
    "cm": "CM.com",
}


def report(tenant: Tenant, number: phone.Phone, language: str | None = None) -> tuple[str, pages.Report]:
    """The access report's facts and its language (the person's own, else ``language``
    if the tenant speaks it, else the tenant's first): what ``export`` holds, in words."""
    subject = store.load_subject(tenant.id, keys.subject_hashes(tenant.id, number.e164))
    now = clock.now()
    events = store.evidence_of(subject.pk) if subject is not None else []
    lang = pages.language_of(None, (subject.language if subject else None) or tenant.language(language))
    held = subject is not None and not _only_a_marker(subject)
    consents = []
    for k, record in sorted(subject.consents.items()) if subject is not None else []:
        channel, purpose = k.split(":", 1)
        shown = record.get("text") or {}
        text = tenant.consent_text(f"{shown.get('id')}:{shown.get('version')}") if shown.get("id") else None
        wording = None
        # Only the wording whose fingerprint is the one recorded at signup.
        if (
            text is not None
            and shown.get("language") in text.wording
            and text.sha256(shown["language"]) == shown.get("sha256")
        ):
            wording = text.wording[shown["language"]]
        lapses = (
            iso(consent.lapse_at(subject, record, tenant))
            if subject is not None
            and record["state"] == consent.ACTIVE
            and purpose in tenant.marketing_purposes()
            else None
        )
        expires = (
            iso(
                parse_iso(record.get("issued_at") or record["since"])
                + timedelta(hours=tenant.token_ttl_hours)
            )
            if record["state"] == consent.PENDING
            else None
        )
        consents.append(
            pages.ReportConsent(
                channel,
                _describe(tenant, purpose, lang),
                record["state"],
                record["since"],
                wording,
                shown.get("id"),
                shown.get("version"),
                lapses,
                expires,
            )
        )
    purge = consent.purge_at(subject, tenant) if subject is not None else None
    return lang, pages.Report(
        tenant_name=tenant.name,
        controller=tenant.controller or tenant.name,
        phone=subject.phone if subject is not None and subject.phone else (number.e164 if held else None),
        held=held,
        suppressed=subject is not None and consent.holds_opt_out(subject),
        consents=tuple(consents) if held else (),
        events=tuple(_report_event(tenant, e, lang) for e in events),
        processors=(
            ("Amazon Web Services EMEA SARL", "hosting"),
            *((_PROVIDERS[p], "inbound") for p in sorted(tenant.providers) if p in _PROVIDERS),
        ),
        token_ttl_hours=tenant.token_ttl_hours,
        lapse_after_days=tenant.lapse_after_days,
        evidence_retention_days=tenant.evidence_retention_days,
        evidence_until=iso(purge) if purge else None,
        as_of=iso(now),
    )


def _describe(tenant: Tenant, purpose: str, lang: str) -> str:
    known = tenant.purposes.get(purpose)
    if known is None:
        return purpose
    return known.description.get(lang) or known.description.get(tenant.default_language) or purpose


def _report_event(tenant: Tenant, event: store.Evidence, lang: str) -> pages.ReportEvent:
    data, pii = event.data or {}, event.pii or {}
    listed = data.get("purposes")
    if not isinstance(listed, list):
        touched = data.get("consents")
        listed = sorted({str(c).split(":", 1)[-1] for c in touched}) if isinstance(touched, list) else []
    source = pii.get("source") or data.get("source")
    return pages.ReportEvent(
        at=event.at,
        type=event.type,
        via=data.get("via") if isinstance(data.get("via"), str) else None,
        keyword=data.get("keyword") if isinstance(data.get("keyword"), str) else None,
        purposes=tuple(_describe(tenant, str(p), lang) for p in listed),
        ip=pii.get("ip"),
        device=pii.get("user_agent"),
        reason=pii.get("reason") or None,
        source=source if isinstance(source, str) else None,
    )
