"""Hostile events for the signup function (see tests/hostile/support.py for what every answer
must be)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fixtures.events import load_event
from tests.hostile.support import (
    Watch,
    fuzz,
    http_events,
    reached,
)

pytestmark = pytest.mark.usefixtures("aws")

# ---- signup ---------------------------------------------------------------------------------

SIGNUP_FIELDS = [
    "phone",
    "country",
    "consent",
    "purposes",
    "channel",
    "consent_text",
    "language",
    "source",
    "age_confirmed",
    "website",
]
SIGNUP_EVENTS = [
    load_event(name)
    for name in (
        "signup-json.json",
        "signup-form.json",
        "signup-json.json",
        "signup-form.json",
        "signup-preflight.json",
        "signup-refused-landline.json",
        "signup-refused-no-consent.json",
    )
]  # an unknown tenant comes from the path parameter's values


def test_signup(context, clock, outbox):
    from functions.signup.app import handler

    watch = Watch()

    @fuzz(150)
    @given(
        http_events(
            SIGNUP_EVENTS,
            SIGNUP_FIELDS,
            methods=["POST", "POST", "POST", "GET", "HEAD", "OPTIONS"],
            path_values={"tenant": st.sampled_from(["demo", "demo", "nosuchtenant", "DEMO", "d", "-" * 41])},
        )
    )
    def case(event: dict[str, Any]) -> None:
        clock.advance(seconds=400)  # the demo allows 10 signups per IP per hour
        watch.run("signup", handler, event, context, outbox, rate_counters_may_change=True)

    case()
    reached(
        "signup",
        "202 pending",
        "303",
        "422",
        "400 malformed_body",
        "404 unknown_tenant",
    )
