"""Confirmation by link: look (GET, changes nothing) and confirm (POST, one conditional
write with its evidence)."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from smsconsent import clock, consent, evidence, keys, metrics, store, tenants
from smsconsent.retry import retry_on_conflict
from smsconsent.tenants import Tenant

TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


@dataclass
class Result:
    status: str
    tenant: Tenant | None = None
    language: str | None = None
    purposes: list[str] | None = None


def _lookup(token: str) -> tuple[str, store.TokenItem | None, Tenant | None]:
    if not 16 <= len(token) <= 64 or not set(token) <= TOKEN_CHARS:
        return "", None, None
    sha = keys.token_hash(token)
    item = store.get_token(sha)
    if item is None:
        return sha, None, None
    return sha, item, tenants.get(item.tenant)


def look(token: str) -> Result:
    """What a POST would do now, without doing it."""
    sha, item, tenant = _lookup(token)
    if item is None or tenant is None:
        return Result("unknown_token")
    subject = store.load_subject_by_pk(item.subject_pk)
    outcome = consent.confirm(copy.deepcopy(subject), tenant, sha, clock.now())
    return Result(outcome.status, tenant, subject.language if subject else None, outcome.purposes)


def confirm(token: str, ip: str, user_agent: str) -> Result:
    sha, item, tenant = _lookup(token)
    if item is None or tenant is None:
        return Result("unknown_token")
    subject_pk = item.subject_pk

    def attempt() -> Result:
        now = clock.now()
        subject = store.load_subject_by_pk(subject_pk)
        outcome = consent.confirm(subject, tenant, sha, now)
        if outcome.status != "confirmed" or subject is None:
            return Result(outcome.status, tenant, subject.language if subject else None, outcome.purposes)
        event, code = confirmed_evidence(
            subject,
            sha,
            now,
            {
                "purposes": outcome.purposes,
                "channel": outcome.channel,
                "via": "link",
                "issued_at": outcome.issued_at,
            },
            pii={"ip": ip, "user_agent": user_agent[:500]},
        )
        store.commit(store.Change(subject, [event], code=code, due=consent.next_due(subject, tenant)), now)
        metrics.count("ConsentConfirmed", country=subject.region)
        return Result("confirmed", tenant, subject.language, outcome.purposes)

    return retry_on_conflict(attempt, "the subscription is being changed by another request; retry")


def confirmed_evidence(
    subject: store.Subject,
    token_sha256: str,
    now: datetime,
    data: dict[str, Any],
    pii: dict[str, str] | None = None,
) -> tuple[store.Evidence, str | None]:
    """For a confirmation ``consent.confirm`` just applied: its evidence event, and the
    per-recipient opt-out code issued now (None when the subject has one already)."""
    code = None
    if not subject.optout_code:
        code = subject.optout_code = keys.new_code()
    event = evidence.append(subject, "optin_confirmed", now, {**data, "token_sha256": token_sha256}, pii=pii)
    return event, code
