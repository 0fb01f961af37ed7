"""The daily retention job: expire pending consents (and delete their personal data),
lapse stale consents, purge old evidence, keeping opted-out numbers suppressed by their
keyed hash alone.

It reads only what is due, from the sparse ``due-index`` (a day bucket per Query, never a
Scan), from the day its cursor names up to today: missed days are caught up. Every
write is conditional on the subject's version and moves or clears its due time, so a
second run for the same time finds nothing more to do. It stops before the Lambda time
limit and the next run continues from the cursor."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from smsconsent import clock, consent, errors, evidence, store, tenants
from smsconsent.observability import logger
from smsconsent.retry import retry_on_conflict

JOB = "expiry"
# Without a cursor (the first run ever) the job looks back this far. Due times are
# always written in the future, so this only matters if the schedule never ran.
BOOTSTRAP_DAYS = 400
_ATTEMPTS = 3


@dataclass
class Summary:
    now: str
    pending_expired: int = 0  # pending consents expired
    lapsed: int = 0  # active consents lapsed
    purged: int = 0  # subjects whose evidence was purged
    deleted: int = 0  # subjects removed entirely (nothing left to keep)
    examined: int = 0  # due subjects read
    skipped: int = 0  # subjects of an unknown or broken tenant
    days: int = 0  # day buckets read
    complete: bool = True


def run(now: datetime, seconds_left: Callable[[], float], reserve_seconds: float = 30) -> dict[str, object]:
    summary = Summary(now=clock.iso(now))
    today = now.date()
    day = min(store.job_cursor(JOB) or today - timedelta(days=BOOTSTRAP_DAYS), today)
    while True:
        summary.days += 1
        for subject in store.due_subjects(day, now):
            if seconds_left() < reserve_seconds:
                summary.complete = False  # the cursor stays at this day: the next run goes on
                store.set_job_cursor(JOB, day, now)
                return asdict(summary)
            summary.examined += 1
            _process(subject, now, summary)
        if day >= today:
            break
        day += timedelta(days=1)
    # Today's bucket may still get items due later today: the next run starts there.
    store.set_job_cursor(JOB, today, now)
    return asdict(summary)


def _process(subject: store.Subject | None, now: datetime, summary: Summary) -> None:
    if subject is None:
        return
    try:
        tenant = tenants.get(subject.tenant)
    except tenants.TenantError:
        tenant = None
    if tenant is None:
        logger.warning("due subject of an unknown or broken tenant", extra={"tenant": subject.tenant})
        summary.skipped += 1
        return
    pk, first = subject.pk, [subject]

    def attempt() -> None:
        # The subject as the due-index query read it, then as it is now (changed meanwhile).
        current = first.pop() if first else store.load_subject_by_pk(pk)
        if current is not None:
            _apply(current, tenant, now, summary)

    try:
        retry_on_conflict(attempt, "due subject kept changing", attempts=_ATTEMPTS)
    except errors.Busy:
        logger.warning("due subject kept changing; left for the next run")


# Evidence of a signup request: what carries the IP and user agent of one.
_REQUESTS = ("optin_requested", "optin_repeated")


def _apply(subject: store.Subject, tenant: tenants.Tenant, now: datetime, summary: Summary) -> None:
    number_from_request = any(p.get("number_from_request") for p in consent.open_opt_ins(subject).values())
    expired = consent.expire_pending(subject, tenant, now)
    held = {r["state"] for r in subject.consents.values()}
    if number_from_request and not subject.pending and not held & {consent.ACTIVE, consent.LAPSED}:
        # The number was stored only for a request that expired (e.g. over a bare
        # suppression marker): it goes, the keyed hash stays.
        subject.phone = subject.region = subject.language = None
    lapsed = consent.lapse(subject, tenant, now)
    purge = consent.purge_at(subject, tenant)
    if not subject.consents:
        # Only an expired request was ever held: nothing to prove, nothing to suppress.
        farewell = evidence.append(subject, "optin_expired", now, {"consents": expired}) if expired else None
        store.rewrite(subject, now, delete_subject=True, farewell=farewell)
        summary.pending_expired += len(expired)
        summary.deleted += 1
        return
    if purge is not None and purge <= now:
        suppress = consent.holds_opt_out(subject)
        if suppress:
            code = subject.optout_code
            consent.reduce_to_suppression(subject, now)
            subject.purged_at = clock.iso(now)
            store.rewrite(subject, now, delete_evidence=True, due=None)
            if code:
                store.delete_code(code)
        else:
            store.rewrite(subject, now, delete_subject=True)
            summary.deleted += 1
        summary.purged += 1
        return
    events = []
    if expired:
        events.append(evidence.append(subject, "optin_expired", now, {"consents": expired}))
    if lapsed:
        events.append(
            evidence.append(
                subject, "consent_lapsed", now, {"consents": lapsed, "after_days": tenant.lapse_after_days}
            )
        )
    due = consent.next_due(subject, tenant)
    if expired:
        # The IP and user agent of every request that led to no consent go (the expired
        # ones and those a newer link replaced); the rest of the chain stays.
        stored = store.evidence_of(subject.pk)
        kept = {e.data.get("token_sha256") for e in stored if e.type == "optin_confirmed"}
        kept |= {p.get("token") for p in consent.open_opt_ins(subject).values()}
        strip = {
            e.seq
            for e in stored
            if e.pii and e.type in _REQUESTS and e.data.get("token_sha256") not in kept - {None}
        }
        store.rewrite(subject, now, strip_seqs=strip, due=due, new_events=events)
    else:
        store.commit(store.Change(subject, events, due=due), now)
    summary.pending_expired += len(expired)
    summary.lapsed += len(lapsed)
