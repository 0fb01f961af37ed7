"""Hostile events for the tally (insights): the table's stream, as for the publisher (see
tests/hostile/support.py for what every answer must be)."""

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
    assert_no_trace,
    fuzz,
    json_text,
    json_values,
    mangle,
    reached,
    sometimes,
)

pytestmark = pytest.mark.usefixtures("aws")

STREAM_RECORD = load_event("publisher-stream.json")["Records"][0]
TYPES = [
    "optin_requested",
    "optin_repeated",
    "optin_confirmed",
    "optout",
    "consent_lapsed",
    "erased",
    "note",
    "",
]


@st.composite
def evidence_data(draw: st.DrawFn) -> str:
    fields = {
        "via": json_text,
        "keyword": json_text,
        "campaign": st.one_of(json_text, st.just("c" * 300_000), st.just("w\ud800")),
        "country": st.one_of(json_text, st.sampled_from(["DE", "", "\udfff"])),
        "reason_code": json_text,
        "reason_given": json_values,
        "issued_at": st.one_of(json_text, st.sampled_from(["2026-11-22T09:00:00Z", "2999-01-01T00:00:00Z"])),
    }
    doc: dict[str, Any] = {}
    for name in draw(st.lists(st.sampled_from(sorted(fields)), unique=True, max_size=4)):
        doc[name] = draw(fields[name])
    if draw(sometimes(7)):
        return json.dumps(doc)
    return draw(
        st.one_of(
            json_values.map(json.dumps),
            json_text,
            st.sampled_from(["", "{", "null", "[]", "{}", "NaN"]),
        )
    )


@st.composite
def stream_record(draw: st.DrawFn, number: int) -> Any:
    if draw(sometimes(1, 20)):
        return draw(json_values)
    record = copy.deepcopy(STREAM_RECORD)
    change = record["dynamodb"]
    change["SequenceNumber"] = f"2222{number:020d}"
    image = change["NewImage"]
    image["hash"]["S"] = draw(st.binary(min_size=32, max_size=32)).hex()
    image["type"]["S"] = draw(st.sampled_from(TYPES))
    image["data"]["S"] = draw(evidence_data())
    image["at"]["S"] = draw(
        st.sampled_from(
            ["2026-11-22T10:00:00Z"] * 4 + ["2026-11-23T00:00:00Z", "9999-12-31T23:59:59Z", "x", ""]
        )
    )
    pk = draw(st.sampled_from([image["pk"]["S"]] * 8 + ["SUBJ#", "SUBJ#demo", "SUBJ#Demo#x", "TENANT#demo"]))
    image["pk"]["S"] = change["Keys"]["pk"]["S"] = pk
    if draw(sometimes(2)):
        record["eventName"] = draw(st.sampled_from(["MODIFY", "REMOVE", "insert"]))
    if draw(sometimes(2)):
        mangle(draw, record, delete=draw(st.booleans()))
    return record


@st.composite
def stream_events(draw: st.DrawFn) -> Any:
    if draw(sometimes(1)):
        return draw(st.one_of(json_values, st.fixed_dictionaries({"Records": json_values})))
    records = [draw(stream_record(n)) for n in range(draw(st.integers(min_value=1, max_value=4)))]
    if records and draw(sometimes(3)):
        records.append(copy.deepcopy(records[0]))  # delivered twice in one batch
    return {"Records": records}


def _sequence_numbers(event: Any) -> list[Any]:
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list):
        return []
    return [((r.get("dynamodb") or {}) if isinstance(r, dict) else {}).get("SequenceNumber") for r in records]


def test_tally(context, clock, key_limits, monkeypatch):
    """Any stream batch: a record that cannot be read is skipped (logged), never handed
    back; during an outage a record that can be read is handed back, so nothing is lost."""
    from functions.tally.app import handler
    from smsconsent.store import StoreUnavailable
    from smsconsent.store import insights as insights_store

    outage = {"on": False, "counted": 0}
    real_add = insights_store.add

    def add(tenant: str, day: str, counted: Any, now: Any) -> Any:
        if outage["on"]:
            raise StoreUnavailable("injected")
        new = real_add(tenant, day, counted, now)
        outage["counted"] += len(new)
        return new

    monkeypatch.setattr(insights_store, "add", add)

    @fuzz(100)
    @given(stream_events(), sometimes(3))
    def case(event: Any, broken: bool) -> None:
        TRIED["hypothesis tally"] += 1
        outage["on"], outage["counted"] = broken, 0
        answer = handler(copy.deepcopy(event), context)
        assert isinstance(answer, dict) and set(answer) == {"batchItemFailures"}, answer
        failures = answer["batchItemFailures"]
        assert_no_trace(json.dumps(answer))
        if not broken:
            assert failures == [], f"a record handed back with nothing failing: {answer}"
        else:
            assert len(failures) <= 1, answer
            for failure in failures:
                assert failure["itemIdentifier"] in _sequence_numbers(event), answer
        if failures:
            SEEN["tally: handed back"] += 1
        elif outage["counted"]:
            SEEN["tally: counted"] += 1
        else:
            SEEN["tally: nothing to count"] += 1

    case()
    reached("tally", "counted", "handed back", "nothing to count")
