"""moto's Query on a table's own key reading only the partition it names.

moto answers a Query on the table's key (no index) by sorting every item of the table and
keeping those of the partition: a few hundredths of a second per Query over 20,000 items,
so a retention run that reads each due subject's evidence spent most of its time in that
sort. This keeps moto's own Query code (conditions, order, pages, filters, projections)
and only hands it the named partition's items instead of the whole table's, which is what
it kept of them. Index queries and scans are unchanged. Used by the tests.
"""

from __future__ import annotations

import threading
from typing import Any

# The partition a Query of this thread is reading: (table, hash key), or None. Per thread,
# as the race tests query one moto table from several threads at once.
_reading = threading.local()


def install() -> None:
    """Patch moto's Table (idempotent)."""
    from moto.dynamodb.models.table import Table

    real_query, real_all_items = Table.query, Table.all_items
    if getattr(real_query, "_by_partition", False):
        return

    def all_items(self: Any) -> Any:
        reading = getattr(_reading, "partition", None)
        if reading is None or reading[0] is not self:
            return real_all_items(self)
        partition = self.items.get(reading[1])  # .get: items is a defaultdict
        if not partition:
            return []
        return list(partition.values())  # Query sorts them by range key itself

    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
        if index_name or hash_key is None or not self.has_range_key:
            return real_query(self, hash_key, *args, **kwargs)
        _reading.partition = (self, hash_key)
        try:
            return real_query(self, hash_key, *args, **kwargs)
        finally:
            _reading.partition = None

    query._by_partition = True  # type: ignore[attr-defined]
    query._real = real_query  # type: ignore[attr-defined]  # for the test that compares them
    Table.query = query  # type: ignore[method-assign]
    Table.all_items = all_items  # type: ignore[method-assign]
