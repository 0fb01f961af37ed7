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
from smsconsent.store import Evidence, Subject

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


def verify(events: list[Evidence], head: str) -> tuple[bool, str]:
    """Check the chain from the first stored event to ``head``: (ok, what is wrong)."""
    prev = None
    for event in sorted(events, key=lambda e: e.seq):
        if prev is not None and event.prev != prev:
            return False, f"event {event.seq} does not follow event {event.seq - 1}"
        recomputed = event_hash(event.seq, event.type, event.at, event.data, event.pii_digest, event.prev)
        if recomputed != event.hash:
            return False, f"event {event.seq} was altered"
        prev = event.hash
    if events and prev != head:
        return False, "the newest event is missing"
    return True, "ok"
