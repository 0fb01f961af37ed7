"""Opting out other than by SMS keyword: the per-recipient link (/o/{code}) and, for the
privacy function, on the person's behalf. One conditional write with its evidence."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from smsconsent import clock, consent, evidence, store, tenants
from smsconsent.retry import retry_on_conflict
from smsconsent.tenants import Tenant

CODE_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


@dataclass
class Result:
    status: str  # pending (the page may be shown) | opted_out | already_opted_out | unknown_code
    tenant: Tenant | None = None
    language: str | None = None


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
    return Result(status, tenant, subject.language)


def by_link(code: str, reason: str | None, ip: str, user_agent: str) -> Result:
    tenant, subject = _subject_of_code(code)
    if tenant is None or subject is None:
        return Result("unknown_code")
    changed = withdraw(
        tenant,
        lambda: store.load_subject_by_pk(subject.pk),
        "link",
        reason,
        {"ip": ip, "user_agent": user_agent[:500]},
    )
    return Result("opted_out" if changed else "already_opted_out", tenant, subject.language)


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
        event = evidence.append(
            subject,
            "optout",
            now,
            {
                "consents": changed,
                "via": via,
                "campaign": subject.last_campaign,
                "country": subject.region,  # for insights: no number, only its country
                "reason_given": bool(reason),
            },
            pii={**pii, "reason": (reason or "")[:1000]},
        )
        store.commit(store.Change(subject, [event], due=consent.next_due(subject, tenant)), now)
        return changed

    return retry_on_conflict(attempt, "the subscription is being changed by another request; retry")


def provider_opted_out(tenant: Tenant, e164: str, detail: str) -> list[str]:
    """The SMS provider refused a message because the number opted out with it (Twilio
    21610, AWS DESTINATION_PHONE_NUMBER_OPTED_OUT, SNS OptedOut): record the opt-out."""
    from smsconsent import keys

    hashes = keys.subject_hashes(tenant.id, e164)
    return withdraw(
        tenant,
        lambda: store.load_subject(tenant.id, hashes),
        "provider_opt_out",
        None,
        {"provider_answer": detail[:300]},
        new_key=hashes[0],
    )
