"""Hostile events for the privacy function (see tests/hostile/support.py for what every
answer must be)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fixtures.events import load_event
from tests.hostile.support import (
    PHONES,
    Watch,
    fuzz,
    http_events,
    reached,
    seeded,
)

pytestmark = pytest.mark.usefixtures("aws")

# ---- privacy --------------------------------------------------------------------------------

PRIVACY_EVENTS = [load_event(f"privacy-{kind}.json") for kind in ("export", "erase", "optout")]


def test_privacy(context, clock, outbox):
    from functions.privacy.app import handler

    seeded(context, outbox)

    watch = Watch()

    @fuzz(100)
    @given(
        http_events(
            PRIVACY_EVENTS,
            ["reason"],
            path_values={
                "tenant": st.sampled_from(["demo", "demo", "nosuchtenant"]),
                "phone": st.sampled_from([*PHONES, "+4930123456", "+49", "%2", "%%", "+" * 20]),
            },
        )
    )
    def case(event: dict[str, Any]) -> None:
        watch.run("privacy", handler, event, context, outbox)

    case()
    reached("privacy", "200", "422 invalid_phone", "404 unknown_tenant")
