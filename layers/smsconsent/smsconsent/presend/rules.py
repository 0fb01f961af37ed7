"""The sending rules that hold for one recipient, and when together they allow a marketing
send (SPEC "Sending rules by country and US state"). Pure: times, zones and the shipped
data (``smsconsent.sending_rules``); no store, no AWS.

A recipient's rules (``ruleset``): those of its US state (presumed from the area code,
``phone.us_state``), then of its country, then the tenant's quiet hours and frequency cap,
less the shipped rules the tenant waived. Every rule must allow a send: the stricter of
tenant and law wins because both hold. The rule reported for a refusal is the first that
refuses in that order (caps before hours, as ``frequency_cap`` comes before
``quiet_hours``); within a jurisdiction holidays, then closed days, then hours.

``retry_at`` is the first moment at or after ``send_at`` that every rule allows: an allowed
stretch can only begin where some rule stops refusing (the end of a quiet stretch, local
midnight after a closed day or holiday, DST jumps included) or where a recorded send leaves
a cap's window; so those moments are the candidates, and the first allowed one is minimal.

The ``holidays`` library is imported on the first holiday rule checked, never with this
module (it costs ~100 ms); each (country, subdivisions, year) calendar is built once.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

from smsconsent import sending_rules
from smsconsent.presend.reasons import FREQUENCY_CAP, QUIET_HOURS
from smsconsent.presend.schedule import _cap_allows, _minutes, _wall_moments, _zone, _zones_named, cap_free_at

TENANT_QUIET_HOURS = "tenant:quiet_hours"
TENANT_FREQUENCY_CAP = "tenant:frequency_cap"
_HORIZON_DAYS = 10  # longer than any closed stretch the rules make (a weekend and two holidays)
_ROUNDS = 64  # caps and hours pushing retry_at on each other: far more than any real case needs
_VERDICTS = 4096  # cached answers per rule set
_ORDER = {"holidays": 0, "closed_days": 1, "hours": 2}


@dataclass(frozen=True, slots=True)
class TimeRule:
    """One rule about the moment: a daily quiet stretch (``quiet``: from, until, in minutes
    of local time), closed weekdays, or public holidays; judged in the number's zones, or
    in the rule's own ``zone``."""

    id: str
    quiet: tuple[int, int] | None = None
    days: frozenset[int] = frozenset()
    holidays: tuple[str, tuple[str, ...]] | None = None  # (country, subdivisions)
    zone: str | None = None

    @property
    def ends(self) -> int:
        """The local minute at which a refused stretch of this rule ends."""
        return self.quiet[1] if self.quiet else 0

    def refuses(self, local: datetime) -> bool:
        if self.quiet is not None:
            start, end = self.quiet
            minute = local.hour * 60 + local.minute
            return start <= minute < end if start < end else (minute >= start or minute < end)
        if self.days:
            return local.weekday() in self.days
        assert self.holidays is not None
        return local.date() in holiday_dates(self.holidays[0], self.holidays[1], local.year)


@dataclass(frozen=True, slots=True)
class Cap:
    id: str
    most: int
    window: timedelta


@functools.lru_cache(maxsize=256)
def holiday_dates(country: str, subdivisions: tuple[str, ...], year: int) -> frozenset[date]:
    """The public holidays of ``country`` in ``year``, with those of each subdivision."""
    import holidays  # lazy: ~100 ms, and only a holiday rule needs it

    days = set(holidays.country_holidays(country, years=year))
    for subdivision in subdivisions:
        days |= set(holidays.country_holidays(country, subdiv=subdivision, years=year))
    return frozenset(days)


class RuleSet:
    """The rules one kind of recipient is held to (``ruleset`` makes one per kind and
    tenant settings, so two equal sets are the same object)."""

    __slots__ = ("_next", "_verdicts", "caps", "longest", "times")

    def __init__(self, times: tuple[TimeRule, ...], caps: tuple[Cap, ...]) -> None:
        self.times = times
        self.caps = caps
        self.longest = max((cap.window for cap in caps), default=None)  # the sends to keep
        self._verdicts: dict[tuple[tuple[str, ...], datetime], str | None] = {}
        self._next: dict[tuple[tuple[str, ...], datetime], datetime | None] = {}

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(r.id for r in self.times) + tuple(c.id for c in self.caps)

    def refusal(self, zones: tuple[str, ...], at: datetime) -> str | None:
        """The first rule about the moment that refuses a send at ``at`` to a number in
        ``zones`` (every zone must allow it), None when all allow it."""
        key = (zones, at)
        try:
            return self._verdicts[key]
        except KeyError:
            pass
        if len(self._verdicts) >= _VERDICTS:
            self._verdicts.clear()
        found = self._verdicts[key] = self._refusal(_zones_named(zones), at)
        return found

    def _refusal(self, number_zones: list[tzinfo], at: datetime) -> str | None:
        local: dict[tzinfo, datetime] = {}
        for rule in self.times:
            for zone in _rule_zones(rule, number_zones):
                moment = local.get(zone)
                if moment is None:
                    moment = local[zone] = at.astimezone(zone)
                if rule.refuses(moment):
                    return rule.id
        return None

    def next_allowed(self, zones: tuple[str, ...], at: datetime) -> datetime | None:
        """``at`` when every rule about the moment allows it, else the first later moment
        they all do; None when there is none within the horizon (zones too far apart)."""
        if self.refusal(zones, at) is None:
            return at
        key = (zones, at)
        if key in self._next:
            return self._next[key]
        if len(self._next) >= _VERDICTS:
            self._next.clear()
        number_zones = _zones_named(zones)
        found = None
        for moment in sorted(_candidates(self.times, number_zones, at)):
            if self._refusal(number_zones, moment) is None:
                found = moment
                break
        self._next[key] = found
        return found

    def cap_refusal(self, sends: list[datetime], at: datetime) -> str | None:
        """The first cap that one more send at ``at`` would break (``sends``: sorted)."""
        for cap in self.caps:
            if not _cap_allows(sends, at, cap.most, cap.window):
                return cap.id
        return None

    def settle(
        self, zones: tuple[str, ...], send_at: datetime, sends: Iterable[datetime]
    ) -> tuple[str, str, datetime | None] | None:
        """None when every rule allows a send at ``send_at`` (``sends``: the recorded ones,
        on both sides of it); else the reason (``frequency_cap`` when a cap refuses, else
        ``quiet_hours``), the rule that refused first, and the first moment every rule
        allows (None when none does)."""
        recorded = sorted(sends)
        capped = self.cap_refusal(recorded, send_at)
        if capped is not None:
            reason, rule = FREQUENCY_CAP, capped
        else:
            timed = self.refusal(zones, send_at)
            if timed is None:
                return None
            reason, rule = QUIET_HOURS, timed
        at = send_at
        for _ in range(_ROUNDS):
            free = self._cap_free(recorded, at)
            allowed = self.next_allowed(zones, free)
            if allowed is None or allowed == free:
                return reason, rule, allowed
            at = allowed
        return reason, rule, None

    def _cap_free(self, sends: list[datetime], at: datetime) -> datetime:
        """The first moment from ``at`` that every cap allows (each only ever moves it on)."""
        moved = bool(sends)
        while moved:
            moved = False
            for cap in self.caps:
                free = cap_free_at(sends, at, cap.most, cap.window)
                if free != at:
                    at, moved = free, True
        return at


def _rule_zones(rule: TimeRule, number_zones: list[tzinfo]) -> list[tzinfo]:
    if rule.zone is None:
        return number_zones
    zone = _zone(rule.zone)
    if zone is None:
        raise RuntimeError(f"no time zone data for {rule.zone}: is tzdata installed?")
    return [zone]


def _candidates(times: tuple[TimeRule, ...], number_zones: list[tzinfo], at: datetime) -> set[datetime]:
    """Every moment after ``at`` (within the horizon) at which some rule stops refusing."""
    found: set[datetime] = set()
    for rule in times:
        for zone in _rule_zones(rule, number_zones):
            today = at.astimezone(zone).date()
            for offset in range(-1, _HORIZON_DAYS + 1):
                for moment in _wall_moments(today + timedelta(days=offset), rule.ends, zone):
                    if moment > at:
                        found.add(moment)
    return found


# ---- which rules hold ---------------------------------------------------------------------


def jurisdictions(region: str, state: str | None) -> tuple[str, ...]:
    """The pack's jurisdictions a number of ``region`` (and US ``state``) is held to, the
    most specific first."""
    return (f"US-{state}", region) if region == "US" and state else (region,)


@functools.lru_cache(maxsize=4096)
def ruleset(
    region: str,
    state: str | None,
    quiet: tuple[str, str] | None = None,
    cap: tuple[int, int] | None = None,
    waived: frozenset[str] = frozenset(),
) -> RuleSet:
    """The rules a number of ``region`` (``state``: its US state) is held to under a
    tenant's ``quiet`` hours, frequency ``cap`` (max sends, days) and ``waived`` rules."""
    pack = sending_rules.pack()
    times: list[TimeRule] = []
    caps: list[Cap] = []
    for code in jurisdictions(region, state):
        where = pack.get(code)
        if where is None:
            continue
        shipped = [r for r in where.rules if r.id not in waived]
        for rule in sorted(shipped, key=lambda r: _ORDER.get(r.kind, 3)):
            if rule.kind == "cap":
                caps.append(Cap(rule.id, rule.max, timedelta(hours=rule.hours)))
            else:
                times.append(_time_rule(rule))
    if quiet is not None:
        times.append(TimeRule(TENANT_QUIET_HOURS, quiet=(_minutes(quiet[0]), _minutes(quiet[1]))))
    if cap is not None:
        caps.append(Cap(TENANT_FREQUENCY_CAP, cap[0], timedelta(days=cap[1])))
    return RuleSet(tuple(times), tuple(caps))


def _time_rule(rule: sending_rules.Rule) -> TimeRule:
    if rule.kind == "hours":
        assert rule.start is not None and rule.end is not None
        # Allowed from start to end: quiet from end to start.
        return TimeRule(rule.id, quiet=(_minutes(rule.end), _minutes(rule.start)), zone=rule.zone)
    if rule.kind == "closed_days":
        return TimeRule(rule.id, days=frozenset(rule.days))
    assert rule.country is not None
    return TimeRule(rule.id, holidays=(rule.country, rule.subdivisions))
