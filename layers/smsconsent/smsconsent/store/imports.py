"""Imports of consents and the chunks they are done in."""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pynamodb.transactions import TransactWrite

from smsconsent.clock import iso
from smsconsent.store import models
from smsconsent.store.errors import Conflict, guard
from smsconsent.store.models import ChunkItem, ImportItem, get_or_none

KEEP_IMPORTS = timedelta(days=90)  # the status of an import, its counts and row errors
MAX_ERRORS = 1000  # row errors an import's status lists (the first, by row)
IMPORT_ID = re.compile(r"imp_[0-9a-f]{24}\Z")


def new_import_id() -> str:
    return "imp_" + secrets.token_hex(12)


@dataclass(frozen=True)
class ImportStatus:
    import_id: str
    status: str  # running | done | failed
    rows: int
    processed: int
    imported: int
    unchanged: int
    rejected: int
    sha256: str
    created_at: str
    failed: str | None = None
    errors: list[dict[str, object]] = field(default_factory=list)


def _pk(tenant: str) -> str:
    return f"IMPORT#{tenant}"


def create_import(
    tenant: str, import_id: str, sha256: str, source: str, rows: int, chunks: int, now: datetime
) -> bool:
    """Record a new import; False when one of this id exists (a plan run again)."""
    item = ImportItem(
        _pk(tenant),
        import_id,
        sha256=sha256,
        source=source,
        rows=rows,
        chunks=chunks,
        created_at=iso(now),
        ttl=now + KEEP_IMPORTS,
    )
    try:
        with guard():
            item.save(condition=ImportItem.pk.does_not_exist())
    except Conflict:
        return False
    return True


def fail_import(
    tenant: str, import_id: str, why: str, now: datetime, sha256: str = "", source: str = "bucket"
) -> None:
    """Mark the import failed (created if it is not there yet: a file refused whole)."""
    with guard():
        ImportItem(_pk(tenant), import_id).update(
            actions=[
                ImportItem.failed.set(why),
                ImportItem.sha256.set(ImportItem.sha256 | sha256),
                ImportItem.source.set(ImportItem.source | source),
                ImportItem.created_at.set(ImportItem.created_at | iso(now)),
                ImportItem.ttl.set(now + KEEP_IMPORTS),
            ]
        )


def chunk_to_run(tenant: str, import_id: str, chunk: int, sha256: str) -> bool:
    """Whether the chunk is one of this tenant's import (of this file) still to be done:
    not one replayed after its import expired, forged with an id the tenant never planned
    or a file it never sent, nor a copy of one recorded done (SQS delivers at least once)."""
    item = get_or_none(ImportItem, _pk(tenant), import_id)
    if item is None or item.sha256 != sha256 or not 0 <= chunk < int(item.chunks):
        return False
    return get_or_none(ChunkItem, f"{_pk(tenant)}#{import_id}", f"CHUNK#{chunk:06d}") is None


def finish_chunk(
    tenant: str,
    import_id: str,
    chunk: int,
    counts: dict[str, int],
    errors: list[tuple[int, str, str]],
    now: datetime,
) -> bool:
    """Record the chunk done and add its counts to the import's, in one transaction; False
    when it was recorded before (its counts are in already)."""
    marker = ChunkItem(
        f"{_pk(tenant)}#{import_id}",
        f"CHUNK#{chunk:06d}",
        errors=json.dumps(errors[:MAX_ERRORS], separators=(",", ":")),
        ttl=now + KEEP_IMPORTS,
    )
    target = ImportItem(_pk(tenant), import_id)
    try:
        with guard(), TransactWrite(connection=models.connection()) as tx:
            tx.save(marker, condition=ChunkItem.pk.does_not_exist())
            tx.update(
                target,
                actions=[
                    ImportItem.chunks_done.add(1),
                    *(getattr(ImportItem, name).add(value) for name, value in counts.items()),
                ],
                condition=ImportItem.pk.exists(),
            )
    except Conflict:
        return False
    return True


def import_status(tenant: str, import_id: str) -> ImportStatus | None:
    if not IMPORT_ID.match(import_id):
        return None
    item = get_or_none(ImportItem, _pk(tenant), import_id)
    if item is None:
        return None
    errors: list[dict[str, object]] = []
    if item.rejected:
        with guard():
            for chunk in ChunkItem.query(f"{_pk(tenant)}#{import_id}", consistent_read=True):
                for row, code, name in json.loads(chunk.errors):
                    errors.append({"row": row, "code": code, "field": name})
                if len(errors) >= MAX_ERRORS:
                    break
    status = "failed" if item.failed else "done" if item.chunks_done >= item.chunks else "running"
    return ImportStatus(
        import_id=import_id,
        status=status,
        rows=int(item.rows),
        processed=int(item.processed),
        imported=int(item.imported),
        unchanged=int(item.unchanged),
        rejected=int(item.rejected),
        sha256=item.sha256,
        created_at=item.created_at,
        failed=item.failed,
        errors=errors[:MAX_ERRORS],
    )


def recent_imports(tenant: str, limit: int = 20) -> list[str]:
    """The tenant's import ids, newest first (ids are random: by creation time)."""
    with guard():
        items = list(ImportItem.query(_pk(tenant), attributes_to_get=["sk", "created_at"]))
    return [i.sk for i in sorted(items, key=lambda i: i.created_at, reverse=True)[:limit]]
