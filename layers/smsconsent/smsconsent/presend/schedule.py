"""Quiet hours and the frequency cap as pure arithmetic over times: when may a send go,
and if not at ``send_at``, when first. No store, no AWS."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from smsconsent.presend.reasons import FREQUENCY_CAP, QUIET_HOURS

_HORIZON_DAYS = 3  # allowed windows repeat daily: a common one shows within two days
_SETTLE_ROUNDS = 8  # quiet hours and the cap pushing retry_at on: a handful settles it


# ---- quiet hours ------------------------------------------------------------------------------


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


@lru_cache(maxsize=1024)
def _zone(name: str) -> tzinfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder ("America"), too long
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


# ---- both --------------------------------------------------------------------------------------


def settle(
    send_at: datetime,
    near: list[datetime],
    most: int,
    window: timedelta,
    zone_names: tuple[str, ...],
    quiet: tuple[str, str] | None,
) -> tuple[str, datetime | None] | None:
    """None when the cap (``most`` sends in ``window``, over the recorded sends ``near``;
    none: no cap to mind) and quiet hours both allow a send at ``send_at``; else the reason
    (the first rule that refused) and the first moment both allow, None when there is none.
    They can push each other on: the cap's moment may fall into the night, the morning may
    meet a send scheduled ahead."""
    reason = ""
    at: datetime | None = send_at
    for _ in range(_SETTLE_ROUNDS):
        if at is None:
            break  # the zones share no allowed moment
        free = cap_free_at(near, at, most, window) if near else at
        allowed = next_allowed(zone_names, free, *quiet) if quiet else free
        reason = reason or (FREQUENCY_CAP if free != at else QUIET_HOURS)
        if allowed == free:
            return None if free == send_at else (reason, free)
        at = allowed
    return reason, None
