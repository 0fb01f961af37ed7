"""Small items kept beside the subjects: rate counters per time window, when a number last
got a confirmation SMS, and where the retention job continues."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from smsconsent.clock import iso, parse_iso
from smsconsent.store.errors import Conflict, guard
from smsconsent.store.models import CounterItem, JobItem, LastSmsItem, get_or_none

# ---- rate counters ------------------------------------------------------------------------


def _window_start(window: timedelta, now: datetime) -> tuple[int, int]:
    """The window's length and start, in Unix seconds."""
    seconds = int(window.total_seconds())
    return seconds, int(now.timestamp()) // seconds * seconds


def count_hit(key: str, window: timedelta, now: datetime) -> int:
    """Add one to the counter of ``key`` in the current window; returns the new count."""
    seconds, start = _window_start(window, now)
    counter = CounterItem(f"RATE#{key}#{start}", "COUNT")
    with guard():
        counter.update(
            actions=[
                CounterItem.hits.add(1),
                CounterItem.ttl.set(datetime.fromtimestamp(start + seconds + 3600, tz=now.tzinfo)),
            ]
        )
    return int(counter.hits)


def count_undo(key: str, window: timedelta, now: datetime) -> None:
    """Take back one ``count_hit`` of the same window (what it counted did not happen)."""
    _, start = _window_start(window, now)
    try:
        with guard():
            CounterItem(f"RATE#{key}#{start}", "COUNT").update(
                actions=[CounterItem.hits.add(-1)], condition=CounterItem.hits > 0
            )
    except Conflict:
        pass  # nothing left to take back


def window_end(window: timedelta, now: datetime) -> datetime:
    seconds, start = _window_start(window, now)
    return datetime.fromtimestamp(start + seconds, tz=now.tzinfo)


# ---- the resend cooldown ------------------------------------------------------------------


def last_sms_at(key: str) -> datetime | None:
    item = get_or_none(LastSmsItem, f"LASTSMS#{key}", "AT")
    return parse_iso(item.at) if item is not None else None


def set_last_sms(key: str, now: datetime, keep: timedelta) -> None:
    with guard():
        LastSmsItem(f"LASTSMS#{key}", "AT", at=iso(now), ttl=now + keep).save()


# ---- the retention job's cursor -----------------------------------------------------------


def job_cursor(job: str) -> date | None:
    item = get_or_none(JobItem, f"JOB#{job}", "CURSOR")
    return date.fromisoformat(item.day) if item is not None else None


def set_job_cursor(job: str, day: date, now: datetime) -> None:
    with guard():
        JobItem(f"JOB#{job}", "CURSOR", day=day.isoformat(), updated_at=iso(now)).save()
