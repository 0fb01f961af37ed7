"""The store's failures as the domain sees them, and the one guard that maps pynamodb's
onto them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pynamodb.exceptions import PynamoDBConnectionError, TransactWriteError

CONDITION_FAILED = "ConditionalCheckFailed"


class Conflict(Exception):
    """A conditional write lost a race: read again and re-decide.

    ``reasons``: of a transaction, its cancellation reason codes in the order of its items
    (None for an item that did not cause it); empty for a single write."""

    def __init__(self, message: str, reasons: list[str | None] | None = None) -> None:
        super().__init__(message)
        self.reasons: list[str | None] = reasons or []


class StoreUnavailable(Exception):
    """DynamoDB kept failing (throttling, 5xx) after the client's retries."""


class NumberTaken(ValueError):
    """A tenant document names an inbound number another tenant owns."""

    def __init__(self, number: str, owner: str) -> None:
        super().__init__(f"inbound number {number} belongs to tenant {owner}")
        self.number = number


@contextmanager
def guard(*, transaction_conflict: bool = False) -> Iterator[None]:
    """Map what is left of a failure after pynamodb's retries onto the domain's exceptions:
    a failed condition (of a single write, or of any item of a transaction) is ``Conflict``,
    anything else ``StoreUnavailable``. ``DoesNotExist`` passes through untouched.

    ``transaction_conflict``: a transaction cancelled because another one was changing the
    same items (``TransactionConflictException``) is a ``Conflict`` too, for writes whose
    caller reads again and re-decides."""
    try:
        yield
    except TransactWriteError as exc:
        reasons = [r.code if r is not None else None for r in (exc.cancellation_reasons or [])]
        raced = transaction_conflict and exc.cause_response_code == "TransactionConflictException"
        if CONDITION_FAILED in reasons or raced:
            raise Conflict(str([r for r in reasons if r is not None]), reasons) from exc
        raise StoreUnavailable(f"TransactWriteError: {exc.cause_response_code}") from exc
    except PynamoDBConnectionError as exc:
        cause = exc.cause_response_code
        if cause == "ConditionalCheckFailedException":
            raise Conflict(str(exc)) from exc
        raise StoreUnavailable(f"{type(exc).__name__}: {cause or exc}") from exc
