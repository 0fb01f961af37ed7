"""Hostile events for the retention job (see tests/hostile/support.py for what every
answer must be)."""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.hostile.support import (
    SEEN,
    TRIED,
    assert_no_trace,
    fuzz,
    json_text,
    json_values,
    reached,
    seeded,
    sign_up,
)

pytestmark = pytest.mark.usefixtures("aws")

# ---- retention ------------------------------------------------------------------------------


@st.composite
def expiry_events(draw: st.DrawFn, now: Any) -> Any:
    moments = st.integers(min_value=-60 * 86_400, max_value=60 * 86_400).map(
        lambda s: now + timedelta(seconds=s)
    )
    scheduled = st.one_of(
        moments.map(lambda m: m.strftime("%Y-%m-%dT%H:%M:%SZ")),
        moments.map(lambda m: m.isoformat()),
        moments.map(lambda m: m.strftime("%Y-%m-%d")),
        st.sampled_from(
            [
                "<aws.scheduler.scheduled-time>",
                "",
                "now",
                "2026-13-45T99:99:99Z",
                "2026-11-22T03:15:00+25:00",
                "2026-11-22T03:15:00.123456789Z",
            ]
        ),
        json_values,
    )
    return draw(
        st.one_of(
            st.fixed_dictionaries({"scheduled_time": scheduled}),
            st.fixed_dictionaries(
                {"scheduled_time": scheduled},
                optional={"detail-type": json_text, "source": json_text, "detail": json_values},
            ),
            st.dictionaries(json_text, json_values, max_size=3),
            st.one_of(st.none(), st.lists(json_values, max_size=3), json_text, st.integers()),
        )
    )


def test_expiry(context, clock, outbox):
    from functions.expiry.app import handler

    seeded(context, outbox)
    sign_up(context, outbox, "+4915112345670")

    @fuzz(25)
    @given(expiry_events(clock.now))
    def case(event: Any) -> None:
        TRIED["hypothesis expiry"] += 1
        answer = handler(copy.deepcopy(event), context)
        assert isinstance(answer, dict), answer
        assert {"pending_expired", "lapsed", "purged", "examined"} <= set(answer), answer
        assert_no_trace(json.dumps(answer))
        SEEN["expiry: summary"] += 1

    case()
    reached("expiry", "summary")
