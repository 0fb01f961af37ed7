"""Hostile events for the pre-send check, over HTTP and invoked directly (see
tests/hostile/support.py for what every answer must be)."""

from __future__ import annotations

import copy
import dataclasses
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fixtures.events import load_event
from tests.hostile.support import (
    INTERESTING,
    PHONES,
    SEEN,
    TRIED,
    Watch,
    assert_no_trace,
    dump_table,
    fuzz,
    http_events,
    json_text,
    json_values,
    reached,
    seeded,
    sometimes,
)

pytestmark = pytest.mark.usefixtures("aws")

# ---- pre-send check -------------------------------------------------------------------------

CHECK_FIELDS = ["recipients", "category", "purpose", "channel", "campaign", "send_at", "record", "tenant"]


def recipients() -> st.SearchStrategy[Any]:
    number = st.one_of(st.sampled_from([*PHONES[:2], "0151 23456789", "+33612345678", "12345"]), json_text)
    return st.one_of(
        st.lists(number, min_size=1, max_size=20),
        st.sampled_from([0, 1, 10_000, 10_001]).map(lambda n: ["+4915112345678"] * n),
        json_values,
    )


@st.composite
def check_documents(draw: st.DrawFn) -> dict[str, Any]:
    base = load_event("presend-direct.json")
    doc = {k: v for k, v in base.items() if not draw(sometimes(2))}
    fields = {
        "recipients": recipients(),
        "category": st.one_of(st.sampled_from(["marketing", "transactional", "MARKETING"]), json_values),
        "purpose": st.one_of(st.sampled_from(["marketing", "newsletter", "orders", "nope"]), json_values),
        "channel": st.one_of(st.sampled_from(["sms", "whatsapp", "fax"]), json_values),
        "campaign": json_values,
        "send_at": st.one_of(st.sampled_from(INTERESTING), json_values),
        "record": st.one_of(st.booleans(), json_values),
    }
    for name in draw(st.lists(st.sampled_from(sorted(fields)), unique=True, max_size=3)):
        doc[name] = draw(fields[name])
    doc.update(draw(st.dictionaries(json_text, json_values, max_size=2)))
    return doc


def test_presend_http(context, clock, outbox):
    from functions.presend.app import handler

    seeded(context, outbox)
    base = load_event("presend-http.json")

    @st.composite
    def events(draw: st.DrawFn) -> dict[str, Any]:
        event = draw(
            http_events(
                [base],
                CHECK_FIELDS,
                path_values={"tenant": st.sampled_from(["demo", "demo", "nosuchtenant"])},
            )
        )
        if draw(st.booleans()):
            doc = draw(check_documents())
            doc.pop("tenant", None)
            event["body"], event["isBase64Encoded"] = json.dumps(doc), False
        return event

    watch = Watch()

    @fuzz(80)
    @given(events())
    def case(event: dict[str, Any]) -> None:
        watch.run("presend (HTTP)", handler, event, context, outbox)

    case()
    reached("presend (HTTP)", "200", "422 invalid_field", "400 malformed_body")


def test_presend_direct_invocation(context, clock, outbox):
    from functions.presend.app import handler

    seeded(context, outbox)
    state = {"items": dump_table()}
    # Through the demo tenant's alias, as its sending system invokes it (an unqualified
    # invocation is refused before any field is read).
    context = dataclasses.replace(context, invoked_function_arn=context.invoked_function_arn + ":tenant-demo")

    @fuzz(80)
    @given(
        st.one_of(
            check_documents(),
            check_documents().map(lambda d: {**d, "tenant": "demo"}),
            json_values,
            st.dictionaries(json_text, json_values, max_size=5),
        )
    )
    def case(event: Any) -> None:
        TRIED["hypothesis presend (direct)"] += 1
        before = state["items"]
        answer = handler(copy.deepcopy(event), context)
        state["items"] = after = dump_table()
        assert isinstance(answer, dict), answer
        assert_no_trace(json.dumps(answer))
        if "error" in answer:
            error = answer["error"]
            assert isinstance(error.get("code"), str) and isinstance(error.get("message"), str), answer
            assert 400 <= error["status"] < 500, answer
            assert after == before, f"refused but the table changed: {answer}"
            SEEN[f"presend (direct): {error['status']} {error['code']}"] += 1
        else:
            SEEN["presend (direct): answer"] += 1
            assert set(answer) == {"results", "summary"}, answer

    case()
    reached("presend (direct)", "answer", "422 invalid_field")
