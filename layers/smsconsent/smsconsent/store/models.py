"""The table's pynamodb models (one table, every item kind a model) and the process's one
DynamoDB connection they all share.

Keys (``pk`` / ``sk``):
  TENANT#<id>            / CONFIG     tenant settings document
  SUBJ#<tenant>#<hash>   / SUBJECT    one number at one tenant (keyed hash, never the number)
  SUBJ#<tenant>#<hash>   / EV#<seq>   its evidence events, a hash chain
  SUBJ#<tenant>#<hash>   / OUT#<id>   the last event of a subject deleted whole (expired,
                                      erased): no chain left to hold it, only the stream
  WEBHOOK#<tenant>       / WH#<id>    a webhook subscription (its signing secret)
  DELIVERY#<tenant>#<id> / <at>#...   one delivery attempt of a subscription (kept 30 days)
  ATTEMPTS#<tenant>#<webhook>#<event> / COUNT  attempts made so far of one delivery
  TOKEN#<sha256>         / TOKEN      a confirmation token (only its SHA-256)
  OPTOUT#<code>          / CODE       a per-recipient opt-out code
  MSG#<key>              / MSG        a provider message already handled, with its answer
  INBOUND#<e164>         / NUMBER     which tenant owns a number that receives SMS
  IMPORT#<tenant>        / <id>       an import: its file's SHA-256, counts, status
  IMPORT#<tenant>#<id>   / CHUNK#<n>  one chunk of an import done: its counts and row errors
  OPTOUTLISTS            / <tenant>   a tenant that names an AWS opt-out list (the
                                      reconciliation's tenants, kept by put_tenant_doc)
  LASTSMS#<key>          / AT         when a number last got a confirmation SMS
  JOB#<job>              / CURSOR     where the retention job continues
  RATE#<scope>#<window>  / COUNT      an atomic rate counter

The ``due-index`` (``due_bucket`` = ``due#YYYY-MM-DD``, ``due_at``) is sparse: only
subjects with something due (pending expiry, lapse, evidence purge) are in it.
The ``sms-optout-index`` (``sms_optout`` = ``<tenant>#<0-f>``, ``pk``) is sparse too: only
subjects opted out on SMS, or held back by the provider's opt-out list. Sixteen
partitions per tenant (the first hex digit of the keyed hash), so one large tenant's
reconciliation reads from sixteen partitions, not one hot one.
The ``tenant-index`` (``tenant_shard`` = ``<tenant>#<0-f>``, ``pk``) holds every subject and
nothing else, in the same sixteen partitions per tenant: what the export of a tenant's
consents pages through (never a Scan). It projects the number and the consents only, so a
write that changes neither (a marketing send's contact, the resend cooldown) costs it nothing.
``ttl`` is only a backstop for physical deletion; the retention job decides timing.
"""

from __future__ import annotations

import threading
from typing import Any, TypeVar

from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute, VersionAttribute
from pynamodb.connection import Connection, TableConnection
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, IncludeProjection
from pynamodb.models import Model

from smsconsent import aws, settings
from smsconsent.store.errors import guard


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
        shared = connection()
        if table.connection is not shared:
            table.connection = shared
        return table


class TenantItem(_Item):
    Meta = _meta()
    doc = UnicodeAttribute()
    updated_at = UnicodeAttribute()


# pynamodb's Index.__init_subclass__ has no annotations (an error under --strict alone).
class DueIndex(GlobalSecondaryIndex["SubjectItem"]):  # type: ignore[no-untyped-call, unused-ignore]
    """Subjects with something due, by day bucket: what the retention job reads."""

    class Meta:
        index_name = "due-index"
        projection = AllProjection()

    due_bucket = UnicodeAttribute(hash_key=True)
    due_at = UnicodeAttribute(range_key=True)


class SmsOptOutIndex(GlobalSecondaryIndex["SubjectItem"]):  # type: ignore[no-untyped-call, unused-ignore]
    """Subjects opted out on SMS (or held by the provider's list), per tenant shard: what the
    opt-out list reconciliation reads. Keys, the number and what the sync decides on."""

    class Meta:
        index_name = "sms-optout-index"
        projection = IncludeProjection(["phone", "consents", "provider_list"])

    sms_optout = UnicodeAttribute(hash_key=True)
    pk = UnicodeAttribute(range_key=True)


class TenantIndex(GlobalSecondaryIndex["SubjectItem"]):  # type: ignore[no-untyped-call, unused-ignore]
    """Every subject of a tenant, per shard, in key order: what the export of consents pages
    through. The number and the consents; the last contact is read from the subjects
    themselves (projected, every marketing send would cost the index a write)."""

    class Meta:
        index_name = "tenant-index"
        projection = IncludeProjection(["phone", "consents"])

    tenant_shard = UnicodeAttribute(hash_key=True)
    pk = UnicodeAttribute(range_key=True)


class SubjectItem(_Item):
    Meta = _meta()
    due_index = DueIndex()
    sms_optout_index = SmsOptOutIndex()
    tenant_index = TenantIndex()
    tenant = UnicodeAttribute()
    phone = UnicodeAttribute(null=True)  # raw E.164; removed on expiry and erasure
    # The number's time zones (``phone.stored_zones``), kept and removed with ``phone``:
    # the pre-send check's quiet hours need them, and working them out costs ~10 µs a US number.
    zones = UnicodeAttribute(null=True)
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
    unreachable = UnicodeAttribute(null=True)  # JSON: a provider's "no such number", until it texts in
    provider_list = UnicodeAttribute(null=True)  # JSON: the opt-out list sync's put, delete, hold
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    due_bucket = UnicodeAttribute(null=True)
    due_at = UnicodeAttribute(null=True)
    sms_optout = UnicodeAttribute(null=True)
    tenant_shard = UnicodeAttribute(null=True)  # every subject's; absent only on one written before
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


class WebhookItem(_Item):
    """A tenant's webhook subscription. The secret signs its deliveries; it is shown once
    when the subscription is made and never listed (the table is encrypted with ConsentKey)."""

    Meta = _meta()
    url = UnicodeAttribute()
    events = UnicodeAttribute()  # JSON list of event types, or ["*"]
    description = UnicodeAttribute(null=True)
    secret = UnicodeAttribute()
    created_at = UnicodeAttribute()


class DeliveryItem(_Item):
    """One attempt to deliver one event to one subscription (what the deliveries route lists)."""

    Meta = _meta()
    event_id = UnicodeAttribute()
    type = UnicodeAttribute()
    attempt = NumberAttribute()
    status = UnicodeAttribute()  # delivered | failed | dead
    http_status = NumberAttribute(null=True)
    error = UnicodeAttribute(null=True)
    at = UnicodeAttribute()
    next_attempt_at = UnicodeAttribute(null=True)
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


class ImportItem(_Item):
    """An import of consents: what the file was, how far it got. The counts grow by each
    chunk's, in the same transaction that records the chunk done (``ChunkItem``)."""

    Meta = _meta()
    sha256 = UnicodeAttribute()
    source = UnicodeAttribute()  # api | bucket
    rows = NumberAttribute(default=0)
    chunks = NumberAttribute(default=0)
    chunks_done = NumberAttribute(default=0)
    processed = NumberAttribute(default=0)
    imported = NumberAttribute(default=0)
    unchanged = NumberAttribute(default=0)
    rejected = NumberAttribute(default=0)
    failed = UnicodeAttribute(null=True)  # why the whole import failed (an error code)
    created_at = UnicodeAttribute()
    ttl = TTLAttribute(null=True)


class ChunkItem(_Item):
    """One chunk of an import done, with its row errors (row number, code, field: never a
    number). Written once: a chunk delivered again after it was counted is not counted again."""

    Meta = _meta()
    errors = UnicodeAttribute(default="[]")  # JSON [[row, code, field], ...]
    ttl = TTLAttribute(null=True)


class ListTenantItem(_Item):
    """A tenant that names an AWS End User Messaging opt-out list (``sms.opt_out_list``):
    the daily reconciliation reads these, one Query, rather than every tenant."""

    Meta = _meta()


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
    first_at = UnicodeAttribute(null=True)  # when the first hit came (webhook delivery attempts)
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


def connection() -> Connection:
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
    conn = _SharedSessionConnection(
        region=conf.region,
        host=conf.dynamodb_endpoint,
        max_retry_attempts=meta.max_retry_attempts,
        connect_timeout_seconds=meta.connect_timeout_seconds,
        read_timeout_seconds=meta.read_timeout_seconds,
        max_pool_connections=meta.max_pool_connections,
    )
    # The table's schema as pynamodb derives it. Every model has the same two keys, and
    # SubjectItem also declares the indexes, so its schema serves them all.
    conn.add_meta_table(super(_Item, SubjectItem)._get_connection().get_meta_table())
    return conn


_M = TypeVar("_M", bound=_Item)


def get_or_none(model: type[_M], pk: str, sk: str, *, consistent_read: bool = True) -> _M | None:
    """The item under these keys, None when there is none."""
    try:
        with guard():
            return model.get(pk, sk, consistent_read=consistent_read)
    except model.DoesNotExist:
        return None
