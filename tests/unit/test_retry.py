"""The one retry of optimistic writes: a lost race is tried again, a bounded number of times."""

from __future__ import annotations

import pytest

from smsconsent import errors, store
from smsconsent.retry import ATTEMPTS, retry_on_conflict


class Attempts:
    def __init__(self, *outcomes: Exception | str) -> None:
        self.outcomes = list(outcomes)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


def test_a_lost_race_is_decided_again_until_it_is_won() -> None:
    # Given a write that loses twice, then wins
    attempt = Attempts(store.Conflict("a"), store.Conflict("b"), "done")
    # When it is retried
    # Then its answer is the winning attempt's, after three attempts
    assert retry_on_conflict(attempt, "busy") == "done"
    assert attempt.calls == 3


def test_a_record_that_keeps_changing_is_busy_after_the_last_attempt() -> None:
    # Given a write that always loses
    attempt = Attempts(*[store.Conflict(str(n)) for n in range(ATTEMPTS)])
    # When it is retried
    with pytest.raises(errors.Busy) as refused:
        retry_on_conflict(attempt, "the subject is being changed by another request; retry")
    # Then it is tried ATTEMPTS times, then refused as busy with the caller's words
    assert attempt.calls == ATTEMPTS == 5
    assert (refused.value.code, refused.value.message, refused.value.retry_after) == (
        "busy",
        "the subject is being changed by another request; retry",
        1,
    )


def test_attempts_are_the_callers_and_other_failures_are_not_retried() -> None:
    three = Attempts(*[store.Conflict(str(n)) for n in range(3)])
    with pytest.raises(errors.Busy):
        retry_on_conflict(three, "busy", attempts=3)
    assert three.calls == 3
    outage = Attempts(store.StoreUnavailable("throttled"), "never")
    with pytest.raises(store.StoreUnavailable):
        retry_on_conflict(outage, "busy")
    assert outage.calls == 1
