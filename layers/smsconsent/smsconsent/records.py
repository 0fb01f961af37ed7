"""The domain's records: a subject (one number at one tenant), its consent records, its
open double opt-ins and its evidence events, as plain data.

No storage and no AWS here, so the pure rules (``consent``, ``evidence``) import only this;
``store`` maps these records onto DynamoDB items (and re-exports them).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Required, TypedDict

from smsconsent.clock import iso


class ConsentRecord(TypedDict, total=False):
    """One ``<channel>:<purpose>`` of a subject (``Subject.consents``), stored as JSON.

    Every record has ``state`` and ``since``; the rest depends on the state:

    - ``pending``: ``token`` (its SHA-256), ``issued_at``, the ``text`` shown, ``source``
      and ``language`` of the signup, and ``prior``: the record it replaced (without a
      ``prior`` of its own; None or absent when there was none), which an expired opt-in
      falls back to.
    - ``active``: ``confirmed_at`` and ``confirmed_token`` (a repeated click is
      ``already_confirmed``), and what the pending record carried except its token,
      ``issued_at`` and ``prior``.
    - ``opted_out``: ``before_stop``, the state a STOP ended (START brings back ``active``);
      ``undo_seq`` when the opt-out page withdrew it: the evidence event an undo names.
    - ``lapsed``: what the active record carried.

    A bare suppression marker (erasure, purged evidence) is ``state`` and ``since`` alone.
    """

    state: Required[str]  # pending | active | opted_out | lapsed
    since: Required[str]  # ISO time of the last change of state
    token: str
    issued_at: str
    text: dict[str, str]  # the consent text shown: id, version, sha256, language
    source: str | None
    language: str
    prior: ConsentRecord | None
    confirmed_at: str
    confirmed_token: str
    before_stop: str
    undo_seq: int
    imported: str  # "<import id>#<row>": the import row that made this record


class PendingOptIn(TypedDict, total=False):
    """The open double opt-in of one channel (``Subject.pending[channel]``): the token its
    SMS carries and the purposes that SMS names."""

    token: Required[str]  # SHA-256 of the confirmation token
    purposes: Required[list[str]]
    issued_at: Required[str]
    sms_at: Required[str | None]  # when its confirmation SMS went out (the resend cooldown)
    number_from_request: bool  # the number was stored only for this request


@dataclass
class Subject:
    """One number at one tenant, as the domain sees it (``version`` None: not stored yet)."""

    pk: str
    tenant: str
    phone: str | None
    region: str | None
    language: str | None
    consents: dict[str, ConsentRecord]  # "<channel>:<purpose>" -> record
    pending: dict[str, PendingOptIn] | None  # channel -> its open double opt-in
    optout_code: str | None
    last_contact_at: str | None
    sends: list[str]
    last_campaign: str | None
    ev_seq: int
    ev_head: str
    created_at: str
    version: int | None = None
    purged_at: str | None = None
    # A provider said the number does not exist or takes no SMS (``since``, ``provider``,
    # ``code``): no marketing until it signs up again or texts in.
    unreachable: dict[str, str] | None = None
    # What the sync with the tenant's AWS opt-out list knows (``optout_list``): our last
    # put and delete, and a hold that keeps marketing back while the list disagrees.
    provider_list: dict[str, Any] | None = None


@dataclass
class Evidence:
    seq: int
    type: str
    at: str
    data: dict[str, Any]
    pii: dict[str, Any] | None
    pii_digest: str | None
    prev: str
    hash: str


def subject_pk(tenant: str, key_hash: str) -> str:
    return f"SUBJ#{tenant}#{key_hash}"


def new_subject(tenant: str, key_hash: str, now: datetime) -> Subject:
    return Subject(
        pk=subject_pk(tenant, key_hash),
        tenant=tenant,
        phone=None,
        region=None,
        language=None,
        consents={},
        pending=None,
        optout_code=None,
        last_contact_at=None,
        sends=[],
        last_campaign=None,
        ev_seq=0,
        ev_head="",
        created_at=iso(now),
    )
