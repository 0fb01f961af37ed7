"""moto's TransactWriteItems without its whole-table copies.

moto backs every transaction up by deep-copying each table it touches, once per item of the
transaction, to restore them if it fails: a few seconds per transaction over 20,000 items,
so tests, benchmarks and the local stack would spend minutes in moto's bookkeeping (an
import of 10,000 rows, hours). This keeps moto's own transaction code and only changes what
is backed up: the items the transaction names, and the length of each touched table's
stream, restored on failure (the items put back, the stream records of the failed
transaction dropped). Used by the tests, the benchmarks and the local stack's embedded moto.
"""

from __future__ import annotations

import copy
import types
from typing import Any


def install() -> None:
    """Patch moto's backend (idempotent)."""
    from moto.dynamodb import models
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    real = DynamoDBBackend.transact_write_items
    if getattr(real, "_items_only", False):
        return
    keep_tables = types.SimpleNamespace(
        deepcopy=lambda value, *args: value if isinstance(value, Table) else copy.deepcopy(value, *args)
    )

    def _keys(backend: Any, transact_items: list[dict[str, Any]]) -> list[tuple[Any, Any, Any]]:
        found = []
        for entry in transact_items:
            _, op = next(iter(entry.items()))
            table = backend.tables.get(op.get("TableName"))
            if table is None:
                continue
            key = op.get("Key") or op.get("Item") or {}
            hash_key = DynamoType(key[table.hash_key_attr]) if table.hash_key_attr in key else None
            range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr in key else None
            if hash_key is not None:
                found.append((table, hash_key, range_key))
        return found

    def items_only(self: Any, transact_items: list[dict[str, Any]]) -> None:
        touched = _keys(self, transact_items)
        streams = {
            id(t): (t.stream_shard, len(t.stream_shard.items)) for t, _, _ in touched if t.stream_shard
        }
        before = [
            (t, h, r, copy.deepcopy(t.get_item(h, r) if (r is not None or not t.has_range_key) else None))
            for t, h, r in touched
        ]
        saved, models.copy = models.copy, keep_tables  # type: ignore[assignment]
        try:
            real(self, transact_items)
        except Exception:
            for shard, length in streams.values():
                del shard.items[length:]
            for table, hash_key, range_key, item in before:
                if range_key is not None:
                    table.items[hash_key].pop(range_key, None)
                    if item is not None:
                        table.items[hash_key][range_key] = item
                else:
                    table.items.pop(hash_key, None)
                    if item is not None:
                        table.items[hash_key] = item
            raise
        finally:
            models.copy = saved

    items_only._items_only = True  # type: ignore[attr-defined]
    DynamoDBBackend.transact_write_items = items_only  # type: ignore[method-assign]
