"""Subjects and their evidence: read, written in one conditional transaction per change
(``commit``), rewritten for retention and erasure (``rewrite``), and found when due."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from pynamodb.transactions import TransactWrite

from smsconsent import consent, phone
from smsconsent.clock import iso
from smsconsent.records import ConsentRecord, Evidence, Subject, subject_pk
from smsconsent.store import models
from smsconsent.store.errors import Conflict, guard
from smsconsent.store.lookups import delete_code, message_free, message_item
from smsconsent.store.models import CodeItem, EvidenceItem, SubjectItem, TokenItem, get_or_none


def _compact(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _to_subject(item: SubjectItem) -> Subject:
    return Subject(
        pk=item.pk,
        tenant=item.tenant,
        phone=item.phone,
        region=item.region,
        language=item.language,
        consents=json.loads(item.consents or "{}"),
        pending=json.loads(item.pending) if item.pending else None,
        optout_code=item.optout_code,
        last_contact_at=item.last_contact_at,
        sends=json.loads(item.sends) if item.sends else [],
        last_campaign=item.last_campaign,
        ev_seq=int(item.ev_seq or 0),
        ev_head=item.ev_head or "",
        created_at=item.created_at,
        version=item.version,
        purged_at=item.purged_at,
        unreachable=json.loads(item.unreachable) if item.unreachable else None,
        provider_list=json.loads(item.provider_list) if item.provider_list else None,
    )


SHARDS = "0123456789abcdef"


def shard_of(tenant: str, pk: str) -> str:
    """The subject's partition in the ``sms-optout-index`` and the ``tenant-index``:
    ``<tenant>#<the first hex digit of its keyed hash>``. The hash is an HMAC, so a tenant's
    subjects (and the writes to them) spread evenly over sixteen partitions."""
    return f"{tenant}#{pk.rsplit('.', 1)[-1][:1]}"


def sms_optout_of(tenant: str, pk: str, consents: dict[str, ConsentRecord], held: bool) -> str | None:
    """The subject's ``sms-optout-index`` partition: set while it is opted out of anything on
    SMS or held back by the provider's opt-out list (``held``; sparse), else None."""
    out = any(k.startswith("sms:") and consent.opted_out(r) for k, r in consents.items())
    return shard_of(tenant, pk) if out or held else None


def _sms_optout(subject: Subject) -> str | None:
    held = bool((subject.provider_list or {}).get("held"))
    return sms_optout_of(subject.tenant, subject.pk, subject.consents, held)


def _to_item(subject: Subject, now: datetime, due: datetime | None) -> SubjectItem:
    item = SubjectItem(
        subject.pk,
        "SUBJECT",
        tenant=subject.tenant,
        phone=subject.phone,
        zones=phone.stored_zones(subject.phone) if subject.phone else None,
        region=subject.region,
        language=subject.language,
        consents=_compact(subject.consents),
        pending=_compact(subject.pending) if subject.pending else None,
        optout_code=subject.optout_code,
        last_contact_at=subject.last_contact_at,
        sends=json.dumps(subject.sends) if subject.sends else None,
        last_campaign=subject.last_campaign,
        ev_seq=subject.ev_seq,
        ev_head=subject.ev_head,
        purged_at=subject.purged_at,
        unreachable=_compact(subject.unreachable) if subject.unreachable else None,
        provider_list=_compact(subject.provider_list) if subject.provider_list else None,
        sms_optout=_sms_optout(subject),
        tenant_shard=shard_of(subject.tenant, subject.pk),
        created_at=subject.created_at,
        updated_at=iso(now),
        due_bucket=f"due#{due.date().isoformat()}" if due else None,
        due_at=iso(due) if due else None,
    )
    if subject.version is not None:
        item.version = subject.version
    return item


def load_subject(tenant: str, key_hashes: list[str]) -> Subject | None:
    """The subject under the first key version that has one (strongly consistent)."""
    for key_hash in key_hashes:
        item = get_or_none(SubjectItem, subject_pk(tenant, key_hash), "SUBJECT")
        if item is not None:
            return _to_subject(item)
    return None


def phones_of(pks: list[str]) -> dict[str, str | None]:
    """The stored number of each subject (None: none held, or no such subject any more), in
    BatchGetItem requests of 100, strongly consistent."""
    found: dict[str, str | None] = dict.fromkeys(pks)
    unique = list(dict.fromkeys(pks))
    with guard():
        for item in SubjectItem.batch_get(
            [(pk, "SUBJECT") for pk in unique], consistent_read=True, attributes_to_get=["pk", "phone"]
        ):
            found[item.pk] = item.phone
    return found


def subjects_by_pk(pks: list[str]) -> dict[str, Subject]:
    """The subjects under these keys that exist, in BatchGetItem requests of 100 (strongly
    consistent)."""
    unique = list(dict.fromkeys(pks))
    with guard():
        return {
            item.pk: _to_subject(item)
            for item in SubjectItem.batch_get([(pk, "SUBJECT") for pk in unique], consistent_read=True)
        }


@dataclass(frozen=True)
class ListedOptOut:
    """A subject opted out on SMS (or held back by the provider's list), as the
    ``sms-optout-index`` projects it."""

    pk: str
    phone: str | None
    held: bool


def sms_optouts(tenant: str, page_size: int = 500) -> Iterator[ListedOptOut]:
    """Every subject of the tenant opted out on SMS or held by the provider's list: one
    Query per shard of the sparse ``sms-optout-index`` (eventually consistent; whoever
    acts on one reads it again)."""
    with guard():
        for shard in SHARDS:
            for item in SubjectItem.sms_optout_index.query(f"{tenant}#{shard}", page_size=page_size):
                held = bool(item.provider_list and json.loads(item.provider_list).get("held"))
                yield ListedOptOut(item.pk, item.phone, held)


def load_subject_by_pk(pk: str) -> Subject | None:
    item = get_or_none(SubjectItem, pk, "SUBJECT")
    return _to_subject(item) if item is not None else None


def _evidence_items(pk: str) -> list[EvidenceItem]:
    with guard():
        return list(EvidenceItem.query(pk, EvidenceItem.sk.startswith("EV#"), consistent_read=True))


def evidence_of(pk: str) -> list[Evidence]:
    return [
        Evidence(
            seq=int(i.seq),
            type=i.type,
            at=i.at,
            data=json.loads(i.data),
            pii=json.loads(i.pii) if i.pii else None,
            pii_digest=i.pii_digest,
            prev=i.prev,
            hash=i.hash,
        )
        for i in _evidence_items(pk)
    ]


# A deleted subject's last event waits this long for the stream's publisher, which reads it
# from the stream itself within the stream's 24 hours: nothing personal, but its key is the
# number's keyed hash, so not a day longer than that needs (DynamoDB's TTL deletes late).
_KEEP_FAREWELL = timedelta(days=1)


def _evidence_item(pk: str, ev: Evidence, farewell_at: datetime | None = None) -> EvidenceItem:
    return EvidenceItem(
        pk,
        f"OUT#{ev.hash[:32]}" if farewell_at else f"EV#{ev.seq:08d}",
        ttl=farewell_at + _KEEP_FAREWELL if farewell_at else None,
        seq=ev.seq,
        type=ev.type,
        at=ev.at,
        data=json.dumps(ev.data, sort_keys=True, separators=(",", ":"), ensure_ascii=False),
        pii=json.dumps(ev.pii, sort_keys=True, ensure_ascii=False) if ev.pii else None,
        pii_digest=ev.pii_digest,
        prev=ev.prev,
        hash=ev.hash,
    )


@dataclass
class Change:
    """One state change: the subject as it must now be, its new evidence, and side items."""

    subject: Subject
    events: list[Evidence]
    token: tuple[str, datetime, datetime] | None = None  # (sha256, issued, keep until)
    code: str | None = None  # a new opt-out code to register
    due: datetime | None = None
    # (provider message keys, answer, keep until): a replay under any key fails the write.
    message: tuple[tuple[str, ...], dict[str, Any], datetime | None] | None = None


def commit(change: Change, now: datetime) -> None:
    """Write the change in one transaction, conditional on the subject being unchanged
    since it was read (its version). A lost race raises ``Conflict``."""
    subject = change.subject
    item = _to_item(subject, now, change.due)
    with guard(transaction_conflict=True), TransactWrite(connection=models.connection()) as tx:
        tx.save(item)  # VersionAttribute adds "unchanged since read" (or "new")
        for ev in change.events:
            tx.save(_evidence_item(subject.pk, ev), condition=EvidenceItem.pk.does_not_exist())
        if change.token:
            sha, issued, keep_until = change.token
            tx.save(
                TokenItem(
                    f"TOKEN#{sha}",
                    "TOKEN",
                    subject_pk=subject.pk,
                    tenant=subject.tenant,
                    issued_at=iso(issued),
                    ttl=keep_until,
                ),
                condition=TokenItem.pk.does_not_exist(),
            )
        if change.message:
            message_keys, answer, keep_message = change.message
            for key in message_keys:
                tx.save(message_item(key, answer, keep_message), condition=message_free(now))
        if change.code:
            tx.save(
                CodeItem(f"OPTOUT#{change.code}", "CODE", subject_pk=subject.pk, tenant=subject.tenant),
                condition=CodeItem.pk.does_not_exist(),
            )
    subject.version = item.version


def mark_sms_sent(subject: Subject, channel: str, token_sha256: str, now: datetime) -> bool:
    """Record that the confirmation SMS of the open opt-in went out (starts the cooldown).

    Conditional on the subject being unchanged; returns False when it changed meanwhile
    (the SMS was still sent; the cooldown then starts from the next signup)."""
    opened = (subject.pending or {}).get(channel)
    if not opened or opened.get("token") != token_sha256:
        return False
    opened["sms_at"] = iso(now)
    item = SubjectItem(subject.pk, "SUBJECT")
    if subject.version is not None:
        item.version = subject.version
    try:
        with guard():
            item.update(actions=[SubjectItem.pending.set(_compact(subject.pending))])
    except Conflict:
        return False
    subject.version = item.version
    return True


# ---- retention and erasure --------------------------------------------------------------


def due_subjects(day: date, now: datetime, page_size: int = 100) -> Iterator[Subject]:
    """Subjects in the day's bucket whose due time has come (the sparse index: no Scan).

    Index reads are eventually consistent; every write that follows is conditional on
    the subject's version, so a stale copy loses and is read again."""
    with guard():
        for item in SubjectItem.due_index.query(
            f"due#{day.isoformat()}", SubjectItem.due_at <= iso(now), page_size=page_size
        ):
            yield _to_subject(item)


# Evidence items per transaction (DynamoDB takes 100 actions; the rest is for the subject,
# its new events and its codes).
_EVIDENCE_PER_TRANSACTION = 90


def rewrite(
    subject: Subject,
    now: datetime,
    *,
    delete_subject: bool = False,
    delete_evidence: bool = False,
    strip_seqs: set[int] | None = None,
    due: datetime | None = None,
    new_events: list[Evidence] | None = None,
    farewell: Evidence | None = None,
) -> None:
    """Retention and erasure in one place: delete the subject or save it as it now is,
    and delete its evidence or strip the personal part (``pii``) of some or all events
    (``strip_seqs`` None: all).

    ``farewell``: the event of a deletion (an erasure, an expiry), written beside the
    subject's deletion outside its chain (``OUT#``), so that its consent event is published
    if and only if the deletion committed.

    Evidence goes first, as many transactions as it takes; the subject's own write,
    conditional on its version, goes last with the final part. A failure midway leaves the
    subject as it was (still found, still due), so running the same call again (the
    caller's retry, the next retention run) finishes the work: every evidence step is
    idempotent, and none is left out of reach behind a deleted subject."""
    events = _evidence_items(subject.pk)
    if delete_evidence or delete_subject:
        todo = events
    else:
        todo = [e for e in events if e.pii is not None and (strip_seqs is None or int(e.seq) in strip_seqs)]
    if not todo and not new_events and not farewell:
        _write_subject_alone(subject, now, due, delete_subject)
        return
    chunks = [todo[i : i + _EVIDENCE_PER_TRANSACTION] for i in range(0, len(todo), _EVIDENCE_PER_TRANSACTION)]
    for index, chunk in enumerate(chunks or [[]]):
        last = index == max(len(chunks) - 1, 0)
        # Only the last transaction holds a condition (the subject's version): a failed
        # condition, a Conflict, can come from nothing else.
        with guard(), TransactWrite(connection=models.connection()) as tx:
            if last:
                _write_subject(tx, subject, now, due, delete_subject, new_events or [])
                if farewell is not None:
                    tx.save(_evidence_item(subject.pk, farewell, now))
            for event in chunk:
                if delete_evidence or delete_subject:
                    tx.delete(event)
                else:
                    tx.update(event, actions=[EvidenceItem.pii.remove()])
    if not delete_subject:
        subject.version = (subject.version or 0) + 1


def _write_subject_alone(subject: Subject, now: datetime, due: datetime | None, delete: bool) -> None:
    """The same as one transaction of the subject alone, at half the write cost."""
    with guard():
        if delete:
            item = SubjectItem(subject.pk, "SUBJECT")
            if subject.version is not None:
                item.version = subject.version
            item.delete()
            if subject.optout_code:
                delete_code(subject.optout_code)
        else:
            item = _to_item(subject, now, due)
            item.save()
            subject.version = item.version


def _write_subject(
    tx: TransactWrite,
    subject: Subject,
    now: datetime,
    due: datetime | None,
    delete: bool,
    new_events: list[Evidence],
) -> None:
    if delete:
        item = SubjectItem(subject.pk, "SUBJECT")
        if subject.version is not None:
            item.version = subject.version
        tx.delete(item)
        if subject.optout_code:
            tx.delete(CodeItem(f"OPTOUT#{subject.optout_code}", "CODE"))
        return
    tx.save(_to_item(subject, now, due))
    for ev in new_events:
        tx.save(_evidence_item(subject.pk, ev), condition=EvidenceItem.pk.does_not_exist())
