"""The only module that knows DynamoDB: pynamodb models on one table and the access
patterns the domain needs.

Keys (``pk`` / ``sk``):
  TENANT#<id>            / CONFIG     tenant settings document
  SUBJ#<tenant>#<hash>   / SUBJECT    one number at one tenant (keyed hash, never the number)
  SUBJ#<tenant>#<hash>   / EV#<seq>   its evidence events, a hash chain
  TOKEN#<sha256>         / TOKEN      a confirmation token (only its SHA-256)
  OPTOUT#<code>          / CODE       a per-recipient opt-out code
  RATE#<scope>#<window>  / COUNT      an atomic rate counter

The ``due-index`` (``due_bucket`` = ``due#YYYY-MM-DD``, ``due_at``) is sparse: only
subjects with something due (pending expiry, lapse, evidence purge) are in it.
``ttl`` is only a backstop for physical deletion; the retention job decides timing.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute, VersionAttribute
from pynamodb.connection import Connection, TableConnection
from pynamodb.exceptions import (
    DeleteError,
    GetError,
    PutError,
    PynamoDBConnectionError,
    QueryError,
    TransactWriteError,
    UpdateError,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from smsconsent import aws, settings
from smsconsent.clock import iso, parse_iso


class Conflict(Exception):
    """A conditional write lost a race: read again and re-decide."""


class StoreUnavailable(Exception):
    """DynamoDB kept failing (throttling, 5xx) after the client's retries."""


def _meta() -> Any:
    conf = settings.get()
    attrs = {
        "table_name": conf.table_name,
        "region": conf.region,
        "host": conf.dynamodb_endpoint,
        "max_retry_attempts": 3,
        "connect_timeout_seconds": 2,
        "read_timeout_seconds": 5,
        "max_pool_connections": 20,
    }
    return type("Meta", (), attrs)


class _Item(Model):
    Meta = _meta()
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)

    @classmethod
    def _get_connection(cls) -> TableConnection:
        """pynamodb's per-model table connection, on the process's one connection: left to
        itself, pynamodb makes a botocore session and client per model class (316 of a
        cold signup's 429 ms, ``bench.memory``)."""
        table = super()._get_connection()  # cached per class; makes no client itself
        shared = _connection()
        if table.connection is not shared:
            table.connection = shared
        return table


class TenantItem(_Item):
    Meta = _meta()
    doc = UnicodeAttribute()
    updated_at = UnicodeAttribute()


class DueIndex(GlobalSecondaryIndex["SubjectItem"]):
    """Subjects with something due, by day bucket: what the retention job reads."""

    class Meta:
        index_name = "due-index"
        projection = AllProjection()

    due_bucket = UnicodeAttribute(hash_key=True)
    due_at = UnicodeAttribute(range_key=True)


class SubjectItem(_Item):
    Meta = _meta()
    due_index = DueIndex()
    tenant = UnicodeAttribute()
    phone = UnicodeAttribute(null=True)  # raw E.164; removed on expiry and erasure
    region = UnicodeAttribute(null=True)
    language = UnicodeAttribute(null=True)
    consents = UnicodeAttribute(default="{}")  # JSON: "<channel>:<purpose>" -> record
    pending = UnicodeAttribute(null=True)  # JSON: the open double opt-in
    optout_code = UnicodeAttribute(null=True)
    last_contact_at = UnicodeAttribute(null=True)
    sends = UnicodeAttribute(null=True)  # JSON list of recent marketing send times
    last_campaign = UnicodeAttribute(null=True)
    ev_seq = NumberAttribute(default=0)
    ev_head = UnicodeAttribute(default="")
    purged_at = UnicodeAttribute(null=True)  # evidence purged: only a suppression marker is left
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    due_bucket = UnicodeAttribute(null=True)
    due_at = UnicodeAttribute(null=True)
    ttl = TTLAttribute(null=True)
    version = VersionAttribute()


class EvidenceItem(_Item):
    Meta = _meta()
    seq = NumberAttribute()
    type = UnicodeAttribute()
    at = UnicodeAttribute()
    data = UnicodeAttribute()  # JSON, nothing personal
    pii = UnicodeAttribute(null=True)  # JSON of IP, user agent, number; erased on request
    pii_digest = UnicodeAttribute(null=True)
    prev = UnicodeAttribute()
    hash = UnicodeAttribute()
    ttl = TTLAttribute(null=True)


class TokenItem(_Item):
    Meta = _meta()
    subject_pk = UnicodeAttribute()
    tenant = UnicodeAttribute()
    issued_at = UnicodeAttribute()
    ttl = TTLAttribute(null=True)


class CodeItem(_Item):
    Meta = _meta()
    subject_pk = UnicodeAttribute()
    tenant = UnicodeAttribute()


class MessageItem(_Item):
    """A provider message already handled, with the answer it got (replays get the same).

    ``expires_at`` (Unix seconds) is when it stops counting, checked on every read and
    write: DynamoDB deletes by ``ttl`` when it gets round to it (often days late), which
    must not decide whether a replay is applied. Items from before ``expires_at`` have
    ``ttl`` alone, which then serves as their expiry."""

    Meta = _meta()
    answer = UnicodeAttribute()
    expires_at = NumberAttribute(null=True)
    ttl = TTLAttribute(null=True)


class InboundNumberItem(_Item):
    """Which tenant owns a number that receives SMS: one tenant per number (``put_tenant_doc``
    never takes another's), and how AWS End User Messaging two-way SMS finds its tenant."""

    Meta = _meta()
    tenant = UnicodeAttribute()


class JobItem(_Item):
    """Where the retention job continues: the first day bucket that may still hold due items."""

    Meta = _meta()
    day = UnicodeAttribute()
    updated_at = UnicodeAttribute()


class LastSmsItem(_Item):
    """When a number last got a confirmation SMS: the resend cooldown, kept apart from the
    open opt-in so a STOP, a confirmation or an erasure does not reset it."""

    Meta = _meta()
    at = UnicodeAttribute()
    ttl = TTLAttribute(null=True)


class CounterItem(_Item):
    Meta = _meta()
    hits = NumberAttribute(default=0)
    ttl = TTLAttribute(null=True)


# Every item model of the table (each class above), so none is missed when rebinding.
MODELS: tuple[type[_Item], ...] = tuple(_Item.__subclasses__())


def bind() -> None:
    """Point every model at the table and endpoint the settings name now.

    Models are declared once; the local stack and the tests call this after they set
    ``TABLE_NAME`` / ``DYNAMODB_ENDPOINT`` (a started moto server's port, say).
    """
    global _shared
    settings.reset()
    _shared = None
    conf = settings.get()
    models: tuple[type[Model], ...] = (_Item, *MODELS)
    for model in models:
        model.Meta.table_name = conf.table_name
        model.Meta.region = conf.region
        model.Meta.host = conf.dynamodb_endpoint
        model._connection = None


_shared: Connection | None = None


_shared_lock = threading.Lock()


def _connection() -> Connection:
    """One connection (one botocore client) for every model and transaction of the process."""
    global _shared
    if _shared is None:
        with _shared_lock:  # the local stack serves requests on threads
            if _shared is None:
                _shared = _new_connection()
    return _shared


class _SharedSessionConnection(Connection):
    """pynamodb's Connection on the process's botocore session (``smsconsent.aws``)."""

    @property
    def session(self) -> Any:
        return aws.session()

    @property
    def client(self) -> Any:
        # pynamodb makes its client on first use, on whatever thread asks first.
        with aws.LOCK:
            return super().client


def _new_connection() -> Connection:
    conf = settings.get()
    meta = SubjectItem.Meta
    connection = _SharedSessionConnection(
        region=conf.region,
        host=conf.dynamodb_endpoint,
        max_retry_attempts=meta.max_retry_attempts,
        connect_timeout_seconds=meta.connect_timeout_seconds,
        read_timeout_seconds=meta.read_timeout_seconds,
        max_pool_connections=meta.max_pool_connections,
    )
    # The table's schema as pynamodb derives it. Every model has the same two keys, and
    # SubjectItem also declares the due-index, so its schema serves them all.
    connection.add_meta_table(super(_Item, SubjectItem)._get_connection().get_meta_table())
    return connection


# ---- domain records ------------------------------------------------------------------


@dataclass
class Subject:
    """One number at one tenant, as the domain sees it (``version`` None: not stored yet)."""

    pk: str
    tenant: str
    phone: str | None
    region: str | None
    language: str | None
    consents: dict[str, dict[str, Any]]
    pending: dict[str, Any] | None
    optout_code: str | None
    last_contact_at: str | None
    sends: list[str]
    last_campaign: str | None
    ev_seq: int
    ev_head: str
    created_at: str
    version: int | None = None
    purged_at: str | None = None


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
    )


def _to_item(subject: Subject, now: datetime, due: datetime | None) -> SubjectItem:
    item = SubjectItem(
        subject.pk,
        "SUBJECT",
        tenant=subject.tenant,
        phone=subject.phone,
        region=subject.region,
        language=subject.language,
        consents=json.dumps(subject.consents, sort_keys=True, separators=(",", ":")),
        pending=json.dumps(subject.pending, sort_keys=True, separators=(",", ":"))
        if subject.pending
        else None,
        optout_code=subject.optout_code,
        last_contact_at=subject.last_contact_at,
        sends=json.dumps(subject.sends) if subject.sends else None,
        last_campaign=subject.last_campaign,
        ev_seq=subject.ev_seq,
        ev_head=subject.ev_head,
        purged_at=subject.purged_at,
        created_at=subject.created_at,
        updated_at=iso(now),
        due_bucket=f"due#{due.date().isoformat()}" if due else None,
        due_at=iso(due) if due else None,
    )
    if subject.version is not None:
        item.version = subject.version
    return item


# ---- access patterns -------------------------------------------------------------------


def _guard(exc: Exception) -> Exception:
    """Map what is left of a failure after pynamodb's retries onto the domain's exceptions."""
    cause = getattr(exc, "cause_response_code", None)
    if cause == "ConditionalCheckFailedException":
        return Conflict(str(exc))
    return StoreUnavailable(f"{type(exc).__name__}: {cause or exc}")


def get_tenant_doc(tenant_id: str) -> dict[str, Any] | None:
    try:
        item = TenantItem.get(f"TENANT#{tenant_id}", "CONFIG", consistent_read=False)
    except TenantItem.DoesNotExist:
        return None
    except (GetError, PynamoDBConnectionError) as exc:
        raise _guard(exc) from exc
    doc: dict[str, Any] = json.loads(item.doc)
    return doc


class NumberTaken(ValueError):
    """A tenant document names an inbound number another tenant owns."""

    def __init__(self, number: str, owner: str) -> None:
        super().__init__(f"inbound number {number} belongs to tenant {owner}")
        self.number = number


def put_tenant_doc(doc: dict[str, Any], now: datetime) -> None:
    """Store a (validated) tenant document and index its inbound numbers: each written
    only where no other tenant owns it (``NumberTaken``), and the numbers it no longer
    names freed. Conditional on the stored document being the one read, so two puts of
    one tenant cannot leave a number indexed that neither names."""
    tenant_id = doc["id"]
    pk = f"TENANT#{tenant_id}"
    try:
        current = TenantItem.get(pk, "CONFIG", consistent_read=True)
    except TenantItem.DoesNotExist:
        current = None
    except (GetError, PynamoDBConnectionError) as exc:
        raise _guard(exc) from exc
    before = set(json.loads(current.doc).get("inbound_numbers") or []) if current else set()
    numbers = list(dict.fromkeys(doc.get("inbound_numbers") or []))
    text = json.dumps(doc, ensure_ascii=False)
    try:
        with TransactWrite(connection=_connection()) as tx:
            unchanged = TenantItem.doc == current.doc if current else TenantItem.pk.does_not_exist()
            tx.save(TenantItem(pk, "CONFIG", doc=text, updated_at=iso(now)), condition=unchanged)
            for number in numbers:
                tx.save(
                    InboundNumberItem(f"INBOUND#{number}", "NUMBER", tenant=tenant_id),
                    condition=InboundNumberItem.pk.does_not_exist() | (InboundNumberItem.tenant == tenant_id),
                )
            for number in sorted(n for n in before - set(numbers) if tenant_of_number(n) == tenant_id):
                tx.delete(
                    InboundNumberItem(f"INBOUND#{number}", "NUMBER"),
                    condition=InboundNumberItem.tenant == tenant_id,
                )
    except TransactWriteError as exc:
        reasons = [r.code if r is not None else None for r in (exc.cancellation_reasons or [])]
        for number, reason in zip(numbers, reasons[1:], strict=False):
            if reason == "ConditionalCheckFailed":
                raise NumberTaken(number, tenant_of_number(number) or "?") from exc
        if "ConditionalCheckFailed" in reasons:
            raise Conflict(str(reasons)) from exc  # the tenant changed meanwhile: read again
        raise StoreUnavailable(f"TransactWriteError: {exc.cause_response_code}") from exc
    except PynamoDBConnectionError as exc:
        raise StoreUnavailable(str(exc)) from exc


def tenant_of_number(e164: str) -> str | None:
    try:
        return InboundNumberItem.get(f"INBOUND#{e164}", "NUMBER").tenant
    except InboundNumberItem.DoesNotExist:
        return None
    except (GetError, PynamoDBConnectionError) as exc:
        raise _guard(exc) from exc


def get_code(code: str) -> CodeItem | None:
    try:
        return CodeItem.get(f"OPTOUT#{code}", "CODE", consistent_read=True)
    except CodeItem.DoesNotExist:
        return None
    except (GetError, PynamoDBConnectionError) as exc:
        raise _guard(exc) from exc


def _message_item(key: str, answer: dict[str, Any], keep_until: datetime) -> MessageItem:
    # ttl a day after the expiry: DynamoDB's deletion is a backstop, never the rule.
    return MessageItem(
        f"MSG#{key}",
        "MSG",
        answer=json.dumps(answer),
        expires_at=int(keep_until.timestamp()),
        ttl=keep_until + timedelta(days=1),
    )


def _message_free(now: datetime) -> Any:
    """The write condition of a message record: none there, or one that has expired."""
    return (
        MessageItem.pk.does_not_exist()
        | (MessageItem.expires_at <= int(now.timestamp()))
        | (MessageItem.expires_at.does_not_exist() & (MessageItem.ttl <= now))
    )


def remember_message(
    message_keys: tuple[str, ...], answer: dict[str, Any], keep_until: datetime, now: datetime
) -> dict[str, Any] | None:
    """Record a handled provider message that changed nothing, under all its keys at once;
    returns the earlier answer instead when one of them was already recorded."""
    try:
        with TransactWrite(connection=_connection()) as tx:
            for key in message_keys:
                tx.save(_message_item(key, answer, keep_until), condition=_message_free(now))
    except TransactWriteError as exc:
        reasons = [r.code for r in (exc.cancellation_reasons or []) if r is not None]
        if "ConditionalCheckFailed" in reasons or exc.cause_response_code == "TransactionConflictException":
            return message_answer(message_keys, now) or answer
        raise StoreUnavailable(f"TransactWriteError: {exc.cause_response_code}") from exc
    except PynamoDBConnectionError as exc:
        raise StoreUnavailable(str(exc)) from exc
    return None


def message_answer(message_keys: tuple[str, ...], now: datetime) -> dict[str, Any] | None:
    """The answer a provider message got, when it was handled before under any of its keys
    and the record has not expired (an expired one is as good as absent)."""
    if not message_keys:
        return None
    try:
        items = list(
            MessageItem.batch_get([(f"MSG#{key}", "MSG") for key in message_keys], consistent_read=True)
        )
    except (GetError, PynamoDBConnectionError) as exc:
        raise _guard(exc) from exc
    for item in items:
        if item.expires_at is not None:
            live = item.expires_at > now.timestamp()
        else:
            live = item.ttl is None or item.ttl > now
        if live:
            answer: dict[str, Any] = json.loads(item.answer)
            return answer
    return None


def load_subject(tenant: str, key_hashes: list[str]) -> Subject | None:
    """The subject under the first key version that has one (strongly consistent)."""
    for key_hash in key_hashes:
        try:
            return _to_subject(SubjectItem.get(subject_pk(tenant, key_hash), "SUBJECT", consistent_read=True))
        except SubjectItem.DoesNotExist:
            continue
        except (GetError, PynamoDBConnectionError) as exc:
            raise _guard(exc) from exc
    return None


def load_subject_by_pk(pk: str) -> Subject | None:
    try:
        return _to_subject(SubjectItem.get(pk, "SUBJECT", consistent_read=True))
    except SubjectItem.DoesNotExist:
        return None
    except (GetError, PynamoDBConnectionError) as exc:
        raise _guard(exc) from exc


def get_token(token_sha256: str) -> TokenItem | None:
    try:
        return TokenItem.get(f"TOKEN#{token_sha256}", "TOKEN", consistent_read=True)
    except TokenItem.DoesNotExist:
        return None
    except (GetError, PynamoDBConnectionError) as exc:
        raise _guard(exc) from exc


def evidence_of(pk: str) -> list[Evidence]:
    try:
        items = list(EvidenceItem.query(pk, EvidenceItem.sk.startswith("EV#"), consistent_read=True))
    except PynamoDBConnectionError as exc:
        raise _guard(exc) from exc
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
        for i in items
    ]


def _evidence_item(pk: str, ev: Evidence) -> EvidenceItem:
    return EvidenceItem(
        pk,
        f"EV#{ev.seq:08d}",
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
    message: tuple[tuple[str, ...], dict[str, Any], datetime] | None = None


def commit(change: Change, now: datetime) -> None:
    """Write the change in one transaction, conditional on the subject being unchanged
    since it was read (its version). A lost race raises ``Conflict``."""
    subject = change.subject
    item = _to_item(subject, now, change.due)
    try:
        with TransactWrite(connection=_connection()) as tx:
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
                message_keys, answer, keep_until = change.message
                for key in message_keys:
                    tx.save(_message_item(key, answer, keep_until), condition=_message_free(now))
            if change.code:
                tx.save(
                    CodeItem(f"OPTOUT#{change.code}", "CODE", subject_pk=subject.pk, tenant=subject.tenant),
                    condition=CodeItem.pk.does_not_exist(),
                )
    except TransactWriteError as exc:
        reasons = [r.code for r in (exc.cancellation_reasons or []) if r is not None]
        if "ConditionalCheckFailed" in reasons or exc.cause_response_code == "TransactionConflictException":
            raise Conflict(str(reasons)) from exc
        raise StoreUnavailable(f"TransactWriteError: {exc.cause_response_code}") from exc
    except PynamoDBConnectionError as exc:
        raise StoreUnavailable(str(exc)) from exc
    subject.version = item.version


def count_hit(key: str, window: timedelta, now: datetime) -> int:
    """Add one to the counter of ``key`` in the current window; returns the new count."""
    seconds = int(window.total_seconds())
    start = int(now.timestamp()) // seconds * seconds
    counter = CounterItem(f"RATE#{key}#{start}", "COUNT")
    try:
        counter.update(
            actions=[
                CounterItem.hits.add(1),
                CounterItem.ttl.set(datetime.fromtimestamp(start + seconds + 3600, tz=now.tzinfo)),
            ]
        )
    except (UpdateError, PynamoDBConnectionError) as exc:
        raise _guard(exc) from exc
    return int(counter.hits)


def count_undo(key: str, window: timedelta, now: datetime) -> None:
    """Take back one ``count_hit`` of the same window (what it counted did not happen)."""
    seconds = int(window.total_seconds())
    start = int(now.timestamp()) // seconds * seconds
    try:
        CounterItem(f"RATE#{key}#{start}", "COUNT").update(
            actions=[CounterItem.hits.add(-1)], condition=CounterItem.hits > 0
        )
    except UpdateError as exc:
        if getattr(exc, "cause_response_code", None) != "ConditionalCheckFailedException":
            raise _guard(exc) from exc
    except PynamoDBConnectionError as exc:
        raise _guard(exc) from exc


def last_sms_at(key: str) -> datetime | None:
    try:
        return parse_iso(LastSmsItem.get(f"LASTSMS#{key}", "AT", consistent_read=True).at)
    except LastSmsItem.DoesNotExist:
        return None
    except (GetError, PynamoDBConnectionError) as exc:
        raise _guard(exc) from exc


def set_last_sms(key: str, now: datetime, keep: timedelta) -> None:
    try:
        LastSmsItem(f"LASTSMS#{key}", "AT", at=iso(now), ttl=now + keep).save()
    except (PutError, PynamoDBConnectionError) as exc:
        raise _guard(exc) from exc


def window_end(window: timedelta, now: datetime) -> datetime:
    seconds = int(window.total_seconds())
    start = int(now.timestamp()) // seconds * seconds
    return datetime.fromtimestamp(start + seconds, tz=now.tzinfo)


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
        item.update(
            actions=[
                SubjectItem.pending.set(json.dumps(subject.pending, sort_keys=True, separators=(",", ":")))
            ],
        )
    except UpdateError as exc:
        if getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException":
            return False
        raise _guard(exc) from exc
    subject.version = item.version
    return True


# ---- retention and erasure --------------------------------------------------------------


def due_subjects(day: date, now: datetime, page_size: int = 100) -> Iterator[Subject]:
    """Subjects in the day's bucket whose due time has come (the sparse index: no Scan).

    Index reads are eventually consistent; every write that follows is conditional on
    the subject's version, so a stale copy loses and is read again."""
    try:
        for item in SubjectItem.due_index.query(
            f"due#{day.isoformat()}", SubjectItem.due_at <= iso(now), page_size=page_size
        ):
            yield _to_subject(item)
    except (QueryError, PynamoDBConnectionError) as exc:
        raise _guard(exc) from exc


def job_cursor(job: str) -> date | None:
    try:
        return date.fromisoformat(JobItem.get(f"JOB#{job}", "CURSOR", consistent_read=True).day)
    except JobItem.DoesNotExist:
        return None
    except (GetError, PynamoDBConnectionError) as exc:
        raise _guard(exc) from exc


def set_job_cursor(job: str, day: date, now: datetime) -> None:
    try:
        JobItem(f"JOB#{job}", "CURSOR", day=day.isoformat(), updated_at=iso(now)).save()
    except (PutError, PynamoDBConnectionError) as exc:
        raise _guard(exc) from exc


def rewrite(
    subject: Subject,
    now: datetime,
    *,
    delete_subject: bool = False,
    delete_evidence: bool = False,
    strip_seqs: set[int] | None = None,
    due: datetime | None = None,
    new_events: list[Evidence] | None = None,
) -> None:
    """Retention and erasure in one place: delete the subject or save it as it now is,
    and delete its evidence or strip the personal part (``pii``) of some or all events
    (``strip_seqs`` None: all).

    Evidence goes first, as many transactions as it takes; the subject's own write,
    conditional on its version, goes last with the final part. A failure midway leaves the
    subject as it was (still found, still due), so running the same call again (the
    caller's retry, the next retention run) finishes the work: every evidence step is
    idempotent, and none is left out of reach behind a deleted subject."""
    pk = subject.pk
    try:
        events = list(EvidenceItem.query(pk, EvidenceItem.sk.startswith("EV#"), consistent_read=True))
    except (QueryError, PynamoDBConnectionError) as exc:
        raise _guard(exc) from exc
    if delete_evidence or delete_subject:
        todo = events
    else:
        todo = [e for e in events if e.pii is not None and (strip_seqs is None or int(e.seq) in strip_seqs)]
    if not todo and not new_events:
        _write_subject_alone(subject, now, due, delete_subject)
        return
    chunks = [todo[i : i + _EVIDENCE_PER_TRANSACTION] for i in range(0, len(todo), _EVIDENCE_PER_TRANSACTION)]
    for index, chunk in enumerate(chunks or [[]]):
        last = index == max(len(chunks) - 1, 0)
        try:
            with TransactWrite(connection=_connection()) as tx:
                if last:
                    _write_subject(tx, subject, now, due, delete_subject, new_events or [])
                for event in chunk:
                    if delete_evidence or delete_subject:
                        tx.delete(event)
                    else:
                        tx.update(event, actions=[EvidenceItem.pii.remove()])
        except TransactWriteError as exc:
            reasons = [r.code for r in (exc.cancellation_reasons or []) if r is not None]
            if last and "ConditionalCheckFailed" in reasons:
                raise Conflict(str(reasons)) from exc
            raise StoreUnavailable(f"TransactWriteError: {exc.cause_response_code}") from exc
        except PynamoDBConnectionError as exc:
            raise StoreUnavailable(str(exc)) from exc
    if not delete_subject:
        subject.version = (subject.version or 0) + 1


# Evidence items per transaction (DynamoDB takes 100 actions; the rest is for the subject,
# its new events and its codes).
_EVIDENCE_PER_TRANSACTION = 90


def _write_subject_alone(subject: Subject, now: datetime, due: datetime | None, delete: bool) -> None:
    """The same as one transaction of the subject alone, at half the write cost."""
    try:
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
    except (DeleteError, PutError, PynamoDBConnectionError) as exc:
        raise _guard(exc) from exc


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


def delete_code(code: str) -> None:
    try:
        CodeItem(f"OPTOUT#{code}", "CODE").delete()
    except (DeleteError, PynamoDBConnectionError) as exc:
        raise _guard(exc) from exc
