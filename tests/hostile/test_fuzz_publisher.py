"""Hostile events for the publisher: the table's stream (see tests/hostile/support.py for
what every answer must be)."""

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

# ---- consent events out: the table's stream ------------------------------------------------

STREAM_RECORD = load_event("publisher-stream.json")["Records"][0]
EVIDENCE_TYPES = [
    "optin_requested",
    "optin_confirmed",
    "optout",
    "optin_restored",
    "consent_lapsed",
    "optin_expired",
    "erased",
    "number_unreachable",
    "note",  # evidence no event is made of
    "optin_unknown",
    "",
]
SUBJECT = STREAM_RECORD["dynamodb"]["NewImage"]["pk"]["S"].rsplit("#", 1)[-1]


@st.composite
def evidence_data(draw: st.DrawFn) -> Any:
    fields = {
        "channel": st.sampled_from(["sms", "whatsapp", ""]),
        "consents": st.one_of(
            st.lists(st.sampled_from(["sms:marketing", "whatsapp:orders", "sms", ":", "a:b:c"]), max_size=3),
            json_values,
        ),
        "purposes": st.one_of(st.lists(st.sampled_from(["marketing", "orders"]), max_size=2), json_values),
        "via": json_text,
        "keyword": json_text,
        "campaign": st.one_of(json_text, st.just("c" * 300_000)),
        "reason_code": json_text,
        "provider": json_text,
    }
    doc = json.loads(STREAM_RECORD["dynamodb"]["NewImage"]["data"]["S"])
    for name in draw(st.lists(st.sampled_from(sorted(fields)), unique=True, max_size=3)):
        doc[name] = draw(fields[name])
    return draw(
        st.one_of(
            st.just(json.dumps(doc)),
            st.just(json.dumps(doc, ensure_ascii=False)),
            json_values.map(json.dumps),
            json_text,
            st.sampled_from(["", "{", "null", "[]", '"x"', "{}", "1e400", "NaN"]),
        )
    )


@st.composite
def stream_record(draw: st.DrawFn, number: int) -> Any:
    if draw(sometimes(1, 20)):
        return draw(json_values)
    record = copy.deepcopy(STREAM_RECORD)
    change = record["dynamodb"]
    change["SequenceNumber"] = f"1111{number:020d}"
    image = change["NewImage"]
    image["hash"]["S"] = draw(st.binary(min_size=32, max_size=32)).hex()
    image["seq"]["N"] = str(draw(st.integers(min_value=1, max_value=10**6)))
    image["type"]["S"] = draw(st.sampled_from(EVIDENCE_TYPES))
    if draw(sometimes(3)):  # as the table writes it
        return record
    record["eventName"] = draw(st.sampled_from(["INSERT"] * 6 + ["MODIFY", "REMOVE", "insert"]))
    image["data"]["S"] = draw(evidence_data())
    pk = draw(
        st.sampled_from(
            [
                f"SUBJ#demo#{SUBJECT}",
                f"SUBJ#demo#{SUBJECT}",
                f"SUBJ#nosuchtenant#{SUBJECT}",
                "SUBJ#demo#other",
                "SUBJ#",
                "SUBJ#demo",
                "SUBJ#" + "x" * 3000,
                f"SUBJ#{'ü' * 30}#{SUBJECT}",
                "TENANT#demo",
                "WEBHOOK#demo",
            ]
        )
    )
    image["pk"]["S"] = change["Keys"]["pk"]["S"] = pk
    sk = draw(st.sampled_from(["EV#00000003", "EV#00000003", "OUT#00000003", "SUBJECT", "EV#", "ev#1"]))
    image["sk"]["S"] = change["Keys"]["sk"]["S"] = sk
    if draw(sometimes(3)):  # values of any type: "at", "seq" or "hash" as a number, a map ...
        mangle(draw, record)
    if draw(sometimes(2)):
        mangle(draw, record, delete=True)
    return record


@st.composite
def stream_events(draw: st.DrawFn) -> Any:
    if draw(sometimes(1)):
        return draw(
            st.one_of(
                json_values,
                st.dictionaries(json_text, json_values, max_size=3),
                st.fixed_dictionaries({"Records": json_values}),
            )
        )
    count = draw(st.integers(min_value=1, max_value=4))
    return {"Records": [draw(stream_record(n)) for n in range(count)]}


def _sequence_numbers(event: Any) -> list[Any]:
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list):
        return []
    return [((r.get("dynamodb") or {}) if isinstance(r, dict) else {}).get("SequenceNumber") for r in records]


def test_publisher(context, clock, webhooks, make_receiver, network, key_limits, monkeypatch):
    """Any stream batch: a record that cannot be read is skipped (with an error logged), never
    handed back, since the stream would hand it over again and again for a day, holding up
    every record behind it; during an outage (the table failing) a record that can be read
    is handed back, so nothing is lost."""
    from functions.publisher.app import handler
    from smsconsent import metrics, store

    webhooks.subscribe(make_receiver().url)  # events for webhooks are queued too
    outage = {"on": False, "published": 0}
    real_phones_of, real_count = store.phones_of, metrics.count

    def phones_of(pks: list[str]) -> Any:
        if outage["on"]:
            raise store.StoreUnavailable("injected")
        return real_phones_of(pks)

    def count(name: str, value: float = 1, *args: Any, **kwargs: Any) -> Any:
        if name == "EventsPublished":
            outage["published"] += int(value)
        return real_count(name, value, *args, **kwargs)

    monkeypatch.setattr(store, "phones_of", phones_of)
    monkeypatch.setattr(metrics, "count", count)

    @fuzz(100)
    @given(stream_events(), sometimes(3))
    def case(event: Any, broken: bool) -> None:
        TRIED["hypothesis publisher"] += 1
        outage["on"], outage["published"] = broken, 0
        answer = handler(copy.deepcopy(event), context)
        network.assert_untouched()
        assert isinstance(answer, dict) and set(answer) == {"batchItemFailures"}, answer
        failures = answer["batchItemFailures"]
        assert isinstance(failures, list), answer
        assert_no_trace(json.dumps(answer))
        if not broken:
            assert failures == [], f"a record handed back with nothing failing: {answer}"
        else:
            assert len(failures) <= 1, answer
            for failure in failures:
                assert failure["itemIdentifier"] in _sequence_numbers(event), answer
        if failures:
            SEEN["publisher: handed back"] += 1
        elif outage["published"]:
            SEEN["publisher: published"] += 1
        else:
            SEEN["publisher: nothing to publish"] += 1

    case()
    reached("publisher", "published", "handed back", "nothing to publish")
