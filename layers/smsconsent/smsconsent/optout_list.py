"""What a tenant's AWS End User Messaging opt-out list should hold for one number, and
what to do when it holds something else (pure: no store, no AWS).

A number belongs on the list when every purpose of the STOP scope is opted out on SMS
here; it belongs off it once one of them is active again (START, a new confirmed
opt-in). An entry on the list is a statement about the number too:

- put there by the person (``EndUserOptedOut``, a STOP the carrier or AWS handled) after
  a consent here was given: an opt-out we never saw, recorded here (``via:
  provider_list``) for what it came after (a consent given since stands, and then the
  entry is taken off as below);
- older than the consent here, or put there by us (its time is our put's): the list lags
  behind a START or a new opt-in, and the entry is deleted, at most once per 30 days per
  number (AWS's limit), the number held back from marketing until then;
- put by someone else (the console, another system) after the consent here: not ours to
  delete and not the person's own word either, so the number is held back from marketing
  (``provider_opted_out``) until someone looks, and counted as drift not fixed;
- on a number with no active consent here: recorded as an opt-out when there is none,
  unless the number asked to sign up again since the entry was made (a pending double
  opt-in): the click decides, and the confirmation takes the entry off.

``Subject.provider_list`` keeps what the sync knows: ``put_at`` (the list's time of our
last put), ``deleted_at`` (our last delete), ``held`` (``since``, ``until``, ``why``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from smsconsent import consent
from smsconsent.clock import iso, parse_iso
from smsconsent.records import ConsentRecord, Subject
from smsconsent.tenants import Tenant

# DeleteOptedOutNumber: "Each destination phone number can only be deleted once every 30
# days" (AWS End User Messaging SMS API reference, DeleteOptedOutNumber, checked 2026-12).
DELETE_EVERY = timedelta(days=30)
# An entry whose time is within this of our own put's is the one we put (the list's
# clock and ours are AWS's; the answer to PutOptedOutNumber carries the list's time).
OURS_WITHIN = timedelta(seconds=5)

ON, OFF = "on", "off"
REFUSED = "delete_refused"  # a held number's ``why`` when AWS refused our delete


class Step(StrEnum):
    NOTHING = "nothing"
    PUT = "put"  # ours is missing from the list
    DELETE = "delete"  # the list holds a number that consented here since
    RECORD_OPTOUT = "record_optout"  # the list holds an opt-out we never saw
    HOLD = "hold"  # someone else's entry over an active consent: not ours to judge
    CLEAR_HOLD = "clear_hold"  # a hold that no longer holds


@dataclass(frozen=True)
class Entry:
    """One number on the list (``OptedOutNumberInformation``)."""

    number: str
    at: datetime  # OptedOutTimestamp
    by_person: bool  # EndUserOptedOut: the person opted out, not an API or console call


def _scope_by_purpose(subject: Subject, tenant: Tenant) -> dict[str, ConsentRecord]:
    purposes = set(tenant.purposes) if tenant.stop_scope == "all" else set(tenant.marketing_purposes())
    return {k[4:]: r for k, r in subject.consents.items() if k.startswith("sms:") and k[4:] in purposes}


def _scope(subject: Subject, tenant: Tenant) -> list[ConsentRecord]:
    return list(_scope_by_purpose(subject, tenant).values())


def wanted(subject: Subject | None, tenant: Tenant) -> str | None:
    """``ON`` (the number belongs on the list), ``OFF`` (it must not be there) or None
    (neither: nothing here says, e.g. a pending first opt-in or a lapsed consent)."""
    records = _scope(subject, tenant) if subject is not None else []
    if any(r["state"] == consent.ACTIVE for r in records):
        return OFF
    if records and all(consent.opted_out(r) for r in records):
        return ON
    return None


def granted_at(subject: Subject, tenant: Tenant) -> datetime | None:
    """When the latest active consent of the STOP scope on SMS began (confirmed, restored)."""
    times = [parse_iso(r["since"]) for r in _scope(subject, tenant) if r["state"] == consent.ACTIVE]
    return max(times, default=None)


def stopped(subject: Subject, tenant: Tenant, entry: Entry) -> list[str]:
    """The purposes whose active SMS consent (of the STOP scope) a person's entry came
    after (in its second or later): what their STOP at the carrier withdrew. A consent
    given after the entry stands."""
    return sorted(
        p
        for p, r in _scope_by_purpose(subject, tenant).items()
        if r["state"] == consent.ACTIVE and entry.at >= parse_iso(r["since"])
    )


def withdrawn(subject: Subject | None, tenant: Tenant, entry: Entry) -> set[str] | None:
    """What recording the list's entry as an opt-out withdraws: None for the whole STOP
    scope (a plain STOP: nothing here given or asked for after it), else only the purposes
    it came after (possibly none, when the subject changed since the step was decided)."""
    if subject is None or wanted(subject, tenant) != OFF:
        asked = asked_at(subject, tenant) if subject is not None else None
        return set() if asked is not None and entry.at < asked else None
    active = {p for p, r in _scope_by_purpose(subject, tenant).items() if r["state"] == consent.ACTIVE}
    before = set(stopped(subject, tenant, entry))
    asked = asked_at(subject, tenant)
    if before == active and (asked is None or asked <= entry.at):
        return None
    return before


def asked_at(subject: Subject, tenant: Tenant) -> datetime | None:
    """When the latest open double opt-in of the STOP scope on SMS was asked for (a pending
    record over no opt-out; one over an opt-out stands for the opt-out)."""
    times = [
        parse_iso(r["since"])
        for r in _scope(subject, tenant)
        if r["state"] == consent.PENDING and not consent.opted_out(r)
    ]
    return max(times, default=None)


def _ours(subject: Subject, entry: Entry) -> bool:
    put_at = (subject.provider_list or {}).get("put_at")
    return isinstance(put_at, str) and abs(parse_iso(put_at) - entry.at) <= OURS_WITHIN


def step(subject: Subject | None, tenant: Tenant, entry: Entry | None) -> Step:
    """What to do about one number, from what is here and what the list holds."""
    want = wanted(subject, tenant)
    held = bool(subject is not None and (subject.provider_list or {}).get("held"))
    if entry is None:
        if want == ON and subject is not None and subject.phone:
            return Step.PUT
        return Step.CLEAR_HOLD if held else Step.NOTHING
    if subject is None or want is None:
        asked = asked_at(subject, tenant) if subject is not None else None
        if asked is not None and entry.at < asked:
            # The person asked to sign up again since: the click decides, and the
            # confirmation's sync takes the older entry off.
            return Step.NOTHING
        return Step.RECORD_OPTOUT  # nothing here says yes: the list's opt-out is news
    if want == ON:
        return Step.CLEAR_HOLD if held else Step.NOTHING
    if entry.by_person and stopped(subject, tenant, entry):
        # The person stopped at the carrier after consenting here: what they consented to
        # before is withdrawn (a newer consent must not take their STOP off the list and
        # revive it). Times here are kept to the second: an entry in the consent's own
        # second may be after it, and a STOP must never be taken for older than it is.
        return Step.RECORD_OPTOUT
    granted = granted_at(subject, tenant)
    assert granted is not None  # OFF means an active consent
    if entry.at >= granted and not entry.by_person and not _ours(subject, entry):
        return Step.HOLD
    return Step.DELETE


def delete_allowed_at(subject: Subject) -> datetime | None:
    """The first moment AWS takes another delete of this number from us (None: now): 30
    days after our last delete, and not before a refused delete's hold ends (asked daily,
    a refusal would renew the hold, and its evidence, every day)."""
    state = subject.provider_list or {}
    times = [parse_iso(state["deleted_at"]) + DELETE_EVERY] if state.get("deleted_at") else []
    held = state.get("held") or {}
    if held.get("why") == REFUSED and held.get("until"):
        times.append(parse_iso(held["until"]))
    return max(times, default=None)


def hold(subject: Subject, now: datetime, until: datetime | None, why: str) -> dict[str, str | None]:
    """The ``held`` record: since when (kept across renewals), until when, why."""
    before = (subject.provider_list or {}).get("held") or {}
    return {"since": before.get("since") or iso(now), "until": iso(until) if until else None, "why": why}


def held_until(provider_list: dict[str, object] | None) -> tuple[bool, str | None]:
    """Whether the number is held back from marketing, and until when (None: not known)."""
    held = (provider_list or {}).get("held")
    if not isinstance(held, dict):
        return False, None
    until = held.get("until")
    return True, until if isinstance(until, str) else None
