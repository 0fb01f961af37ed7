"""Export of a tenant's consents (``GET /v1/{tenant}/consents``): every consent record of
every subject, or those in one state, of one purpose, on one channel, in pages.

The subjects come from the ``tenant-index`` (``store.listing``), sixteen shards per tenant
read one after the other, each in key order; a subject's records in the order of their
``<channel>:<purpose>``. A position in that order is what the cursor holds: the shard, the
subject's key and the last record given out of it. So a page may end inside a subject
without losing or repeating a record, and a subject that changed between two pages is
read as it is then.

The cursor is opaque to callers (base64url of a small JSON object) and belongs to one
tenant and one set of filters: another tenant's, or one made with other filters, is
refused. Tampering gains nothing: every read is confined to the tenant's own partitions
of the index, whatever the cursor says.

A page reads at most ``READ_BUDGET`` subjects (a rare state over a large tenant): it then
ends early, with fewer items, and its cursor goes on from where it stopped. The cursor is
null exactly when nothing is left.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from smsconsent import consent, errors
from smsconsent.records import ConsentRecord, subject_pk
from smsconsent.store import listing
from smsconsent.tenants import CHANNELS, Tenant

STATES = (consent.ACTIVE, consent.PENDING, consent.OPTED_OUT, consent.LAPSED)
DEFAULT_LIMIT = 1000
MAX_LIMIT = 10_000
# Subjects one page reads at most: well inside the API's 30 seconds, whatever the filter.
READ_BUDGET = 50_000
# Subjects one Query asks for: at least this many, at most that many (DynamoDB stops at 1 MB).
QUERY_MIN, QUERY_MAX = 100, 10_000
FIELDS = ("phone", "key", "state", "purpose", "channel", "since", "last_contact_at")
PARAMETERS = ("state", "purpose", "channel", "limit", "cursor")
SHARD_COUNT = 16

_LIMIT = re.compile(r"[0-9]{1,6}\Z")
_CURSOR_TEXT = re.compile(r"[A-Za-z0-9_-]{1,1024}\Z")
# keys.subject_hash: "<pepper version>.<hex>" (a version is any text without a ".")
_SUBJECT_KEY = re.compile(r"[^.\x00-\x1f\x7f]{1,64}\.[0-9a-f]{16,128}\Z")
_RECORD_KEY = re.compile(rf"(?:{'|'.join(CHANNELS)}):[a-z0-9_-]{{1,40}}\Z")  # "<channel>:<purpose>"
_CURSOR_VERSION = 1


@dataclass(frozen=True)
class Position:
    """A place in the export's order: the shard (0 to 15), the key of the subject last read
    in it (None: the shard's start) and the last record given out of that subject (None:
    all of it is done)."""

    shard: int
    key: str | None = None
    record: str | None = None


@dataclass(frozen=True)
class Query:
    tenant: str
    state: str | None
    purpose: str | None
    channel: str | None
    limit: int
    start: Position

    @property
    def filters(self) -> list[str]:
        return [self.state or "", self.purpose or "", self.channel or ""]


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    cursor: str | None
    subjects_read: int


# ---- the request -------------------------------------------------------------------------------


def parse(tenant: Tenant, params: Mapping[str, str]) -> Query:
    """The export the query string asks for; refuses (``errors.Invalid``, the parameter as
    ``field``) a value it cannot take and a parameter it does not know: a misspelt
    ``state`` must not export every record."""
    for name in params:
        if name not in PARAMETERS:
            # A parameter without a name ("?=x") is named by the query string as a whole.
            raise errors.Invalid(
                "invalid_field", f"unknown parameter: use {', '.join(PARAMETERS)}", name or "query"
            )
    state = params.get("state")
    if state is not None and state not in STATES:
        raise errors.Invalid("invalid_field", f"state is one of {', '.join(STATES)}", "state")
    channel = params.get("channel")
    if channel is not None and channel not in CHANNELS:
        raise errors.Invalid("invalid_field", f"channel is one of {', '.join(CHANNELS)}", "channel")
    purpose = params.get("purpose")
    if purpose is not None and purpose not in tenant.purposes:
        raise errors.Invalid("unknown_purpose", "the tenant has no such purpose", "purpose")
    raw_limit = params.get("limit")
    limit = DEFAULT_LIMIT
    if raw_limit is not None:
        limit = int(raw_limit) if _LIMIT.match(raw_limit) else 0
        if not 1 <= limit <= MAX_LIMIT:
            raise errors.Invalid("invalid_field", f"limit is a whole number from 1 to {MAX_LIMIT}", "limit")
    query = Query(tenant.id, state, purpose, channel, limit, Position(0))
    cursor = params.get("cursor")
    if cursor is None:
        return query
    return Query(tenant.id, state, purpose, channel, limit, _read_cursor(cursor, query))


def _cursor(query: Query, at: Position) -> str:
    data = {
        "v": _CURSOR_VERSION,
        "t": query.tenant,
        "f": query.filters,
        "s": at.shard,
        "p": at.key,
        "k": at.record,
    }
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _read_cursor(text: str, query: Query) -> Position:
    def refuse(why: str) -> errors.Invalid:
        return errors.Invalid("invalid_field", f"cursor {why}: use the cursor of the previous page", "cursor")

    if not _CURSOR_TEXT.match(text):
        raise refuse("is not one this export gave")
    try:
        data = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (binascii.Error, ValueError):
        raise refuse("is not one this export gave") from None
    if (
        not isinstance(data, dict)
        or set(data) != {"v", "t", "f", "s", "p", "k"}
        or data["v"] != _CURSOR_VERSION
    ):
        raise refuse("is not one this export gave")
    if data["t"] != query.tenant:
        raise refuse("belongs to another tenant")
    if data["f"] != query.filters:
        raise refuse("was made with other filters (state, purpose, channel)")
    shard, key, record = data["s"], data["p"], data["k"]
    valid = (
        type(shard) is int
        and 0 <= shard < SHARD_COUNT
        and (key is None or (isinstance(key, str) and _SUBJECT_KEY.match(key) is not None))
        and (record is None or (isinstance(record, str) and key is not None and _RECORD_KEY.match(record)))
    )
    if not valid:
        raise refuse("is not one this export gave")
    return Position(shard, key, record)


# ---- the page ------------------------------------------------------------------------------------


def _standing(record: ConsentRecord) -> tuple[str, str]:
    """The state and since the export gives a record: its own, except a signup waiting for
    confirmation over an opt-out, which changes nothing until confirmed: the opt-out's."""
    out = consent.opt_out_of(record)
    if out is not None:
        return consent.OPTED_OUT, out["since"]
    return record["state"], record["since"]


def _records(
    query: Query, subject: listing.Listed, key: str, after: str | None
) -> list[tuple[str, dict[str, Any]]]:
    """The subject's records the query wants, in key order, those after ``after`` only."""
    found = []
    for record_key in sorted(subject.consents):
        if after is not None and record_key <= after:
            continue
        channel, _, purpose = record_key.partition(":")
        if (query.channel and channel != query.channel) or (query.purpose and purpose != query.purpose):
            continue
        state, since = _standing(subject.consents[record_key])
        if query.state and state != query.state:
            continue
        item = {
            "phone": subject.phone,
            "key": key,
            "state": state,
            "purpose": purpose,
            "channel": channel,
            "since": since,
            "last_contact_at": None,
        }
        found.append((record_key, item))
    return found


def page(query: Query) -> Page:
    """One page of the export: up to ``query.limit`` items from ``query.start``, and the
    cursor of the next page (None: nothing is left)."""
    prefix = subject_pk(query.tenant, "")
    items: list[tuple[str, dict[str, Any]]] = []  # (subject pk, item)
    last = query.start  # where the last item given out is
    shard, after, record_after = query.start.shard, query.start.key, query.start.record
    including = record_after is not None  # the subject at the cursor has records to go
    read = given = 0
    while shard < SHARD_COUNT:
        wanted = query.limit + 1 - len(items)  # one more than the page holds: is there a next?
        guess = math.ceil(wanted * (read + 1) / (given + 1) * 1.25)
        size = max(QUERY_MIN, min(QUERY_MAX, guess, READ_BUDGET - read + 1))
        subjects, more = listing.shard_subjects(query.tenant, shard, after, including=including, limit=size)
        for subject in subjects:
            key = subject.pk.removeprefix(prefix)
            skip = record_after if including and key == after else None
            records = _records(query, subject, key, skip)
            read += 1
            given += len(records)
            for record_key, item in records:
                if len(items) == query.limit:  # and one more is there
                    return _finish(items, _cursor(query, last), read)
                items.append((subject.pk, item))
                last = Position(shard, key, record_key)
            if read >= READ_BUDGET:
                return _finish(items, _cursor(query, Position(shard, key)), read)
        including, record_after = False, None
        if more:
            after = subjects[-1].pk.removeprefix(prefix)
        else:
            shard, after = shard + 1, None
    return _finish(items, None, read)


def _finish(items: list[tuple[str, dict[str, Any]]], cursor: str | None, read: int) -> Page:
    """The page, with each subject's last contact (read from the subjects themselves: the
    index does not hold it)."""
    contacts = listing.last_contacts(list(dict.fromkeys(pk for pk, _ in items)))
    for pk, item in items:
        item["last_contact_at"] = contacts.get(pk)
    return Page([item for _, item in items], cursor, read)


# ---- CSV ---------------------------------------------------------------------------------------

# A spreadsheet reads a cell that starts with one of these as a formula (a number's "+"
# too): such a cell gets a leading "'", which spreadsheets take as "text" (OWASP CSV
# injection; ASVS 1.2.10).
_FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\0")


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_TRIGGERS) else text


def to_csv(items: Iterable[Mapping[str, Any]]) -> str:
    """The items as CSV (RFC 4180: a header row, CRLF, quoted where needed), no cell a
    formula; a marker's missing number is an empty cell."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(FIELDS)
    writer.writerows([_cell(item.get(name)) for name in FIELDS] for item in items)
    return out.getvalue()
