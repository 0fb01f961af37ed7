"""Optimistic writes: read, decide, write on a condition. A lost race (``store.Conflict``:
someone else changed the record since it was read) means read and decide again, a
bounded number of times; a record that keeps changing is refused as ``errors.Busy``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from smsconsent import errors, store

T = TypeVar("T")

ATTEMPTS = 5


def retry_on_conflict(attempt: Callable[[], T], busy: str, attempts: int = ATTEMPTS) -> T:
    """What ``attempt()`` (a read, a decision and a conditional write) returns, calling it
    again after each ``store.Conflict``, at most ``attempts`` times in all; then
    ``errors.Busy(busy)``. Anything else ``attempt`` raises goes straight to the caller."""
    for _ in range(attempts):
        try:
            return attempt()
        except store.Conflict:
            continue
    raise errors.Busy(busy)
