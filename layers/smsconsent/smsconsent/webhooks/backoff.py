"""When to try a failed webhook delivery again: exponential backoff from 30 s, doubling,
capped at 3 h, with jitter (half the delay fixed, half random) so that the deliveries a
receiver's outage failed together do not all come back at once.

Retries go on until an attempt has been made at or after ``first_attempt_at +
GIVE_UP_AFTER``, so a receiver down for up to 24 hours still gets every event; the next
attempt is never more than 3 h ahead. Pure: no clock, the caller passes ``now``."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta

GIVE_UP_AFTER = timedelta(hours=24)
FIRST_DELAY = timedelta(seconds=30)
MAX_DELAY = timedelta(hours=3)


def _delay(attempt: int) -> timedelta:
    """The full delay after failed attempt ``attempt`` (before jitter)."""
    doublings = min(attempt - 1, 32)  # far past the cap already; keeps the number small
    return min(FIRST_DELAY * (1 << doublings), MAX_DELAY)


def next_attempt_at(
    first_attempt_at: datetime, attempt: int, now: datetime, rand: Callable[[], float] = random.random
) -> datetime | None:
    """After failed attempt number ``attempt`` (1-based) made at ``now``, when to try again;
    None when the delivery should be dead-lettered (this attempt came 24 h or more after the
    first). The wait is between half the delay and the delay, ``rand()`` in [0, 1) choosing."""
    if attempt < 1:
        raise ValueError("attempts are numbered from 1")
    if now - first_attempt_at >= GIVE_UP_AFTER:  # (not first + 24 h: it may be past year 9999)
        return None
    delay = _delay(attempt)
    share = min(max(rand(), 0.0), 1.0)
    return now + delay / 2 + delay * (share / 2)


def _max_attempts() -> int:
    """Attempts made when every wait is the shortest (half the delay) and every attempt
    runs on time: no schedule makes more, as long as no attempt runs early."""
    attempt, elapsed = 1, timedelta(0)
    while elapsed < GIVE_UP_AFTER:
        elapsed += _delay(attempt) / 2
        attempt += 1
    return attempt


# For the queue's redrive policy: a safety net behind the schedule, never cut short by it.
MAX_ATTEMPTS = _max_attempts()
