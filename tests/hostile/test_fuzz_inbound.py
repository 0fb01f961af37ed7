"""Hostile events for the inbound function: the providers' webhooks as sent, and AWS End
User Messaging two-way SMS over SNS (see tests/hostile/support.py for what every answer
must be)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fixtures.events import load_event
from tests.hostile.support import (
    SEEN,
    TRIED,
    Watch,
    assert_no_trace,
    fuzz,
    inbound_events,
    json_text,
    json_values,
    reached,
    seeded,
)

pytestmark = pytest.mark.usefixtures("aws")


def test_inbound_webhooks(context, clock, outbox):
    """As sent: the providers' real signatures hold until a mutation breaks them."""
    from functions.inbound.app import handler

    seeded(context, outbox)

    watch = Watch()

    @fuzz(150)
    @given(inbound_events())
    def case(event: dict[str, Any]) -> None:
        watch.run("inbound", handler, event, context, outbox)

    case()
    reached("inbound", "200", "403 invalid_signature", "404 unknown_provider", "413 body_too_large")


# ---- AWS End User Messaging two-way SMS over SNS --------------------------------------------

SNS_EVENTS = [load_event(f"inbound-sns-{kind}.json") for kind in ("stop", "start", "help", "unknown-number")]
SNS_FIELDS = [
    "originationNumber",
    "destinationNumber",
    "messageBody",
    "inboundMessageId",
    "messageKeyword",
    "previousPublishedMessageId",
]


@st.composite
def sns_events(draw: st.DrawFn) -> Any:
    kind = draw(st.sampled_from(["records", "records", "records", "whole"]))
    if kind == "whole":
        return draw(
            st.one_of(
                st.dictionaries(json_text, json_values, max_size=4).map(lambda d: {"Records": [], **d}),
                st.fixed_dictionaries({"Records": st.lists(json_values, max_size=3)}),
                st.fixed_dictionaries(
                    {
                        "Records": st.one_of(
                            st.none(),
                            st.text(max_size=5),
                            st.dictionaries(st.text(max_size=5), json_values, max_size=2),
                        )
                    }
                ),
            )
        )
    event = copy.deepcopy(draw(st.sampled_from(SNS_EVENTS)))
    records = []
    for _ in range(draw(st.integers(1, 3))):
        record = copy.deepcopy(event["Records"][0])
        message = json.loads(record["Sns"]["Message"])
        choice = draw(st.sampled_from(["fields", "fields", "message", "record"]))
        if choice == "fields":
            for key in draw(st.lists(st.sampled_from(sorted(message)), unique=True, max_size=2)):
                del message[key]
            message.update(draw(st.dictionaries(st.sampled_from(SNS_FIELDS), json_values, max_size=3)))
            record["Sns"]["Message"] = json.dumps(message, ensure_ascii=draw(st.booleans()))
        elif choice == "message":
            record["Sns"]["Message"] = draw(st.one_of(json_text, json_values.map(json.dumps)))
        else:
            record = draw(json_values)
        records.append(record)
    event["Records"] = records
    return event


def test_inbound_two_way_sms_over_sns(context, clock, outbox):
    from functions.inbound.app import handler

    seeded(context, outbox)

    @fuzz(120)
    @given(sns_events())
    def case(event: Any) -> None:
        TRIED["hypothesis inbound (SNS)"] += 1
        answer = handler(copy.deepcopy(event), context)
        assert isinstance(answer, dict), answer
        assert set(answer) == {"handled", "skipped"}, answer
        assert_no_trace(json.dumps(answer))
        SEEN["inbound (SNS): " + ("handled" if answer["handled"] else "skipped")] += 1

    case()
    reached("inbound (SNS)", "handled")
