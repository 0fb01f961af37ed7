"""Evidence events and their hash chain.

Each event of a subject carries the hash of the one before it, so removing or
altering any event breaks the chain. Personal values (IP, user agent, number) are kept
apart in ``pii`` and enter the hash only through a keyed digest: erasing them on request
leaves the chain verifiable.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from smsconsent import keys
from smsconsent.clock import iso
from smsconsent.records import Evidence, Subject

GENESIS = "0" * 64


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def event_hash(seq: int, type_: str, at: str, data: dict[str, Any], pii_digest: str | None, prev: str) -> str:
    body = {"seq": seq, "type": type_, "at": at, "data": data, "pii_digest": pii_digest, "prev": prev}
    return hashlib.sha256(_canonical(body)).hexdigest()


def append(
    subject: Subject,
    type_: str,
    now: datetime,
    data: dict[str, Any],
    pii: dict[str, Any] | None = None,
) -> Evidence:
    """A new event at the head of the subject's chain (the subject's head moves with it)."""
    if subject.purged_at:
        # The old chain was purged whole after its retention period: a new one begins.
        subject.ev_seq, subject.ev_head, subject.purged_at = 0, "", None
    seq = subject.ev_seq + 1
    prev = subject.ev_head or GENESIS
    pii = {k: v for k, v in (pii or {}).items() if v} or None
    digest = keys.keyed_digest(_canonical(pii)) if pii else None
    at = iso(now)
    event = Evidence(
        seq=seq,
        type=type_,
        at=at,
        data=data,
        pii=pii,
        pii_digest=digest,
        prev=prev,
        hash=event_hash(seq, type_, at, data, digest, prev),
    )
    subject.ev_seq = seq
    subject.ev_head = event.hash
    return event


def verify(events: list[Evidence], head: str, count: int) -> tuple[bool, str]:
    """Check a subject's whole chain: events 1..``count``, each linked to the one before,
    the first to the genesis, the newest equal to the subject's ``head``; and personal data
    still held matches its digest. Returns (ok, what is wrong)."""
    ordered = sorted(events, key=lambda e: e.seq)
    if [e.seq for e in ordered] != list(range(1, count + 1)):
        missing = sorted(set(range(1, count + 1)) - {e.seq for e in ordered})
        return False, f"events missing: {missing[:10]}" if missing else "unexpected events"
    prev = GENESIS
    for event in ordered:
        if event.prev != prev:
            return False, f"event {event.seq} does not follow event {event.seq - 1}"
        recomputed = event_hash(event.seq, event.type, event.at, event.data, event.pii_digest, event.prev)
        if recomputed != event.hash:
            return False, f"event {event.seq} was altered"
        if event.pii is not None and not _pii_matches(event):
            return False, f"personal data of event {event.seq} was altered"
        prev = event.hash
    if prev != (head or GENESIS):
        return False, "the newest event is missing"
    return True, "ok"


def _pii_matches(event: Evidence) -> bool:
    version, _, _ = (event.pii_digest or "").partition(".")
    try:
        return event.pii_digest == keys.keyed_digest(_canonical(event.pii), version)
    except KeyError:
        return False  # digest made with a pepper version that no longer exists
