"""Bulk import of consents: a file (CSV with a header row, or NDJSON) planned into chunks,
each chunk applied row by row by the import worker (``import_rows`` decides).

- ``plan``: reads the whole file, refuses it whole for an unknown column, records the
  import (its SHA-256, its rows) and queues its chunks (ImportQueue in AWS, where the
  worker runs in parallel; in-process on the local stack). Planning the same import
  again (an S3 event delivered twice) queues the chunks again and changes nothing else.
- ``run_chunk``: applies a chunk's rows (one conditional write per changed subject, with
  its evidence; a row already in its state is ``unchanged`` and costs no write), then
  records the chunk done with its counts in one transaction. A chunk delivered again
  (the worker died midway) finds its applied rows marked with this import and row, counts
  them as imported once, writes no second evidence, and is counted once. A chunk of no
  import of the tenant's (expired, forged, another file's) or one counted already is
  dropped before any row of it is applied.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from smsconsent import clock, consent, evidence, import_rows, keys, metrics, settings, store
from smsconsent.observability import logger
from smsconsent.retry import retry_on_conflict
from smsconsent.tenants import Tenant

MAX_BODY = 5 * 1024 * 1024  # through the API; larger files go through the import bucket
# A bucket file is read whole by ImportPlanFunction (2048 MB): about a million rows fit.
MAX_BUCKET_FILE = 128 * 1024 * 1024
CHUNK_ROWS = 500
CHUNK_BYTES = 192 * 1024  # an SQS message takes 256 KiB
FORMATS = {"text/csv": "csv", "application/x-ndjson": "ndjson", "application/ndjson": "ndjson"}


class FileRefused(ValueError):
    """The file cannot be imported at all: ``code`` and ``field`` say why."""

    def __init__(self, code: str, field: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.field = field


class NotQueued(RuntimeError):
    """The chunks could not all be queued: the import is marked failed; send it again."""


# ---- reading a file ----------------------------------------------------------------------------


def _csv_rows(text: str) -> Iterator[dict[str, Any]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise FileRefused("invalid_field", "body", "the file is empty: a header row is needed") from None
    except csv.Error as exc:
        raise FileRefused("invalid_field", "body", f"the header row cannot be read: {exc}") from None
    columns = [c.strip().lstrip("\ufeff") for c in header]
    try:
        import_rows.check_columns(columns)
    except import_rows.ColumnError as exc:
        raise FileRefused("invalid_field", exc.column, f"{exc}: the whole file is refused") from None
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error:
            # A NUL byte, a cell over the csv module's limit (128 KiB): that row only,
            # which is no row (the reader goes on with the next line).
            yield {"__extra__": True}
            continue
        if not any(v.strip() for v in values):
            continue  # a blank line
        if len(values) > len(columns):
            yield {"__extra__": True}
            continue
        yield dict(zip(columns, values, strict=False))


def _ndjson_rows(text: str) -> Iterator[dict[str, Any]]:
    lines = [line for line in text.splitlines() if line.strip()]
    parsed: list[dict[str, Any]] = []
    for line in lines:
        try:
            value = json.loads(line)
        except (ValueError, RecursionError):
            value = None
        if not isinstance(value, dict):
            parsed.append({"__extra__": True})
            continue
        try:
            import_rows.check_columns(list(value))
        except import_rows.ColumnError as exc:
            raise FileRefused("invalid_field", exc.column, f"{exc}: the whole file is refused") from None
        parsed.append(value)
    yield from parsed


def read(data: bytes, kind: str) -> list[dict[str, Any]]:
    """The file's rows as mappings of field to value (a row that is no row: ``__extra__``);
    ``FileRefused`` for a file that cannot be read or names an unknown column."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FileRefused("invalid_field", "body", "the file is not UTF-8") from None
    rows = _csv_rows(text) if kind == "csv" else _ndjson_rows(text)
    return list(rows)


# ---- planning ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Chunk:
    tenant: str
    import_id: str
    sha256: str
    index: int
    rows: list[tuple[int, dict[str, Any]]]  # (row number, fields)

    def to_json(self) -> str:
        return json.dumps(
            {
                "tenant": self.tenant,
                "import_id": self.import_id,
                "sha256": self.sha256,
                "chunk": self.index,
                "rows": self.rows,
            },
            # ASCII: half of a UTF-16 pair in a cell travels escaped, and is its row's error
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> Chunk:
        data = json.loads(text)
        chunk = cls(data["tenant"], data["import_id"], data["sha256"], int(data["chunk"]), [])
        if not (store.IMPORT_ID.match(chunk.import_id) and isinstance(data["rows"], list)):
            raise ValueError("not an import chunk")
        rows = [(int(number), fields) for number, fields in data["rows"] if isinstance(fields, dict)]
        return cls(chunk.tenant, chunk.import_id, chunk.sha256, chunk.index, rows)


def chunks_of(tenant: str, import_id: str, sha256: str, rows: list[dict[str, Any]]) -> list[Chunk]:
    """Consecutive chunks of at most ``CHUNK_ROWS`` rows and ``CHUNK_BYTES`` of JSON."""
    chunks: list[Chunk] = []
    current: list[tuple[int, dict[str, Any]]] = []
    size = 0
    for number, fields in enumerate(rows, start=1):
        row_size = len(json.dumps(fields)) + 16  # as to_json writes it
        if current and (len(current) == CHUNK_ROWS or size + row_size > CHUNK_BYTES):
            chunks.append(Chunk(tenant, import_id, sha256, len(chunks), current))
            current, size = [], 0
        current.append((number, fields))
        size += row_size
    if current:
        chunks.append(Chunk(tenant, import_id, sha256, len(chunks), current))
    return chunks


# The local stack's worker stands in for ImportQueue when set.
_local_queue: Callable[[str], None] | None = None


def set_local_queue(take: Callable[[str], None] | None) -> None:
    global _local_queue
    _local_queue = take


def _queue(chunks: list[Chunk]) -> None:
    if _local_queue is not None:
        for chunk in chunks:
            _local_queue(chunk.to_json())
        return
    url = settings.get().import_queue_url
    if not url:
        raise NotQueued("IMPORT_QUEUE_URL is not set")
    from smsconsent import sender

    for start in range(0, len(chunks), 10):
        part = chunks[start : start + 10]
        answer = sender.queue_client().send_message_batch(
            QueueUrl=url, Entries=[{"Id": str(c.index), "MessageBody": c.to_json()} for c in part]
        )
        if answer.get("Failed"):
            raise NotQueued(f"{len(answer['Failed'])} import chunks not queued")


def plan(tenant: Tenant, data: bytes, kind: str, source: str, import_id: str | None = None) -> str:
    """Record the import and queue its chunks; its id. ``import_id``: the id the bucket's
    object gives (the same on a repeated event), else a new one."""
    sha256 = hashlib.sha256(data).hexdigest()
    rows = read(data, kind)
    import_id = import_id or store.new_import_id()
    chunks = chunks_of(tenant.id, import_id, sha256, rows)
    now = clock.now()
    if not store.create_import(tenant.id, import_id, sha256, source, len(rows), len(chunks), now):
        logger.info("import planned again: its chunks are queued again", extra={"import_id": import_id})
    try:
        _queue(chunks)
    except Exception as exc:
        # Some chunks may be queued: they apply (rows are idempotent), but the import would
        # never be done. A file through the API is sent again under a new id; the bucket's
        # event is delivered again and queues every chunk again under the same one.
        if source == "api":
            store.fail_import(tenant.id, import_id, "not_queued", now)
        raise NotQueued(str(exc)) from exc
    metrics.count("ImportRowsQueued", len(rows))
    return import_id


# ---- the worker ----------------------------------------------------------------------------------


def _mark(subject: store.Subject, keys_changed: list[str], marker: str) -> None:
    for k in keys_changed:
        subject.consents[k]["imported"] = marker


def _applied_before(subject: store.Subject | None, row: import_rows.Row, marker: str) -> bool:
    """Whether an earlier attempt of this chunk applied this row (its records carry the mark)."""
    if subject is None:
        return False
    records = (subject.consents.get(consent.key(row.channel, p)) for p in row.purposes)
    return any(r is not None and r.get("imported") == marker for r in records)


def _apply_row(
    tenant: Tenant, chunk: Chunk, row: import_rows.Row, hashes: list[str], prefetched: store.Subject | None
) -> str:
    marker = f"{chunk.import_id}#{row.number}"
    first = [prefetched]

    def attempt() -> str:
        subject = first.pop() if first else store.load_subject(tenant.id, hashes)
        if _applied_before(subject, row, marker):
            return "imported"
        now = clock.now()
        target = subject or store.new_subject(tenant.id, hashes[0], now)
        data = import_rows.apply(target, row, tenant, now, chunk.import_id, chunk.sha256)
        if data is None:
            return "unchanged"
        _mark(target, data["consents"], marker)
        event = evidence.append(target, "consent_imported", now, data, pii=import_rows.personal(row))
        store.commit(store.Change(target, [event], due=consent.next_due(target, tenant)), now)
        return "imported"

    return retry_on_conflict(attempt, "the number is being changed by another request; retry")


def run_chunk(tenant: Tenant, chunk: Chunk) -> dict[str, int] | None:
    """Apply one chunk; its counts, or None when it is no chunk of the tenant's to run
    (``store.chunk_to_run``): none of its rows is applied."""
    if not store.chunk_to_run(tenant.id, chunk.import_id, chunk.index, chunk.sha256):
        return None
    now = clock.now()
    counts = {"processed": 0, "imported": 0, "unchanged": 0, "rejected": 0}
    errors: list[tuple[int, str, str]] = []
    parsed: list[import_rows.Row] = []
    for number, fields in chunk.rows:
        counts["processed"] += 1
        if fields.get("__extra__"):
            counts["rejected"] += 1
            errors.append((number, "invalid_field", "row"))
            continue
        try:
            parsed.append(import_rows.parse(fields, number, tenant, now))
        except import_rows.RowError as exc:
            counts["rejected"] += 1
            errors.append((number, exc.code, exc.field))
    # One BatchGetItem per 100 numbers for the whole chunk; a number twice in it is read
    # again for its second row (the first one may have changed it).
    # The keyed hashes once per number (an HMAC per pepper version).
    hashes = {row.e164: keys.subject_hashes(tenant.id, row.e164) for row in parsed}
    found = store.subjects_by_pk([store.subject_pk(tenant.id, h) for hs in hashes.values() for h in hs])
    seen: set[str] = set()
    for row in parsed:
        pks = [store.subject_pk(tenant.id, h) for h in hashes[row.e164]]
        prefetched = None if row.e164 in seen else next((found[pk] for pk in pks if pk in found), None)
        seen.add(row.e164)
        counts[_apply_row(tenant, chunk, row, hashes[row.e164], prefetched)] += 1
    errors.sort()
    if store.finish_chunk(tenant.id, chunk.import_id, chunk.index, counts, errors, clock.now()):
        metrics.count("ImportRowsImported", counts["imported"])
        metrics.count("ImportRowsRejected", counts["rejected"])
    return counts


def status(tenant: str, import_id: str) -> dict[str, Any] | None:
    found = store.import_status(tenant, import_id)
    if found is None:
        return None
    return {
        "import_id": found.import_id,
        "status": found.status,
        "rows": found.rows,
        "processed": found.processed,
        "imported": found.imported,
        "unchanged": found.unchanged,
        "rejected": found.rejected,
        "errors": found.errors,
        "sha256": found.sha256,
        "created_at": found.created_at,
        **({"failed": found.failed} if found.failed else {}),
    }
