"""The whole check: numbers normalised, subjects read (under every pepper version still
in use), each decided, contact recorded where asked; the answer in the input's order."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from smsconsent import clock, keys
from smsconsent.observability import logger
from smsconsent.presend.decision import _DENIED, Outcome, _Context, decide
from smsconsent.presend.numbers import _normalised, _Number, _number
from smsconsent.presend.reasons import INVALID_PHONE
from smsconsent.presend.request import CheckRequest
from smsconsent.store import StoreUnavailable, subject_pk
from smsconsent.store import batch as batch_store
from smsconsent.store.batch import Contact, Snapshot
from smsconsent.tenants import Tenant

WRITE_ROUNDS = 4  # conditional-update rounds before a hot subject makes the answer a 503


class Backend(Protocol):
    """Where subjects come from and contact goes to (``store.batch``; a dict in unit tests)."""

    def read(self, pks: Sequence[str]) -> dict[str, Snapshot]: ...

    def read_one(self, pk: str) -> Snapshot | None: ...

    def record(self, contacts: Sequence[Contact], now: datetime) -> list[bool]: ...


def _lookup(tenant: Tenant, wanted: Mapping[str, Sequence[str]], backend: Backend) -> dict[str, Snapshot]:
    """The subject of each number under the first of its key versions that has one."""
    number_of = {  # each number's keys in the order of its versions
        subject_pk(tenant.id, keys.subject_hash(tenant.id, e164, v)): e164
        for e164, versions in wanted.items()
        for v in versions
    }
    found = backend.read(list(number_of))
    if len(number_of) == len(wanted):  # one key per number: no version to prefer
        return {number_of[pk]: subject for pk, subject in found.items() if pk in number_of}
    out: dict[str, Snapshot] = {}
    for pk, e164 in number_of.items():
        if e164 not in out and pk in found:
            out[e164] = found[pk]
    return out


def _result(raw: str, e164: str | None, outcome: Outcome) -> dict[str, Any]:
    result = {
        "input": raw,
        "phone": e164,
        "allowed": outcome.allowed,
        "reason": outcome.reason,
        "retry_at": outcome.retry_at,
        "footer": outcome.footer,
        "optout_url": outcome.optout_url,
    }
    if outcome.rule is not None:
        result["rule"] = outcome.rule  # quiet_hours and frequency_cap: the rule that refused
    return result


def check(tenant: Tenant, req: CheckRequest, backend: Backend | None = None) -> dict[str, Any]:
    """The answer ``{"results": [...], "summary": {...}}`` for ``req``; records contact
    when asked. Raises ``StoreUnavailable`` rather than answer in part."""
    store_ = backend or batch_store
    ctx = _Context(tenant, req, clock.now())
    country = tenant.default_country

    numbers: dict[str, _Number] = {}
    for raw in req.recipients:
        if raw not in numbers:
            numbers[raw] = _number(raw, country)

    subjects: dict[str, Snapshot] = {}
    if not ctx.transactional or ctx.stop_all:
        subjects = _read_subjects(tenant, numbers, store_)
    else:
        _check_all(numbers, country)

    regions: dict[str, str] = {}
    for number in numbers.values():
        if number.e164 is not None and number.region is not None:
            regions[number.e164] = number.region
    outcomes = {e164: decide(ctx, e164, region, subjects.get(e164)) for e164, region in regions.items()}
    if req.record:
        recorded = _record(ctx, outcomes, regions, store_)
        if recorded and req.campaign and backend is None:  # a test's backend keeps no insights
            _count_sends(tenant.id, req.campaign, req.send_at, recorded)

    invalid = _DENIED[INVALID_PHONE]
    answered = {  # in the order first asked
        raw: _result(raw, n.e164, invalid if n.e164 is None or n.region is None else outcomes[n.e164])
        for raw, n in numbers.items()
    }
    # A number asked twice is answered twice, the same.
    results = (
        list(answered.values())
        if len(answered) == len(req.recipients)
        else [answered[raw] for raw in req.recipients]
    )
    allowed = sum(1 for result in results if result["allowed"])
    return {"results": results, "summary": {"allowed": allowed, "denied": len(results) - allowed}}


def _check_all(numbers: Mapping[str, _Number], country: str) -> None:
    """Validate the numbers taken as written (no subjects to vouch for them)."""
    for raw, number in numbers.items():
        if not number.checked:
            found = _normalised(raw, country)
            number.e164, number.region = found if found else (None, None)
            number.checked = True


def _read_subjects(tenant: Tenant, numbers: Mapping[str, _Number], backend: Backend) -> dict[str, Snapshot]:
    versions = keys.pepper().versions()
    current, older = versions[:1], versions[1:]
    country = tenant.default_country
    candidates = {n.e164: current for n in numbers.values() if n.e164 is not None}
    subjects = _lookup(tenant, candidates, backend)

    # Numbers taken as written without a subject that vouches for them: validate now; one
    # whose normal form differs from what was written is looked up under that form.
    again: dict[str, Sequence[str]] = {}
    for raw, number in numbers.items():
        if number.e164 is None or number.checked:
            continue
        subject = subjects.get(number.e164)
        if subject is not None and subject.region:
            number.region = subject.region
            continue
        found = _normalised(raw, country)
        number.checked = True
        if found is None:
            number.e164 = number.region = None
        elif subject is not None:
            number.region = found[1]  # a subject that never learnt its region (a bare STOP)
        else:
            number.e164, number.region = found
            if found[0] not in candidates:
                again[found[0]] = versions
    # Subjects keyed under an older pepper version (before a rotation).
    if older:
        for number in numbers.values():
            if number.e164 is not None and number.e164 not in subjects and number.e164 not in again:
                again[number.e164] = older
    if again:
        subjects.update(_lookup(tenant, again, backend))
    return subjects


def _record(ctx: _Context, outcomes: dict[str, Outcome], regions: Mapping[str, str], backend: Backend) -> int:
    """Write every allowed marketing send's contact; a subject changed meanwhile is read
    and decided again (its answer may change), a bounded number of times. Returns how
    many sends were recorded now (none that an earlier try of the request recorded)."""
    todo = {e164: o.contact for e164, o in outcomes.items() if o.contact is not None}
    recorded = 0
    for _ in range(WRITE_ROUNDS):
        if not todo:
            return recorded
        items = list(todo.items())
        done = backend.record([contact for _, contact in items], clock.now())
        todo = {}
        for (e164, contact), ok in zip(items, done, strict=True):
            if ok:
                recorded += 1
                continue
            outcome = decide(ctx, e164, regions[e164], backend.read_one(contact.subject.pk))
            outcomes[e164] = outcome
            if outcome.contact is not None:
                todo[e164] = outcome.contact
    if todo:
        raise StoreUnavailable(f"{len(todo)} subjects kept changing while contact was recorded")
    return recorded


def _count_sends(tenant_id: str, campaign: str, send_at: datetime, sends: int) -> None:
    """The campaign's recorded sends for insights: one ADD for the request, on the UTC day
    of ``send_at``. The contact is recorded already, and a retry would find it so and count
    nothing: a failure here loses these counts (logged), never the answer."""
    from smsconsent.store import insights as insights_store

    try:
        insights_store.add_sends(tenant_id, campaign, send_at.astimezone(UTC).date(), sends)
    except StoreUnavailable as exc:
        logger.warning(
            "campaign sends not counted", extra={"tenant": tenant_id, "sends": sends, "error": str(exc)}
        )
