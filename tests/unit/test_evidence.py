"""Evidence events form a hash chain per subject: removal or alteration is detected,
erasing personal data is not."""

from __future__ import annotations

import copy
import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from smsconsent import evidence, store
from smsconsent.store import Evidence

T0 = datetime(2025, 3, 3, 10, 0, 0, tzinfo=UTC)
PII = {"ip": "203.0.113.7", "user_agent": "Mozilla/5.0 (X11; Linux x86_64)"}


def _chain(count: int = 5) -> tuple[store.Subject, list[Evidence]]:
    subject = store.new_subject("demo", "v1." + "b" * 64, T0)
    kinds = ["optin_requested", "optin_repeated", "optin_confirmed", "contact", "optout", "optin_requested"]
    events = [
        evidence.append(
            subject,
            kinds[i % len(kinds)],
            T0 + timedelta(minutes=i),
            {"purposes": ["marketing"], "channel": "sms", "step": i},
            pii=dict(PII) if i % 2 == 0 else None,
        )
        for i in range(count)
    ]
    return subject, events


def test_append_links_each_event_to_the_one_before(pepper: Any) -> None:
    # Given a new subject
    # When five events are appended
    subject, events = _chain(5)
    # Then they are numbered 1..5, the first follows the genesis hash, each the one before
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    assert events[0].prev == evidence.GENESIS
    for before, after in itertools.pairwise(events):
        assert after.prev == before.hash
    # And the subject's head and counter moved with them
    assert subject.ev_seq == 5
    assert subject.ev_head == events[-1].hash
    assert events[1].at == "2025-03-03T10:01:00Z"


def test_a_chain_of_several_events_verifies(pepper: Any) -> None:
    # Given a chain of events
    subject, events = _chain(6)
    # When it is verified, in any stored order
    # Then it is intact
    assert evidence.verify(events, subject.ev_head, subject.ev_seq) == (True, "ok")
    assert evidence.verify(list(reversed(events)), subject.ev_head, subject.ev_seq) == (True, "ok")


def test_no_events_and_no_head_verifies(pepper: Any) -> None:
    # Given a subject without events
    # Then the (empty) chain verifies
    assert evidence.verify([], "", 0) == (True, "ok")


def test_personal_data_is_kept_apart_and_empty_values_dropped(pepper: Any) -> None:
    # Given an event with IP, user agent and an empty value
    subject = store.new_subject("demo", "v1.c", T0)
    event = evidence.append(subject, "optin_requested", T0, {"x": 1}, pii={**PII, "phone": ""})
    # Then only the non-empty values are kept, with a keyed digest; data holds none of them
    assert event.pii == PII
    assert event.pii_digest is not None
    version, _, digest = event.pii_digest.partition(".")
    assert version == "v1" and len(digest) == 64
    assert "203.0.113.7" not in str(event.data)
    # And an event without personal data has no digest
    bare = evidence.append(subject, "contact", T0, {"x": 2}, pii={"ip": "", "user_agent": None})
    assert bare.pii is None and bare.pii_digest is None


@pytest.mark.parametrize(
    "alter",
    [
        pytest.param(lambda e: e.data.update(step=99), id="data value"),
        pytest.param(lambda e: e.data.update(reason="added"), id="data key added"),
        pytest.param(lambda e: e.data.pop("purposes"), id="data key removed"),
        pytest.param(lambda e: setattr(e, "at", "2025-03-03T09:00:00Z"), id="at"),
        pytest.param(lambda e: setattr(e, "type", "optout"), id="type"),
        pytest.param(lambda e: setattr(e, "pii_digest", "0" * 64), id="pii digest"),
    ],
)
def test_altering_an_event_is_detected(pepper: Any, alter: Any) -> None:
    # Given an intact chain
    subject, events = _chain(5)
    # When the middle event is altered
    altered = copy.deepcopy(events)
    alter(altered[2])
    # Then verification fails, naming that event
    ok, problem = evidence.verify(altered, subject.ev_head, subject.ev_seq)
    assert not ok
    assert "3" in problem


def test_altering_an_event_and_recomputing_its_hash_is_detected(pepper: Any) -> None:
    # Given an intact chain
    subject, events = _chain(5)
    # When an event is altered and its own hash recomputed to match
    forged = copy.deepcopy(events)
    e = forged[2]
    e.data["step"] = 99
    e.hash = evidence.event_hash(e.seq, e.type, e.at, e.data, e.pii_digest, e.prev)
    # Then the next event no longer follows it
    ok, problem = evidence.verify(forged, subject.ev_head, subject.ev_seq)
    assert not ok
    assert "event 4 does not follow event 3" in problem


def test_altering_the_newest_event_and_its_hash_is_detected_by_the_head(pepper: Any) -> None:
    # Given an intact chain
    subject, events = _chain(4)
    # When the newest event is rewritten with a consistent hash
    forged = copy.deepcopy(events)
    e = forged[-1]
    e.data["step"] = 99
    e.hash = evidence.event_hash(e.seq, e.type, e.at, e.data, e.pii_digest, e.prev)
    # Then it no longer matches the head kept on the subject
    assert evidence.verify(forged, subject.ev_head, subject.ev_seq) == (False, "the newest event is missing")


def test_deleting_a_middle_event_is_detected(pepper: Any) -> None:
    # Given an intact chain
    subject, events = _chain(5)
    # When the third event is removed
    remaining = events[:2] + events[3:]
    # Then the gap is found, naming the missing event
    ok, problem = evidence.verify(remaining, subject.ev_head, subject.ev_seq)
    assert not ok
    assert problem == "events missing: [3]"


def test_deleting_the_newest_event_is_detected(pepper: Any) -> None:
    # Given an intact chain
    subject, events = _chain(5)
    # When the newest event is removed
    # Then the chain no longer reaches the subject's count (and head): the newest is missing
    assert evidence.verify(events[:-1], subject.ev_head, subject.ev_seq) == (
        False,
        "events missing: [5]",
    )


def test_erasing_personal_data_keeps_the_chain_valid(pepper: Any) -> None:
    # Given a chain whose events carry IP and user agent
    subject, events = _chain(5)
    digests = [e.pii_digest for e in events]
    assert events[0].pii == PII
    # When the personal data is erased (Art. 17)
    for e in events:
        e.pii = None
    # Then the digests are unchanged and the chain still verifies
    assert [e.pii_digest for e in events] == digests
    assert evidence.verify(events, subject.ev_head, subject.ev_seq) == (True, "ok")


def test_pii_digest_is_keyed(pepper: Any) -> None:
    # Given the same event appended under two different peppers
    subject_a = store.new_subject("demo", "v1.d", T0)
    first = evidence.append(subject_a, "optin_requested", T0, {"x": 1}, pii=dict(PII))
    pepper.use({"current": "v1", "v1": "a-completely-different-pepper"})
    subject_b = store.new_subject("demo", "v1.d", T0)
    second = evidence.append(subject_b, "optin_requested", T0, {"x": 1}, pii=dict(PII))
    # Then the digests differ: nobody without the pepper can confirm a guessed IP
    assert first.pii_digest != second.pii_digest
    # And so do the event hashes (the digest is part of what is chained)
    assert first.hash != second.hash


def test_event_hash_is_canonical_over_key_order(pepper: Any) -> None:
    # Given the same data with keys in another order
    # Then the hash is the same (stored JSON may come back in any order)
    a = evidence.event_hash(1, "t", "2025-01-01T00:00:00Z", {"a": 1, "b": 2}, None, evidence.GENESIS)
    b = evidence.event_hash(1, "t", "2025-01-01T00:00:00Z", {"b": 2, "a": 1}, None, evidence.GENESIS)
    assert a == b


def test_deleting_the_only_event_is_detected(pepper: Any) -> None:
    # Given a subject with a single event
    subject, _ = _chain(1)
    # When that event is removed
    # Then the subject's head names an event that is missing
    ok, _ = evidence.verify([], subject.ev_head, subject.ev_seq)
    assert not ok


def test_deleting_the_oldest_event_is_detected(pepper: Any) -> None:
    # Given an intact chain
    subject, events = _chain(5)
    # When the first event is removed
    # Then verification fails
    ok, _ = evidence.verify(events[1:], subject.ev_head, subject.ev_seq)
    assert not ok


def test_altering_personal_data_that_is_still_held_is_detected(pepper: Any) -> None:
    # Given an intact chain with IP addresses
    subject, events = _chain(3)
    # When the IP of the first event is changed (the digest left as it was)
    forged = copy.deepcopy(events)
    assert forged[0].pii is not None
    forged[0].pii["ip"] = "198.51.100.99"
    # Then verification fails
    ok, _ = evidence.verify(forged, subject.ev_head, subject.ev_seq)
    assert not ok
