"""Opting out other than by SMS keyword: the per-recipient link (/o/{code}) and, for the
privacy function, on the person's behalf. One conditional write with its evidence."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from smsconsent import campaigns, clock, consent, errors, evidence, keys, store, tenants
from smsconsent.retry import retry_on_conflict
from smsconsent.tenants import Tenant

CODE_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


@dataclass
class Result:
    """``status``: pending (the page may be shown) | opted_out | already_opted_out |
    unknown_code | restored (an undo) | undo_unavailable."""

    status: str
    tenant: Tenant | None = None
    language: str | None = None
    # The purposes of the STOP scope in force: before (look) or after the change.
    in_force: list[str] = field(default_factory=list)
    # What the change withdrew of what was in force (by_link), or brought back (undo).
    purposes: list[str] = field(default_factory=list)
    # Takes the page's opt-out back within consent.UNDO_WINDOW (by_link, when it withdrew
    # something that was in force).
    undo: str | None = None


def _subject_of_code(code: str) -> tuple[Tenant | None, store.Subject | None]:
    if not 8 <= len(code) <= 64 or not set(code) <= CODE_CHARS:
        return None, None
    item = store.get_code(code)
    if item is None:
        return None, None
    tenant = tenants.get(item.tenant)
    return tenant, store.load_subject_by_pk(item.subject_pk) if tenant else None


def _suppressed(subject: store.Subject, tenant: Tenant) -> bool:
    scope = set(tenant.purposes) if tenant.stop_scope == "all" else set(tenant.marketing_purposes())
    records = [r for k, r in subject.consents.items() if k.split(":", 1)[1] in scope]
    return bool(records) and all(r["state"] == consent.OPTED_OUT for r in records)


def look(code: str) -> Result:
    tenant, subject = _subject_of_code(code)
    if tenant is None or subject is None:
        return Result("unknown_code")
    status = "already_opted_out" if _suppressed(subject, tenant) else "pending"
    return Result(status, tenant, subject.language, consent.in_force(subject, tenant, clock.now()))


def _chosen(tenant: Tenant, subject: store.Subject, wanted: list[str], now: datetime) -> set[str]:
    """The purposes a partial opt-out names, each one the person has in force now."""
    unknown = [p for p in wanted if p not in tenant.purposes]
    if unknown:
        raise errors.Invalid("unknown_purpose", f"unknown purpose: {unknown[0][:40]}", "purposes")
    in_force = consent.in_force(subject, tenant, now)
    inactive = [p for p in wanted if p not in in_force]
    if inactive:
        raise errors.Invalid(
            "invalid_field", f"purpose {inactive[0]} is not in force for this number", "purposes"
        )
    return set(wanted)


def by_link(
    code: str, reason: str | None, ip: str, user_agent: str, purposes: list[str] | None = None
) -> Result:
    """The opt-out page's button: everything in the STOP scope, or only ``purposes`` (each
    one in force, else ``errors.Invalid`` and nothing is written)."""
    tenant, subject = _subject_of_code(code)
    if tenant is None or subject is None:
        return Result("unknown_code")
    pk = subject.pk
    pii = {"ip": ip, "user_agent": user_agent[:500]}

    def attempt() -> Result:
        now = clock.now()
        current = store.load_subject_by_pk(pk)
        if current is None:
            return Result("unknown_code")
        chosen = _chosen(tenant, current, purposes, now) if purposes is not None else None
        changed = consent.opt_out(current, tenant, None, now, chosen, reaffirm=False)
        in_force = consent.in_force(current, tenant, now)
        if not changed:
            return Result("already_opted_out", tenant, current.language, in_force)
        named, raw = campaigns.evidence_parts(current.last_campaign)
        data: dict[str, Any] = {
            "consents": changed,
            "via": "link",
            **named,
            "country": current.region,  # for insights: no number, only its country
            "reason_given": bool(reason),
        }
        if chosen is not None:
            data["purposes"] = sorted(chosen)
        personal = {**pii, **raw, "reason": (reason or "")[:1000]}
        event = evidence.append(current, "optout", now, data, pii=personal)
        marked = consent.mark_undoable(current, changed, event.seq)
        store.commit(store.Change(current, [event], due=consent.next_due(current, tenant)), now)
        dropped = [p for p in tenant.purposes if any(k.split(":", 1)[1] == p for k in marked)]
        token = _undo_token(tenant.id, code, event.seq, event.hash) if marked else None
        return Result("opted_out", tenant, current.language, in_force, dropped, token)

    return retry_on_conflict(attempt, "the subscription is being changed by another request; retry")


def _undo_token(tenant_id: str, code: str, seq: int, head: str, version: str | None = None) -> str:
    """``<seq>.<keyed digest>``: names the opt-out (its evidence event) and is bound to the
    code, the tenant and that event's hash, which no one outside can compute."""
    return f"{seq}.{keys.keyed_digest(f'optout-undo|{tenant_id}|{code}|{seq}|{head}'.encode(), version)}"


def _undo_seq(tenant_id: str, code: str, token: str, subject: store.Subject) -> int | None:
    """The evidence event the token names, if it is one the page handed out for this
    code and it is still the subject's latest event."""
    seq_text, _, digest = token.partition(".")
    version = digest.partition(".")[0]
    if not seq_text.isdigit() or len(seq_text) > 9 or int(seq_text) != subject.ev_seq:
        return None
    try:
        expected = _undo_token(tenant_id, code, subject.ev_seq, subject.ev_head, version)
    except KeyError:
        return None  # a pepper version that does not exist (any more)
    return subject.ev_seq if hmac.compare_digest(expected.encode(), token.encode()) else None


def undo(code: str, token: str, ip: str, user_agent: str) -> Result:
    """Take back the page's opt-out that handed out ``token``: within consent.UNDO_WINDOW,
    while nothing was recorded since, and only what it withdrew of what was in force.
    Anything else (a forged, replayed or late token, an opt-out by STOP) changes nothing."""
    tenant, subject = _subject_of_code(code)
    if tenant is None or subject is None:
        return Result("unknown_code")
    pk = subject.pk

    def attempt() -> Result:
        now = clock.now()
        current = store.load_subject_by_pk(pk)
        if current is None:
            return Result("unknown_code")
        seq = _undo_seq(tenant.id, code, token, current) if current.optout_code == code else None
        restored = consent.undo_opt_out(current, seq, now) if seq is not None else []
        if not restored:
            return Result(
                "undo_unavailable", tenant, current.language, consent.in_force(current, tenant, now)
            )
        event = evidence.append(
            current,
            "optout_undone",
            now,
            {"consents": restored, "via": "link", "undoes": seq},
            pii={"ip": ip, "user_agent": user_agent[:500]},
        )
        store.commit(store.Change(current, [event], due=consent.next_due(current, tenant)), now)
        back = [p for p in tenant.purposes if any(k.split(":", 1)[1] == p for k in restored)]
        return Result("restored", tenant, current.language, consent.in_force(current, tenant, now), back)

    return retry_on_conflict(attempt, "the subscription is being changed by another request; retry")


def withdraw(
    tenant: Tenant,
    load: Callable[[], store.Subject | None],
    via: str,
    reason: str | None,
    pii: dict[str, str],
    new_key: str | None = None,
    purposes: Callable[[store.Subject], set[str] | None] | None = None,
) -> list[str]:
    """Opt the subject out of everything in the tenant's STOP scope on every channel;
    returns the consents changed (empty when it was opted out already). With ``new_key``,
    a number we hold nothing on gets a suppression marker under that key. ``purposes``:
    which of the scope to withdraw, decided on the subject as read (None: all of it)."""

    def attempt() -> list[str]:
        now = clock.now()
        subject = load()
        if subject is None:
            if new_key is None:
                return []
            subject = store.new_subject(tenant.id, new_key, now)
        changed = consent.opt_out(subject, tenant, None, now, purposes(subject) if purposes else None)
        if not changed:
            return []
        named, raw = campaigns.evidence_parts(subject.last_campaign)
        event = evidence.append(
            subject,
            "optout",
            now,
            {
                "consents": changed,
                "via": via,
                **named,
                "country": subject.region,  # for insights: no number, only its country
                "reason_given": bool(reason),
            },
            pii={**pii, **raw, "reason": (reason or "")[:1000]},
        )
        store.commit(store.Change(subject, [event], due=consent.next_due(subject, tenant)), now)
        return changed

    return retry_on_conflict(attempt, "the subscription is being changed by another request; retry")


def provider_opted_out(tenant: Tenant, e164: str, detail: str) -> list[str]:
    """The SMS provider refused a message because the number opted out with it (Twilio
    21610, AWS DESTINATION_PHONE_NUMBER_OPTED_OUT, SNS OptedOut): record the opt-out."""
    hashes = keys.subject_hashes(tenant.id, e164)
    return withdraw(
        tenant,
        lambda: store.load_subject(tenant.id, hashes),
        "provider_opt_out",
        None,
        {"provider_answer": detail[:300]},
        new_key=hashes[0],
    )
