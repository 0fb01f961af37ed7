"""The pre-send check (SPEC "Check request" / "Check answer", rules 3, 5 and 9): may this
message go to these numbers at ``send_at``?

Per recipient, in this order, the first rule that refuses gives the reason:

1. ``invalid_phone``: not a valid number in any common format (``phone.normalise`` with
   the tenant's default country). Any number type passes: the check answers for consent,
   not deliverability. A landline never has marketing consent (signup refuses it), so
   marketing to it is ``no_consent``; transactional SMS to landlines is a provider
   feature (read out by voice) the sender may use.
2. ``country_not_allowed``: the number's region is not in the tenant's allowed countries
   (marketing and transactional alike: it is the tenant's sending footprint).
3. Transactional sends stop here (``ok``, no footer): they need no marketing consent, and
   quiet hours and the frequency cap do not apply to an OTP or a receipt. Only where the
   tenant's ``stop_scope`` is ``all`` does an opted-out record of the purpose (or a
   pending re-signup over one) deny with ``opted_out``.
4. Marketing needs the record ``<channel>:<purpose>`` to be ``active``: none is
   ``no_consent``, else ``pending``, ``opted_out`` or ``lapsed``. Time-based changes the
   retention job has not made yet count as made at ``send_at``: an active marketing record
   whose lapse is due is ``lapsed``; a pending record whose token expired is what it was
   before (or ``no_consent``).
5. ``frequency_cap``: the tenant's cap (at most N sends in any rolling window of D days)
   holds with this send added: the recorded sends count on both sides of ``send_at``, as
   sending systems schedule ahead and check out of order. ``retry_at`` is the first later
   moment the cap allows (under quiet hours, the first moment both allow).
6. ``quiet_hours``: the recipient's local time (every zone the number may be in: the
   strictest wins) is inside the tenant's quiet hours; ``retry_at`` is the first moment
   allowed in all of them, DST-correct. When the zones share no allowed moment at all,
   ``retry_at`` is null.

Allowed marketing results carry ``optout_url`` (the per-recipient link) and ``footer``: the
opt-out line the message must carry, in the subject's language (the tenant's when it does
not speak it): STOP to the tenant's shortcode for the recipient's country on SMS, else the
opt-out URL.

``record: true`` makes each allowed marketing send contact: last contact, the sends that can
still count toward the cap (none older than a window before now or ``send_at``), the
campaign (none given: the last one is forgotten, so a later STOP is not blamed on an older
campaign) and the lapse clock, in one conditional update per subject
(``store.batch``). A lost race reads that subject again and decides again. A retried
request with the same explicit ``send_at`` and campaign finds its send recorded and
answers the same without counting it twice. Duplicates in the input are one recipient.

Everything time-based is judged at ``send_at``; the states are the stored ones.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import lru_cache
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from smsconsent import clock, consent, keys, messages, phone
from smsconsent.clock import iso, parse_iso
from smsconsent.http import ApiError
from smsconsent.store import StoreUnavailable, subject_pk
from smsconsent.store import batch as batch_store
from smsconsent.store.batch import Contact, Snapshot
from smsconsent.tenants import CATEGORIES, CHANNELS, SLUG, Tenant

MAX_RECIPIENTS = 10_000
MAX_CAMPAIGN = 100
SEND_AT_RANGE = timedelta(days=366)  # consent states are today's: a send far off is not checkable
WRITE_ROUNDS = 4  # conditional-update rounds before a hot subject makes the answer a 503

OK = "ok"
INVALID_PHONE = "invalid_phone"
COUNTRY_NOT_ALLOWED = "country_not_allowed"
NO_CONSENT = "no_consent"
PENDING = "pending"
OPTED_OUT = "opted_out"
LAPSED = "lapsed"
QUIET_HOURS = "quiet_hours"
FREQUENCY_CAP = "frequency_cap"
REASONS = (
    OK,
    INVALID_PHONE,
    COUNTRY_NOT_ALLOWED,
    NO_CONSENT,
    PENDING,
    OPTED_OUT,
    LAPSED,
    QUIET_HOURS,
    FREQUENCY_CAP,
)


class Backend(Protocol):
    """Where subjects come from and contact goes to (``store.batch``; a dict in unit tests)."""

    def read(self, pks: Sequence[str]) -> dict[str, Snapshot]: ...

    def read_one(self, pk: str) -> Snapshot | None: ...

    def record(self, contacts: Sequence[Contact], now: datetime) -> list[bool]: ...


# ---- the request ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckRequest:
    recipients: list[str]
    category: str  # marketing | transactional
    purpose: str
    channel: str
    campaign: str | None
    send_at: datetime
    record: bool


# ---- who may check for which tenant --------------------------------------------------------

# A direct invocation is bound to a tenant by the alias it comes through:
# ``<function>:tenant-<id>``; ``lambda:InvokeFunction`` on that alias ARN is the grant.
TENANT_ALIAS_PREFIX = "tenant-"


def alias_tenant(invoked_function_arn: str | None) -> str | None:
    """The tenant id of a ``tenant-<id>`` alias the function was invoked through, else None
    (unqualified, a version, or another alias)."""
    parts = (invoked_function_arn or "").split(":")
    if len(parts) != 8 or not parts[7].startswith(TENANT_ALIAS_PREFIX):
        return None
    tenant_id = parts[7].removeprefix(TENANT_ALIAS_PREFIX)
    return tenant_id if SLUG.match(tenant_id) else None


def bind(invoked_function_arn: str | None, named: Any) -> None:
    """Refuse (403 ``tenant_not_bound``) a direct invocation that did not come through the alias
    of the tenant it names, before anything is read or written."""
    bound = alias_tenant(invoked_function_arn)
    if bound is None:
        raise ApiError(
            403,
            "tenant_not_bound",
            f"invoke through the tenant's alias, {TENANT_ALIAS_PREFIX}<tenant id>; "
            "this invocation is bound to no tenant",
            "tenant",
        )
    if isinstance(named, str) and named != bound:
        raise ApiError(403, "tenant_not_bound", f"this alias is bound to the tenant {bound!r}", "tenant")


def _invalid(field: str, message: str, code: str = "invalid_field") -> ApiError:
    return ApiError(422, code, message, field)


def parse_request(tenant: Tenant, data: Mapping[str, Any], now: datetime) -> CheckRequest:
    """Validate the check request; an ``ApiError`` (422) names the field at fault."""
    recipients = data.get("recipients")
    if not isinstance(recipients, list) or not all(isinstance(r, str) for r in recipients):
        raise _invalid("recipients", "recipients must be a list of phone numbers as strings")
    if not 1 <= len(recipients) <= MAX_RECIPIENTS:
        raise _invalid("recipients", f"recipients must hold 1 to {MAX_RECIPIENTS:,} numbers")

    purpose = data.get("purpose")
    if purpose is None:
        purpose = "marketing" if "marketing" in tenant.purposes else tenant.default_purposes[0]
    if not isinstance(purpose, str):
        raise _invalid("purpose", "purpose must be a string")
    if purpose not in tenant.purposes:
        raise _invalid("purpose", "this tenant has no such purpose", "unknown_purpose")

    category = data.get("category")
    if category is None:
        category = tenant.purposes[purpose].category
    if category not in CATEGORIES:
        raise _invalid("category", f"category must be one of {', '.join(CATEGORIES)}")
    if category == "marketing" and tenant.purposes[purpose].category != "marketing":
        # Consent to receipts is no consent to advertising: a STOP leaves such a purpose
        # active, so marketing under it would reach people who said STOP.
        raise _invalid("category", f"marketing cannot be sent under the transactional purpose {purpose!r}")

    channel = data.get("channel")
    if channel is None:
        channel = "sms"
    if channel not in CHANNELS:
        raise _invalid("channel", f"channel must be one of {', '.join(CHANNELS)}")

    campaign = data.get("campaign")
    if campaign is not None and (not isinstance(campaign, str) or not 1 <= len(campaign) <= MAX_CAMPAIGN):
        raise _invalid("campaign", f"campaign must be a string of 1 to {MAX_CAMPAIGN} characters")

    send_at = data.get("send_at")
    if send_at is None:
        moment = now
    elif not isinstance(send_at, str) or len(send_at) > 40:
        raise _invalid("send_at", "send_at must be an ISO-8601 time")
    else:
        try:
            moment = parse_iso(send_at)
        except (ValueError, OverflowError) as exc:
            raise _invalid("send_at", "send_at must be an ISO-8601 time") from exc
        if abs(moment - now) > SEND_AT_RANGE:
            raise _invalid("send_at", "send_at must be within a year of now")

    record = data.get("record")
    if record is None:
        record = False
    if not isinstance(record, bool):
        raise _invalid("record", "record must be true or false")

    return CheckRequest(
        recipients=recipients,
        category=category,
        purpose=purpose,
        channel=channel,
        campaign=campaign,
        send_at=moment.replace(microsecond=0),
        record=record,
    )


# ---- numbers ------------------------------------------------------------------------------

_E164 = re.compile(r"\+[1-9][0-9]{6,14}")


def _normalised(raw: str, country: str) -> tuple[str, str] | None:
    """(E.164, region), or None when ``raw`` is no valid number."""
    if len(raw) > 40:
        return None  # no number is that long; and the cache must not keep huge strings
    return _normalised_cached(raw, country)


@lru_cache(maxsize=65_536)
def _normalised_cached(raw: str, country: str) -> tuple[str, str] | None:
    """Cached: parsing is the dearest thing the check does."""
    try:
        number = phone.normalise(raw, country)
    except phone.PhoneError:
        return None
    return number.e164, number.region


@lru_cache(maxsize=65_536)
def _zones(e164: str) -> tuple[str, ...]:
    return phone.time_zones(e164)


@dataclass(slots=True)
class _Number:
    e164: str | None  # None: invalid
    region: str | None  # None: not checked yet
    checked: bool  # validated by phonenumbers (False: E.164-shaped, taken as written so far)


def _number(raw: str, country: str) -> _Number:
    # Already E.164 (what sending systems send): hashed as written. It is validated only
    # when no subject turns up: a subject exists only under a number phonenumbers
    # normalised, and it remembers its region.
    if _E164.fullmatch(raw):
        return _Number(raw, None, False)
    found = _normalised(raw, country)
    return _Number(found[0], found[1], True) if found else _Number(None, None, True)


# ---- quiet hours ------------------------------------------------------------------------------

_HORIZON_DAYS = 3  # allowed windows repeat daily: a common one shows within two days
_SETTLE_ROUNDS = 8  # quiet hours and the cap pushing retry_at on: a handful settles it


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


@lru_cache(maxsize=1024)
def _zone(name: str) -> tzinfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _zones_named(names: tuple[str, ...]) -> list[tzinfo]:
    """The zones of these names. A number phonenumbers places nowhere is judged in UTC;
    one whose every zone is unknown means the time zone database is missing (the
    ``tzdata`` package is the fallback): an error, never quiet hours silently in UTC."""
    zones = [z for z in (_zone(n) for n in names) if z is not None]
    if names and not zones:
        raise RuntimeError(f"no time zone data for {', '.join(names)}: is tzdata installed?")
    return zones or [UTC]


def _quiet(moment: datetime, zone: tzinfo, start: int, end: int) -> bool:
    local = moment.astimezone(zone)
    minute = local.hour * 60 + local.minute
    return start <= minute < end if start < end else (minute >= start or minute < end)


def _wall_moments(day: date, minute: int, zone: tzinfo) -> list[datetime]:
    """The moments at which ``zone``'s wall clock reaches ``minute`` on ``day``: one as a
    rule, two in a fall-back overlap, and in a spring-forward gap the jump over it."""
    local = datetime(day.year, day.month, day.day, minute // 60, minute % 60, tzinfo=zone)
    first = local.replace(fold=0).astimezone(UTC)
    second = local.replace(fold=1).astimezone(UTC)
    if first == second:
        return [first]
    if first < second:
        return [first, second]
    # In a gap fold=0 maps with the offset before the jump (later), fold=1 with the one
    # after (earlier): the jump lies between; find it to the second.
    after = first.astimezone(zone).utcoffset()
    low, high = int(second.timestamp()), int(first.timestamp())
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, UTC).astimezone(zone).utcoffset() == after:
            high = middle
        else:
            low = middle
    return [datetime.fromtimestamp(high, UTC)]


@lru_cache(maxsize=8192)
def next_allowed(zone_names: tuple[str, ...], at: datetime, start: str, end: str) -> datetime | None:
    """``at`` when it is outside quiet hours ``start``-``end`` in every zone, else the first
    later moment that is, or None when the zones share no allowed moment (too far apart
    for the allowed hours)."""
    zones = _zones_named(zone_names)
    first, last = _minutes(start), _minutes(end)
    if not any(_quiet(at, z, first, last) for z in zones):
        return at
    # An allowed stretch common to all zones begins where one zone's quiet hours end.
    candidates: set[datetime] = set()
    for zone in zones:
        today = at.astimezone(zone).date()
        for offset in range(-1, _HORIZON_DAYS + 1):
            for moment in _wall_moments(today + timedelta(days=offset), last, zone):
                if moment > at:
                    candidates.add(moment)
    for moment in sorted(candidates):
        if not any(_quiet(moment, z, first, last) for z in zones):
            return moment
    return None


# ---- frequency cap ---------------------------------------------------------------------------


def _cap_allows(sends: list[datetime], at: datetime, most: int, window: timedelta) -> bool:
    """Whether one more send at ``at`` keeps every rolling ``window`` (half-open, as
    ``(t - window, t]``) at ``most`` sends or fewer. ``sends``: sorted."""
    timeline = sorted([*sends, at])
    here = timeline.index(at)
    # Any most+1 sends (this one among them) closer together than the window break it.
    for first in range(max(0, here - most), min(here, len(timeline) - 1 - most) + 1):
        if timeline[first + most] - timeline[first] < window:
            return False
    return True


def cap_free_at(sends: list[datetime], at: datetime, most: int, window: timedelta) -> datetime:
    """``at`` when the cap allows a send then, else the first later moment it does. An
    allowed stretch can only begin where a send leaves the window behind (``s + window``),
    and after the last send's it always is."""
    sends = sorted(sends)
    if _cap_allows(sends, at, most, window):
        return at
    for moment in sorted({s + window for s in sends if s + window > at}):
        if _cap_allows(sends, moment, most, window):
            return moment
    raise AssertionError("unreachable: a window after the last send is always free")


# ---- deciding ------------------------------------------------------------------------------


@dataclass(slots=True)
class Outcome:
    allowed: bool
    reason: str
    retry_at: str | None = None
    footer: str | None = None
    optout_url: str | None = None
    contact: Contact | None = None  # what ``record`` writes for this subject


_DENIED = {reason: Outcome(False, reason) for reason in REASONS if reason != OK}
_TRANSACTIONAL_OK = Outcome(True, OK)
_STATE_REASONS = {consent.PENDING: PENDING, consent.OPTED_OUT: OPTED_OUT, consent.LAPSED: LAPSED}


class _Context:
    """What every recipient of one request shares, worked out once."""

    def __init__(self, tenant: Tenant, req: CheckRequest, now: datetime) -> None:
        self.tenant = tenant
        self.req = req
        self.key = consent.key(req.channel, req.purpose)
        self.transactional = req.category == "transactional"
        self.stop_all = tenant.stop_scope == "all"
        self.send_iso = iso(req.send_at)
        # Marketing purposes lapse (as ``consent.lapse_at``): lapsed when the last of
        # contact, confirmation and ``since`` is at or before this.
        self.lapses = req.purpose in tenant.marketing_purposes()
        self.lapse_cut = iso(req.send_at - timedelta(days=tenant.lapse_after_days))
        # A pending record expires (as ``consent.expire_pending``) when issued at or before this.
        self.pending_cut = iso(req.send_at - timedelta(hours=tenant.token_ttl_hours))
        self.cap = tenant.frequency_cap
        self.cap_window = timedelta(days=self.cap[1]) if self.cap else timedelta(0)
        # Recorded sends that can share a window with this one: inside (send_at - window,
        # send_at + window). What ``record`` keeps: none from before a window before the
        # earlier of now and send_at (no later check can count them).
        self.window_lo = iso(req.send_at - self.cap_window)
        self.window_hi = iso(req.send_at + self.cap_window)
        self.keep_from = iso(min(now, req.send_at) - self.cap_window)
        self.quiet = tenant.quiet_hours
        self.link = tenant.link("/o/")
        self.shortcodes = tenant.optout_shortcodes if req.channel == "sms" else {}
        self._languages: dict[str | None, str] = {}
        self._footers: dict[tuple[str, str], str] = {}

    def language(self, wanted: str | None) -> str:
        lang = self._languages.get(wanted)
        if lang is None:
            lang = self._languages[wanted] = self.tenant.language(wanted)
        return lang

    def shortcode_footer(self, lang: str, code: str) -> str:
        text = self._footers.get((lang, code))
        if text is None:
            text = self._footers[(lang, code)] = messages.optout_footer(lang, shortcode=code)
        return text


def _state(record: dict[str, Any] | None, ctx: _Context) -> tuple[str | None, dict[str, Any] | None]:
    """The record's state at ``send_at``: a pending record past its token's lifetime is
    what it was before (the retention job's ``expire_pending``, ahead of time)."""
    if record is None:
        return None, None
    state = record.get("state")
    if state == consent.PENDING and record.get("issued_at", record.get("since", "")) <= ctx.pending_cut:
        prior = record.get("prior")
        return (prior.get("state"), prior) if prior else (None, None)
    return state, record


def decide(ctx: _Context, e164: str, region: str, subject: Snapshot | None) -> Outcome:
    """One subject's answer (pure)."""
    tenant = ctx.tenant
    if region not in tenant.allowed_countries:
        return _DENIED[COUNTRY_NOT_ALLOWED]
    state, record = _state(subject.consents.get(ctx.key) if subject else None, ctx)

    if ctx.transactional:
        if ctx.stop_all and record is not None and consent.opted_out(record):
            return _DENIED[OPTED_OUT]
        return _TRANSACTIONAL_OK

    if subject is None or record is None:
        return _DENIED[NO_CONSENT]
    if state != consent.ACTIVE:
        return _DENIED[_STATE_REASONS.get(state or "", NO_CONSENT)]
    if (
        ctx.lapses
        and max(subject.last_contact_at or "", record.get("confirmed_at") or "", record["since"])
        <= ctx.lapse_cut
    ):
        return _DENIED[LAPSED]

    send_iso = ctx.send_iso
    already = ctx.req.record and send_iso in subject.sends and subject.last_campaign == ctx.req.campaign
    near: list[datetime] = []
    if ctx.cap:
        # Fewer sends near this one than the cap allows: no window can be full.
        close = [s for s in subject.sends if ctx.window_lo < s < ctx.window_hi]
        if already:
            close.remove(send_iso)  # this very send, recorded by an earlier try
        if len(close) >= ctx.cap[0]:
            near = [parse_iso(s) for s in close]
    blocked = _blocked(ctx, e164, near)
    if blocked is not None:
        return blocked

    lang = ctx.language(subject.language)
    code = subject.optout_code
    url = ctx.link + code if code else None
    shortcode = ctx.shortcodes.get(region)
    footer = ctx.shortcode_footer(lang, shortcode) if shortcode else messages.optout_footer(lang, url=url)
    contact = None
    if ctx.req.record and not already:
        contact = _contact(ctx, subject)
    return Outcome(True, OK, None, footer, url, contact)


def _blocked(ctx: _Context, e164: str, near: list[datetime]) -> Outcome | None:
    """The frequency cap's or quiet hours' refusal at ``send_at`` (None when neither
    refuses), with ``retry_at`` the first moment both allow. They can push each other on:
    the cap's moment may fall into the night, the morning may meet a send scheduled ahead."""
    send_at = ctx.req.send_at
    if not near and (not ctx.quiet or next_allowed(_zones(e164), send_at, *ctx.quiet) == send_at):
        return None  # the common case, without the settling below
    most = ctx.cap[0] if ctx.cap else 0
    reason = ""
    at: datetime | None = send_at
    for _ in range(_SETTLE_ROUNDS):
        if at is None:
            break  # the zones share no allowed moment
        free = cap_free_at(near, at, most, ctx.cap_window) if near else at
        allowed = next_allowed(_zones(e164), free, *ctx.quiet) if ctx.quiet else free
        reason = reason or (FREQUENCY_CAP if free != at else QUIET_HOURS)
        if allowed == free:
            return None if free == send_at else Outcome(False, reason, iso(free))
        at = allowed
    return Outcome(False, reason, None)


def _contact(ctx: _Context, subject: Snapshot) -> Contact:
    send_iso = ctx.send_iso
    # Without a cap only the last send is kept: what tells a retried request apart.
    sends = sorted([s for s in subject.sends if s > ctx.keep_from] + [send_iso]) if ctx.cap else [send_iso]
    at = max(subject.last_contact_at or "", send_iso)
    after = dataclasses.replace(subject, last_contact_at=at, sends=sends)
    due = consent.next_due(after.as_subject(ctx.tenant.id), ctx.tenant)
    return Contact(subject=subject, at=at, sends=sends, campaign=ctx.req.campaign, due=due)


# ---- the whole check ------------------------------------------------------------------------


def _lookup(tenant: Tenant, wanted: Mapping[str, Sequence[str]], backend: Backend) -> dict[str, Snapshot]:
    """The subject of each number under the first of its key versions that has one."""
    pks = {
        e164: [subject_pk(tenant.id, keys.subject_hash(tenant.id, e164, v)) for v in versions]
        for e164, versions in wanted.items()
    }
    found = backend.read([pk for candidates in pks.values() for pk in candidates])
    out = {}
    for e164, candidates in pks.items():
        for pk in candidates:
            if pk in found:
                out[e164] = found[pk]
                break
    return out


def _result(raw: str, e164: str | None, outcome: Outcome) -> dict[str, Any]:
    return {
        "input": raw,
        "phone": e164,
        "allowed": outcome.allowed,
        "reason": outcome.reason,
        "retry_at": outcome.retry_at,
        "footer": outcome.footer,
        "optout_url": outcome.optout_url,
    }


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
        _record(ctx, outcomes, regions, store_)

    results: list[dict[str, Any]] = []
    answered: dict[str, dict[str, Any]] = {}
    allowed = 0
    invalid = _DENIED[INVALID_PHONE]
    for raw in req.recipients:
        result = answered.get(raw)
        if result is None:
            number = numbers[raw]
            outcome = invalid if number.e164 is None or number.region is None else outcomes[number.e164]
            result = answered[raw] = _result(raw, number.e164, outcome)
        allowed += result["allowed"]
        results.append(result)
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
    candidates = {n.e164 for n in numbers.values() if n.e164 is not None}
    subjects = _lookup(tenant, dict.fromkeys(candidates, current), backend)

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


def _record(
    ctx: _Context, outcomes: dict[str, Outcome], regions: Mapping[str, str], backend: Backend
) -> None:
    """Write every allowed marketing send's contact; a subject changed meanwhile is read
    and decided again (its answer may change), a bounded number of times."""
    todo = {e164: o.contact for e164, o in outcomes.items() if o.contact is not None}
    for _ in range(WRITE_ROUNDS):
        if not todo:
            return
        items = list(todo.items())
        done = backend.record([contact for _, contact in items], clock.now())
        todo = {}
        for (e164, contact), ok in zip(items, done, strict=True):
            if ok:
                continue
            outcome = decide(ctx, e164, regions[e164], backend.read_one(contact.subject.pk))
            outcomes[e164] = outcome
            if outcome.contact is not None:
                todo[e164] = outcome.contact
    if todo:
        raise StoreUnavailable(f"{len(todo)} subjects kept changing while contact was recorded")
