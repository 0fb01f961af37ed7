"""moto's Query without its slow whole-table sort by Python-level comparisons, for tests and
benchmarks of big tables.

On every Query, moto sorts the whole table (``Table.all_items``), then the items of the
asked partition (``Table.sorted_items``), comparing ``DynamoType`` objects whose every
comparison recomputes their values: over 25,000 items, seconds per Query, so a test that
pages an index through moto spends minutes sorting. This sorts the same items by the
same values, computed once per item: the order is moto's own (a key attribute has one
type in a table, and ``DynamoType`` compares by that value), only faster. Nothing else of
moto's Query changes. Used by the export's scale test and benchmark.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def sorted_by_values() -> Iterator[None]:
    """Patch moto's table sorting while inside (restored on exit)."""
    from moto.dynamodb.models.table import Table

    real_all, real_sorted = Table.all_items, Table.sorted_items

    def all_items(self: Any) -> list[Any]:
        items: list[Any] = []
        for hash_set in self.items.values():
            if self.range_key_attr:
                items.extend(hash_set.values())
            else:
                items.append(hash_set)
        return sorted(
            items,
            key=lambda x: (
                (x.hash_key.cast_value, x.range_key.cast_value) if x.range_key else x.hash_key.cast_value
            ),
        )

    def sorted_items(
        self: Any, hash_key_attrs: list[str], range_key_attrs: list[str | None], items: list[Any]
    ) -> list[Any]:
        attrs = self._generate_attr_to_sort_by(hash_key_attrs, range_key_attrs)
        items.sort(key=lambda x: tuple(x.attrs[name].cast_value for name in attrs))
        return items

    Table.all_items = all_items  # type: ignore[method-assign]
    Table.sorted_items = sorted_items  # type: ignore[method-assign]
    try:
        yield
    finally:
        Table.all_items = real_all  # type: ignore[method-assign]
        Table.sorted_items = real_sorted  # type: ignore[method-assign]
