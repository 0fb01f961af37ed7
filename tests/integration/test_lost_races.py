"""Writes that keep losing their condition (``store.Conflict`` every time): each use case
tries a bounded number of times (``retry.retry_on_conflict``), then answers as its route
promises: 503 ``busy`` with Retry-After 1, the inbound webhook 503 ``service_unavailable``
(the provider retries), the retention job leaves the subject for its next run."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.fixtures.events import load_event
from tests.fixtures.journeys import run, sign_up, stop, subject, visit

pytestmark = pytest.mark.usefixtures("aws")


class Losing:
    """Stands in for a store write: every call loses the race."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        from smsconsent import store

        self.calls += 1
        raise store.Conflict("changed meanwhile")


@pytest.fixture
def losing(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Losing]:
    def lose(name: str) -> Losing:
        from smsconsent import store

        writes = Losing()
        monkeypatch.setattr(store, name, writes)
        return writes

    return lose


def _busy(answer: dict[str, Any], message: str) -> None:
    assert answer["statusCode"] == 503
    assert answer["headers"]["Retry-After"] == "1"
    assert json.loads(answer["body"]) == {"error": {"code": "busy", "message": message}}


def test_a_confirmation_that_keeps_losing_is_busy_after_five_attempts(context, outbox, losing):
    token = sign_up(context, outbox)
    commits = losing("commit")
    _busy(visit(context, "POST", token), "the subscription is being changed by another request; retry")
    assert commits.calls == 5


def test_an_erasure_that_keeps_losing_is_busy_after_five_attempts(context, outbox, losing):
    from functions.privacy.app import handler

    sign_up(context, outbox, confirm=True)
    rewrites = losing("rewrite")
    _busy(
        handler(load_event("privacy-erase.json"), context),
        "the subject is being changed by another request; retry",
    )
    assert rewrites.calls == 5
    assert subject() is not None


def test_an_opt_out_on_behalf_that_keeps_losing_is_busy_after_five_attempts(context, outbox, losing):
    from functions.privacy.app import handler

    sign_up(context, outbox, confirm=True)
    commits = losing("commit")
    answer = handler(load_event("privacy-optout.json"), context)
    _busy(answer, "the subscription is being changed by another request; retry")
    assert commits.calls == 5


def test_a_signup_that_keeps_losing_is_busy_after_five_attempts(context, outbox, losing):
    from functions.signup.app import handler

    commits = losing("commit")
    event = load_event("signup-json.json")
    event["body"] = json.dumps({"phone": "+4915112345678", "consent": True, "age_confirmed": True})
    _busy(handler(event, context), "the number is being changed by another request; retry")
    assert commits.calls == 5
    assert outbox.messages() == []


def test_a_stop_that_keeps_losing_is_a_store_outage_after_five_attempts(context, outbox, losing):
    from smsconsent import store

    sign_up(context, outbox, confirm=True)
    commits = losing("commit")
    with pytest.raises(store.StoreUnavailable):
        stop()
    assert commits.calls == 5


def test_the_retention_job_leaves_a_subject_that_keeps_changing_after_three_attempts(
    context, outbox, clock, losing
):
    sign_up(context, outbox)
    clock.advance(hours=49)  # the open request's token has expired: the subject is due
    rewrites = losing("rewrite")
    summary = run(context, clock)
    assert rewrites.calls == 3
    assert summary["pending_expired"] == 0 and summary["examined"] == 1
    assert subject() is not None
