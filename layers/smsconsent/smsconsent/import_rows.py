"""Imported consents: one row of an import file checked and applied to a subject (pure: no
store, no AWS; ``importing`` reads and writes).

The rules (SPEC "Import and export"):

- an import never sends an SMS;
- an ``opted_out`` row always applies;
- an ``active`` row never overrides an opt-out here, nor the suppression marker an erasure
  leaves (both are opted-out records), nor an open double opt-in (the person's own answer
  decides that one);
- an ``active`` row whose last contact (else its consent) is older than the tenant's
  ``lapse_after_days`` lands ``lapsed`` (marketing purposes; transactional ones do not lapse);
- a row already in that state is ``unchanged``: the same file imported twice changes
  nothing the second time;
- the proof goes into one ``consent_imported`` evidence event per changed row: method,
  consent text, original times, the file's SHA-256, the row number, the import; the
  source, IP address, user agent and reason (free text that may be personal) into its
  erasable part.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from smsconsent import consent, phone
from smsconsent.clock import iso
from smsconsent.records import ConsentRecord, Subject
from smsconsent.tenants import CHANNELS, Tenant

FIELDS = (
    "phone",
    "status",
    "purposes",
    "channel",
    "consented_at",
    "method",
    "source",
    "consent_text",
    "language",
    "last_contact_at",
    "opted_out_at",
    "reason",
    "ip",
    "user_agent",
)
STATUSES = ("active", "opted_out")
METHODS = ("double_opt_in", "single_opt_in", "written", "verbal", "other")
# Row codes (SPEC): a row is refused by the first that applies.
ROW_CODES = (
    "invalid_phone",
    "not_mobile",
    "country_not_allowed",
    "unknown_purpose",
    "missing_field",
    "invalid_field",
)

_LIMITS = {"source": 200, "reason": 1000, "user_agent": 500, "consent_text": 200}
_CONSENT_TEXT = re.compile(r"[A-Za-z0-9._-]{1,100}:[A-Za-z0-9._-]{1,50}\Z")
# consent_text stays in evidence that is never erased: no run of digits a number could hide in
_DIGIT_RUN = re.compile(r"[0-9]{6}")
_LANGUAGE = re.compile(r"[a-z]{2}\Z")
_FUTURE_SLACK = timedelta(days=1)  # a clock a little ahead of ours is not a future consent


class RowError(ValueError):
    def __init__(self, code: str, field: str) -> None:
        super().__init__(f"{code}: {field}")
        self.code = code
        self.field = field


# A column's name echoed in an error (and kept in a failed import's status): letters only,
# never a cell of data (a file without its header row has a number there).
_NAMEABLE = re.compile(r"[A-Za-z_][A-Za-z_ -]{0,39}\Z")


class ColumnError(ValueError):
    """The file names a column that is no field: the whole file is refused (a misspelt
    ``opted_out_at`` would otherwise be silently dropped). ``column``: its name, or
    ``header`` when the name is no name (it is then told by its place)."""

    def __init__(self, column: str, place: int) -> None:
        if _NAMEABLE.match(column):
            super().__init__(f"unknown column {column!r}")
            self.column = column
        else:
            super().__init__(f"unknown column {place}: is the header row missing?")
            self.column = "header"


def check_columns(columns: list[str]) -> None:
    for place, column in enumerate(columns, start=1):
        if column not in FIELDS:
            raise ColumnError(column, place)
    for place, column in enumerate(columns, start=1):
        if columns.index(column) != place - 1:
            raise ColumnError(column, place)


@dataclass(frozen=True)
class Row:
    number: int  # the row's place in the file (1: the first row of data)
    e164: str
    region: str
    status: str
    purposes: tuple[str, ...]
    channel: str
    consented_at: datetime | None
    method: str | None
    source: str | None
    consent_text: str | None
    language: str
    last_contact_at: datetime | None
    opted_out_at: datetime | None
    reason: str | None
    ip: str | None
    user_agent: str | None


def _text(raw: dict[str, Any], name: str) -> str | None:
    value = raw.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise RowError("invalid_field", name)
    value = value.strip()
    if name in _LIMITS and len(value) > _LIMITS[name]:
        raise RowError("invalid_field", name)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # half of a UTF-16 pair ("\ud800" in JSON): cannot be stored
        raise RowError("invalid_field", name) from None
    return value or None  # a blank cell says nothing: it never erases what is stored


def _time(raw: dict[str, Any], name: str, now: datetime) -> datetime | None:
    text = _text(raw, name)
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise RowError("invalid_field", name) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # a time without a zone is read as UTC
    if moment > now + _FUTURE_SLACK or moment.year < 1990:
        raise RowError("invalid_field", name)
    return moment.astimezone(UTC)


def _purposes(raw: dict[str, Any], tenant: Tenant) -> tuple[str, ...]:
    value = raw.get("purposes")
    if value is None or value == "" or value == []:
        return tuple(tenant.default_purposes)
    if isinstance(value, str):
        names = [p.strip() for p in value.split(";") if p.strip()]
    elif isinstance(value, list) and all(isinstance(p, str) for p in value):
        names = [p.strip() for p in value]
    else:
        raise RowError("invalid_field", "purposes")
    if not names:
        return tuple(tenant.default_purposes)
    if any(p not in tenant.purposes for p in names):
        raise RowError("unknown_purpose", "purposes")
    return tuple(dict.fromkeys(names))


def parse(raw: dict[str, Any], number: int, tenant: Tenant, now: datetime) -> Row:
    """The row checked against the tenant, or ``RowError`` (code and field)."""
    text = _text(raw, "phone")
    if text is None:
        raise RowError("missing_field", "phone")
    try:
        found = phone.normalise_mobile(text, tenant.default_country)
    except phone.PhoneError as exc:
        raise RowError(exc.code, "phone") from None
    if found.region not in tenant.allowed_countries:
        raise RowError("country_not_allowed", "phone")
    status = _text(raw, "status")
    if status is None:
        raise RowError("missing_field", "status")
    if status not in STATUSES:
        raise RowError("invalid_field", "status")
    purposes = _purposes(raw, tenant)
    channel = _text(raw, "channel") or "sms"
    if channel not in CHANNELS:
        raise RowError("invalid_field", "channel")
    consented_at = _time(raw, "consented_at", now)
    method = _text(raw, "method")
    if status == "active":
        if consented_at is None:
            raise RowError("missing_field", "consented_at")
        if method is None:
            raise RowError("missing_field", "method")
    if method is not None and method not in METHODS:
        raise RowError("invalid_field", "method")
    consent_text = _text(raw, "consent_text")
    if consent_text is not None and (
        not _CONSENT_TEXT.match(consent_text) or _DIGIT_RUN.search(consent_text)
    ):
        raise RowError("invalid_field", "consent_text")
    language = _text(raw, "language") or tenant.languages[0]
    if not _LANGUAGE.match(language):
        raise RowError("invalid_field", "language")
    ip = _text(raw, "ip")
    if ip is not None:
        try:
            ip = str(ipaddress.ip_address(ip))
        except ValueError:
            raise RowError("invalid_field", "ip") from None
    return Row(
        number=number,
        e164=found.e164,
        region=found.region,
        status=status,
        purposes=purposes,
        channel=channel,
        consented_at=consented_at,
        method=method,
        source=_text(raw, "source"),
        consent_text=consent_text,
        language=language,
        last_contact_at=_time(raw, "last_contact_at", now),
        opted_out_at=_time(raw, "opted_out_at", now),
        reason=_text(raw, "reason"),
        ip=ip,
        user_agent=_text(raw, "user_agent"),
    )


# ---- applying a row ---------------------------------------------------------------------------


def _stale(row: Row, tenant: Tenant, now: datetime) -> bool:
    last = row.last_contact_at or row.consented_at
    return last is not None and last <= consent.lapse_cutoff(tenant, now)


def _opt_out(subject: Subject, row: Row, now: datetime) -> list[str]:
    changed = []
    since = iso(row.opted_out_at or now)
    for purpose in row.purposes:
        k = consent.key(row.channel, purpose)
        record = subject.consents.get(k)
        if record is not None and consent.opted_out(record):
            continue
        new: ConsentRecord = {"state": consent.OPTED_OUT, "since": since}
        if record is not None and record["state"] in (consent.ACTIVE, consent.LAPSED):
            new["before_stop"] = record["state"]  # as after a STOP: START brings back an active one
        subject.consents[k] = new
        changed.append(k)
    opened = consent.open_opt_ins(subject)
    waiting = opened.get(row.channel)
    if waiting is not None and changed:
        left = [p for p in waiting["purposes"] if consent.key(row.channel, p) not in changed]
        if left:
            waiting["purposes"] = left
        else:
            del opened[row.channel]
        subject.pending = opened or None
    return changed


def _opt_in(subject: Subject, row: Row, tenant: Tenant, now: datetime) -> tuple[list[str], str]:
    marketing = set(tenant.marketing_purposes())
    stale = _stale(row, tenant, now)
    changed = []
    landed = consent.ACTIVE
    assert row.consented_at is not None
    for purpose in row.purposes:
        k = consent.key(row.channel, purpose)
        record = subject.consents.get(k)
        lapses = stale and purpose in marketing
        state = consent.LAPSED if lapses else consent.ACTIVE
        # Never over an opt-out or an erasure's marker, nor over an open opt-in, nor over
        # a consent already active (which has its own proof).
        if record is not None and (record["state"] != consent.LAPSED or state == consent.LAPSED):
            continue
        new: ConsentRecord = {
            "state": state,
            "since": iso(now) if lapses else iso(row.consented_at),
            "confirmed_at": iso(row.consented_at),
            "source": row.source,
            "language": row.language,
        }
        if row.consent_text:
            text_id, _, version = row.consent_text.partition(":")
            new["text"] = {"id": text_id, "version": version, "language": row.language}
        subject.consents[k] = new
        changed.append(k)
        if lapses:
            landed = consent.LAPSED
    return changed, landed


def apply(
    subject: Subject, row: Row, tenant: Tenant, now: datetime, import_id: str, sha256: str
) -> dict[str, Any] | None:
    """Apply the row to the subject (changed in place); the ``consent_imported`` evidence
    data for it, or None when nothing changed (``unchanged``)."""
    if row.status == "opted_out":
        changed, landed = _opt_out(subject, row, now), consent.OPTED_OUT
    else:
        changed, landed = _opt_in(subject, row, tenant, now)
    if not changed:
        return None
    if subject.phone is None and subject.ev_seq == 0:  # a new subject, not an erasure's marker
        subject.phone, subject.region = row.e164, row.region
    subject.language = subject.language or row.language
    if row.last_contact_at is not None and landed == consent.ACTIVE:
        subject.last_contact_at = max(subject.last_contact_at or "", iso(row.last_contact_at))
    return {
        "consents": changed,
        "via": "import",
        "state": landed,
        "reason_code": f"imported_{landed}",
        "method": row.method,
        "consent_text": row.consent_text,
        "consented_at": iso(row.consented_at) if row.consented_at else None,
        "last_contact_at": iso(row.last_contact_at) if row.last_contact_at else None,
        "opted_out_at": iso(row.opted_out_at) if row.opted_out_at else None,
        "file_sha256": sha256,
        "row": row.number,
        "import_id": import_id,
    }


def personal(row: Row) -> dict[str, str | None]:
    """What of the row goes into the evidence's erasable part."""
    return {"ip": row.ip, "user_agent": row.user_agent, "reason": row.reason, "source": row.source}
