"""The webhook retry schedule: exponential from 30 s, never more than 3 h ahead, retrying
until an attempt has been made 24 h or more after the first, in at most MAX_ATTEMPTS."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smsconsent.webhooks.backoff import GIVE_UP_AFTER, MAX_ATTEMPTS, next_attempt_at

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CAP = timedelta(hours=3)
unit = st.floats(min_value=0.0, max_value=1.0, exclude_max=True)


def _fixed(value: float) -> Callable[[], float]:
    return lambda: value


def _schedule(
    rands: Iterator[float], lags: Iterator[timedelta] | None = None
) -> list[tuple[int, datetime, datetime | None]]:
    """(attempt, made at, next at) for every attempt until the schedule gives up; each
    attempt is made when scheduled, or ``lags`` later (a queue does not run early)."""
    steps = []
    attempt, now = 1, T0
    while True:
        later = next_attempt_at(T0, attempt, now, lambda: next(rands))
        steps.append((attempt, now, later))
        if later is None:
            return steps
        assert attempt < 1000, "the schedule never gives up"
        attempt, now = attempt + 1, later + (next(lags) if lags else timedelta(0))


def test_the_first_retries_double_from_30_seconds() -> None:
    for attempt, seconds in [(1, 30), (2, 60), (3, 120), (4, 240), (8, 3840)]:
        now = T0 + timedelta(minutes=attempt)
        assert next_attempt_at(T0, attempt, now, _fixed(0.999999)) - now == pytest.approx(
            timedelta(seconds=seconds), abs=timedelta(seconds=0.01)
        )
        assert next_attempt_at(T0, attempt, now, _fixed(0.0)) - now == timedelta(seconds=seconds / 2)


def test_a_late_attempt_is_scheduled_at_most_3_hours_ahead() -> None:
    now = T0 + timedelta(hours=10)
    assert next_attempt_at(T0, 30, now, _fixed(0.999999)) - now <= CAP
    assert next_attempt_at(T0, 30, now, _fixed(0.0)) - now == CAP / 2
    assert next_attempt_at(T0, 10**6, now, _fixed(0.5)) - now <= CAP


def test_an_attempt_at_or_after_24_hours_is_the_last() -> None:
    assert timedelta(hours=24) == GIVE_UP_AFTER
    assert next_attempt_at(T0, 20, T0 + GIVE_UP_AFTER, _fixed(0.5)) is None
    assert next_attempt_at(T0, 20, T0 + GIVE_UP_AFTER + timedelta(days=3), _fixed(0.5)) is None
    assert next_attempt_at(T0, 20, T0 + GIVE_UP_AFTER - timedelta(seconds=1), _fixed(0.5)) is not None


def test_the_one_attempt_made_24_hours_late_is_also_the_last() -> None:
    """A queue stuck for a day: the first failure after it is dead-lettered."""
    assert next_attempt_at(T0, 1, T0 + timedelta(hours=25), _fixed(0.5)) is None


def test_attempts_are_numbered_from_1() -> None:
    with pytest.raises(ValueError):
        next_attempt_at(T0, 0, T0, _fixed(0.5))


def test_max_attempts_is_what_the_fastest_schedule_makes() -> None:
    """The shortest waits (no jitter added) make the most attempts in 24 hours."""
    steps = _schedule(iter(lambda: 0.0, None))
    assert len(steps) == MAX_ATTEMPTS
    assert 20 <= MAX_ATTEMPTS <= 40


def test_the_slowest_schedule_still_retries_for_24_hours() -> None:
    steps = _schedule(iter(lambda: 0.999999, None))
    assert steps[-1][1] >= T0 + GIVE_UP_AFTER
    assert len(steps) <= MAX_ATTEMPTS


@settings(max_examples=300, deadline=None)
@given(rands=st.lists(unit, min_size=1, max_size=60), lags=st.lists(st.integers(0, 7200), max_size=60))
def test_any_schedule_retries_for_24_hours_in_bounded_steps(rands: list[float], lags: list[int]) -> None:
    steps = _schedule(
        iter(rands * 60), iter([timedelta(seconds=lag) for lag in lags] + [timedelta(0)] * 1000)
    )
    assert steps[-1][2] is None
    assert steps[-1][1] >= T0 + GIVE_UP_AFTER  # given up only once an attempt came at 24 h or later
    assert all(made < T0 + GIVE_UP_AFTER for _, made, _ in steps[:-1])  # no earlier give-up
    for _, made, later in steps[:-1]:
        assert later is not None
        assert timedelta(seconds=15) <= later - made <= CAP
    assert len(steps) <= MAX_ATTEMPTS


@settings(max_examples=300, deadline=None)
@given(attempt=st.integers(1, 200), rand=unit, hours=st.floats(0, 23.99))
def test_waits_grow_with_the_attempt_and_never_pass_3_hours(attempt: int, rand: float, hours: float) -> None:
    now = T0 + timedelta(hours=hours)
    this = next_attempt_at(T0, attempt, now, _fixed(rand))
    after = next_attempt_at(T0, attempt + 1, now, _fixed(rand))
    assert this is not None and after is not None
    assert now < this <= now + CAP
    assert after - now >= this - now


def test_the_default_jitter_is_random_within_its_bounds() -> None:
    now = T0 + timedelta(hours=1)
    waits = {next_attempt_at(T0, 3, now) - now for _ in range(50)}  # type: ignore[operator]
    assert len(waits) > 1
    assert all(timedelta(seconds=60) <= wait <= timedelta(seconds=120) for wait in waits)
