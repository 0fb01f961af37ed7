"""The tenant's AWS End User Messaging opt-out list in step with the consents here.

Two ways in, one decision (``optout_list.step``) per number:

- ``sync``: one number, after a consent event that may change what the list should hold
  (an opt-out, a START, a confirmed opt-in). The publisher queues it; the queue retries
  and dead-letters. It reads the subject as it is now and the list's entry for the
  number, so a late or repeated message does no harm.
- ``reconcile``: the daily run. It pages through the whole list (``DescribeOptedOutNumbers``)
  and then reads our SMS opt-outs (the sparse ``sms-optout-index``, no Scan): entries with
  no opt-out here are recorded (``via: provider_list``), ours missing from the list are
  put back, consents given since an entry was made take the number off (at most once per
  30 days per number). Run twice, the second run finds nothing.

Every change here is a conditional write with its evidence; the list's own calls come
first and are idempotent, so after a crash between the two the next attempt finds the
list right (the crashed call's evidence is then missing). A write that lost a race is
tried again knowing what the list did, and records it even when nothing else is left to
do.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from functools import partial
from typing import Any

from smsconsent import aws, clock, consent, errors, evidence, keys, metrics, optout, store, tenants
from smsconsent.observability import logger, mask
from smsconsent.optout_list import (
    DELETE_EVERY,
    REFUSED,
    Entry,
    Step,
    delete_allowed_at,
    hold,
    step,
    withdrawn,
)
from smsconsent.retry import retry_on_conflict
from smsconsent.tenants import Tenant

PAGE = 100  # DescribeOptedOutNumbers' MaxResults: 1 to 100


class ListMissing(Exception):
    """The tenant's opt-out list does not exist (or is not this account's): a setting to fix."""


@dataclasses.dataclass
class Summary:
    tenant: str
    listed: int = 0  # entries on the provider's list
    examined: int = 0  # our SMS opt-outs read
    drift_found: int = 0  # numbers where the list and this store disagreed
    drift_fixed: int = 0  # ... and now agree
    put: int = 0
    deleted: int = 0
    opted_out: int = 0  # opt-outs recorded from the list
    held: int = 0  # numbers held back from marketing (the delete must wait or was refused)
    failed: int = 0  # numbers left for the next run (each write lost a race five times)
    complete: bool = True


# ---- the list's API ---------------------------------------------------------------------------

# The local stack's stand-in list (local/optout_list.py), same calls and answers.
_local_client: Any = None


def set_local_client(client: Any) -> None:
    global _local_client
    _local_client = client


_client_cache: Any = None


def _client() -> Any:
    global _client_cache
    if _local_client is not None:
        return _local_client
    if _client_cache is None:
        from smsconsent.sender.base import client_config

        _client_cache = aws.client("pinpoint-sms-voice-v2", config=client_config())
    return _client_cache


def reset() -> None:
    global _client_cache
    _client_cache = None


def _error(exc: Exception) -> tuple[str, str, str]:
    """(error code, reason, resource type) of a ClientError."""
    response: dict[str, Any] = getattr(exc, "response", {}) or {}
    error = response.get("Error") or {}
    reason = response.get("Reason") or error.get("Reason") or ""
    resource = response.get("ResourceType") or error.get("ResourceType") or ""
    return str(error.get("Code", "")), str(reason), str(resource)


def _missing_list(exc: Exception, list_name: str) -> None:
    code, _, resource = _error(exc)
    if code == "ResourceNotFoundException" and resource != "opted-out-number":
        logger.error("the tenant's opt-out list does not exist", extra={"list": list_name})
        raise ListMissing(list_name) from exc


def _entry(item: dict[str, Any]) -> Entry:
    at = item["OptedOutTimestamp"]
    at = at if isinstance(at, datetime) else datetime.fromtimestamp(float(at), UTC)
    return Entry(item["OptedOutNumber"], at.astimezone(UTC), bool(item.get("EndUserOptedOut")))


def entry_of(list_name: str, e164: str) -> Entry | None:
    """The list's entry for one number (None: not on it)."""
    from botocore.exceptions import ClientError

    try:
        answer = _client().describe_opted_out_numbers(OptOutListName=list_name, OptedOutNumbers=[e164])
    except ClientError as exc:
        _missing_list(exc, list_name)
        if _error(exc)[0] == "ResourceNotFoundException":
            return None  # the number is not on the list
        raise
    found = [_entry(i) for i in answer.get("OptedOutNumbers") or [] if i.get("OptedOutNumber") == e164]
    return found[0] if found else None


def _pages(list_name: str) -> Iterator[list[Entry]]:
    from botocore.exceptions import ClientError

    token: str | None = None
    while True:
        args: dict[str, Any] = {"OptOutListName": list_name, "MaxResults": PAGE}
        if token:
            args["NextToken"] = token
        try:
            answer = _client().describe_opted_out_numbers(**args)
        except ClientError as exc:
            _missing_list(exc, list_name)
            raise
        yield [_entry(i) for i in answer.get("OptedOutNumbers") or []]
        token = answer.get("NextToken")
        if not token:
            return


def _put(list_name: str, e164: str) -> datetime | None:
    """Put the number on the list; the list's time for it (None: AWS refused the number)."""
    from botocore.exceptions import ClientError

    try:
        answer = _client().put_opted_out_number(OptOutListName=list_name, OptedOutNumber=e164)
    except ClientError as exc:
        _missing_list(exc, list_name)
        code, reason, _ = _error(exc)
        if code == "ValidationException":
            logger.warning("the opt-out list refused a number", extra={"reason": reason, "phone": mask(e164)})
            metrics.count("OptOutListPutRefused")
            return None
        raise
    return _entry({**answer, "OptedOutNumber": e164}).at


def _delete(list_name: str, e164: str) -> bool | None:
    """Take the number off the list: True when it was, None when it was not on it, False
    when AWS refused (its 30-day limit, or a number it will not opt back in)."""
    from botocore.exceptions import ClientError

    try:
        _client().delete_opted_out_number(OptOutListName=list_name, OptedOutNumber=e164)
    except ClientError as exc:
        _missing_list(exc, list_name)
        code, reason, _ = _error(exc)
        if code == "ResourceNotFoundException":
            return None
        if code in ("ConflictException", "ValidationException"):
            logger.info("the opt-out list kept a number", extra={"code": code, "reason": reason})
            return False
        raise
    return True


# ---- one number ---------------------------------------------------------------------------------


def _record(
    tenant: Tenant, subject: store.Subject, now: datetime, kind: str, data: dict[str, Any], **sync: Any
) -> None:
    """Write what the sync learnt (``provider_list`` fields; None removes one) with its
    evidence, conditional on the subject being as read."""
    state = {**(subject.provider_list or {}), **sync}
    subject.provider_list = {k: v for k, v in state.items() if v is not None} or None
    event = evidence.append(subject, kind, now, {"list": tenant.sms_opt_out_list, **data})
    store.commit(store.Change(subject, [event], due=consent.next_due(subject, tenant)), now)


_DONE_EVIDENCE = {"put_at": ("provider_list_put", "put"), "deleted_at": ("provider_list_deleted", "deleted")}


def _apply(
    tenant: Tenant,
    subject: store.Subject | None,
    entry: Entry | None,
    e164: str,
    now: datetime,
    done: dict[str, str],
) -> str:
    """Do what ``step`` says for one number; the outcome's name (``in_step`` when nothing
    was to do). Raises ``store.Conflict`` when the subject changed meanwhile.

    ``done``: what the list did for an earlier attempt whose write lost a race (``put_at``,
    ``deleted_at``). Laid over the subject as read (a put after a START is still ours) and,
    when this attempt has nothing else to write, recorded with its evidence: the list
    changed, and the 30-day limit counts from the delete."""
    if subject is None:
        return _act(tenant, subject, entry, e164, now, done)
    before = subject.provider_list or {}
    missing = {k: v for k, v in done.items() if before.get(k) != v}
    subject.provider_list = {**before, **missing} or None
    version = subject.version
    outcome = _act(tenant, subject, entry, e164, now, done)
    if missing and subject.version == version:  # nothing written: record what the list did
        subject.provider_list = before or None
        kind, outcome = _DONE_EVIDENCE["deleted_at" if "deleted_at" in missing else "put_at"]
        _record(tenant, subject, now, kind, {}, **missing)
    return outcome


def _act(
    tenant: Tenant,
    subject: store.Subject | None,
    entry: Entry | None,
    e164: str,
    now: datetime,
    done: dict[str, str],
) -> str:
    list_name = tenant.sms_opt_out_list
    assert list_name
    todo = step(subject, tenant, entry)
    if todo is Step.NOTHING:
        return "in_step"
    if todo is Step.RECORD_OPTOUT:
        assert entry is not None
        listed = entry
        hashes = keys.subject_hashes(tenant.id, e164)
        optout.withdraw(
            tenant,
            lambda: store.load_subject(tenant.id, hashes),
            "provider_list",
            None,
            {"provider_answer": f"on the opt-out list since {clock.iso(entry.at)}"},
            new_key=hashes[0],
            # A consent given (or asked for) after the entry stands, decided on the subject
            # as the write reads it.
            purposes=lambda found: withdrawn(found, tenant, listed),
        )
        return "opted_out"
    assert subject is not None
    if todo is Step.PUT:
        put_at = _put(list_name, e164)
        if put_at is None:
            return "put_refused"
        done["put_at"] = clock.iso(put_at)
        _record(tenant, subject, now, "provider_list_put", {}, put_at=done["put_at"])
        return "put"
    if todo is Step.CLEAR_HOLD:
        _record(tenant, subject, now, "provider_list_hold_cleared", {}, held=None)
        return "hold_cleared"
    if todo is Step.HOLD:
        return _hold(tenant, subject, now, None, "foreign")
    allowed = delete_allowed_at(subject)
    if allowed is not None and allowed > now:
        # Not asked before then; a refusal's hold stays as it was (its why, its evidence).
        refused = ((subject.provider_list or {}).get("held") or {}).get("why") == REFUSED
        return _hold(tenant, subject, now, allowed, REFUSED if refused else "delete_limit")
    deleted = _delete(list_name, e164)
    if deleted is False:
        return _hold(tenant, subject, now, now + DELETE_EVERY, REFUSED)
    if deleted is None:  # gone from the list meanwhile
        if not (subject.provider_list or {}).get("held"):
            return "in_step"
        _record(tenant, subject, now, "provider_list_hold_cleared", {}, held=None)
        return "hold_cleared"
    done["deleted_at"] = clock.iso(now)
    _record(tenant, subject, now, "provider_list_deleted", {}, deleted_at=done["deleted_at"], held=None)
    return "deleted"


def _hold(tenant: Tenant, subject: store.Subject, now: datetime, until: datetime | None, why: str) -> str:
    held = hold(subject, now, until, why)
    if (subject.provider_list or {}).get("held") != held:
        _record(tenant, subject, now, "provider_list_held", {"until": held["until"], "why": why}, held=held)
    return "held"


def _settle(
    tenant: Tenant, e164: str, load: Callable[[], store.Subject | None], entry: Entry | bool | None
) -> str:
    """Apply to one number, reading it again after a lost race. ``entry``: the list's
    entry as a page showed it, or True to ask the list."""
    now = clock.now()
    done: dict[str, str] = {}  # what the list did for an attempt whose write lost a race

    def attempt() -> str:
        subject = load()
        found = entry_of(tenant.sms_opt_out_list or "", e164) if entry is True else entry
        return _apply(tenant, subject, found if isinstance(found, Entry) else None, e164, now, done)

    return retry_on_conflict(attempt, "the number is being changed by another request; retry")


def sync(tenant_id: str, pk: str) -> str:
    """Bring the list in step for one subject (a queued consent event's); the outcome."""
    tenant = tenants.get(tenant_id)
    if tenant is None or not tenant.sms_opt_out_list:
        return "no_list"
    subject = store.load_subject_by_pk(pk)
    if subject is None or not subject.phone:
        return "no_number"  # erased or expired since: nothing to put a number on the list with
    outcome = _settle(tenant, subject.phone, lambda: store.load_subject_by_pk(pk), True)
    metrics.count("OptOutListSync", outcome=outcome)
    return outcome


# ---- the daily reconciliation --------------------------------------------------------------

_DRIFT_FIXED = {"put", "deleted", "opted_out", "hold_cleared"}


def reconcile(tenant: Tenant, seconds_left: Callable[[], float], reserve_seconds: float = 30) -> Summary:
    """Compare the tenant's list with its SMS opt-outs here, both ways, and fix what differs."""
    list_name = tenant.sms_opt_out_list
    assert list_name
    summary = Summary(tenant.id)
    listed: set[str] = set()

    def count(settle: Callable[[], str]) -> None:
        try:
            outcome = settle()
        except errors.Busy:
            # The number keeps changing (its writes lost every race): the next run sees it.
            summary.failed += 1
            summary.complete = False
            return
        if outcome == "in_step":
            return
        summary.drift_found += 1
        summary.drift_fixed += outcome in _DRIFT_FIXED
        if outcome in ("put", "deleted", "opted_out", "held"):
            setattr(summary, outcome, getattr(summary, outcome) + 1)

    for page in _pages(list_name):
        if seconds_left() < reserve_seconds:
            summary.complete = False
            break
        summary.listed += len(page)
        listed.update(e.number for e in page)
        # The keyed hashes once per number (an HMAC per pepper version).
        hashed = {e.number: keys.subject_hashes(tenant.id, e.number) for e in page}
        subjects = store.subjects_by_pk(
            [store.subject_pk(tenant.id, h) for hs in hashed.values() for h in hs]
        )
        for entry in page:
            hashes = hashed[entry.number]
            subject = next(
                (subjects[p] for h in hashes if (p := store.subject_pk(tenant.id, h)) in subjects), None
            )
            if step(subject, tenant, entry) is Step.NOTHING:
                continue  # the common case costs no further read
            # The page may be minutes old by now (a START's sync may have taken the number
            # off meanwhile): a number held here is asked of the list again before anything
            # is done to its consent. An unknown number's entry is only ever recorded.
            ask = True if subject is not None else entry
            count(partial(_settle, tenant, entry.number, partial(store.load_subject, tenant.id, hashes), ask))
    if summary.complete:
        # Ours the list did not show: put back (or a hold lifted), each asked of the list
        # again first, as it may have changed since its page was read.
        for listed_out in store.sms_optouts(tenant.id):
            if seconds_left() < reserve_seconds:
                summary.complete = False
                break
            summary.examined += 1
            if not listed_out.phone or listed_out.phone in listed:
                continue
            load = partial(store.load_subject_by_pk, listed_out.pk)
            count(partial(_settle, tenant, listed_out.phone, load, True))
    for name in ("drift_found", "drift_fixed"):
        metrics.count(f"OptOutList{name.title().replace('_', '')}", getattr(summary, name), tenant=tenant.id)
    return summary


def reconcile_all(seconds_left: Callable[[], float]) -> list[dict[str, Any]]:
    """Reconcile every tenant that names an opt-out list; one summary each. A tenant whose
    list is missing, may not be read (a shared list's ARN), whose settings are broken or
    whose run AWS throttled is reported and the others go on: one tenant's trouble must not
    leave every later tenant's list unreconciled day after day."""
    summaries: list[dict[str, Any]] = []
    for tenant_id in store.opt_out_list_tenants():
        try:
            tenant = tenants.get(tenant_id)
            if tenant is None or not tenant.sms_opt_out_list:
                continue
            summaries.append(dataclasses.asdict(reconcile(tenant, seconds_left)))
        except Exception as exc:  # reported per tenant; the others go on
            # The error's code, not its message: AWS's may name a number.
            error = _error(exc)[0] or type(exc).__name__
            logger.error("opt-out list not reconciled", extra={"tenant": tenant_id, "error": error})
            metrics.count("OptOutListNotReconciled", tenant=tenant_id)
            summaries.append({"tenant": tenant_id, "error": error, "complete": False})
    return summaries
