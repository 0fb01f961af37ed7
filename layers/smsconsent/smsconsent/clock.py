"""The one clock every function reads.

In AWS it is the system clock. The local stack and the tests replace it with
``set_source`` so token ages, signature windows and quiet hours can be moved.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

_source: Callable[[], datetime] | None = None


def now() -> datetime:
    """The current time, timezone-aware UTC."""
    if _source is not None:
        return _source()
    return datetime.now(UTC)


def set_source(source: Callable[[], datetime] | None) -> None:
    """Replace the clock (``None`` restores the system clock)."""
    global _source
    _source = source


def iso(moment: datetime) -> str:
    """ISO-8601 UTC with seconds precision and a ``Z`` suffix (sorts as text)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> datetime:
    """Parse ISO-8601; a naive time is taken as UTC."""
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
