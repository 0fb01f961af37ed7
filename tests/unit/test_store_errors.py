"""The store's one error guard maps what pynamodb raises after its retries onto the
domain's two failures: a lost race (``Conflict``) and an unavailable store
(``StoreUnavailable``). Built from pynamodb's own exception types, no table needed."""

from __future__ import annotations

import pytest
from pynamodb.connection.base import VerboseClientError
from pynamodb.exceptions import (
    CancellationReason,
    DoesNotExist,
    GetError,
    PutError,
    PynamoDBConnectionError,
    QueryError,
    TransactWriteError,
    UpdateError,
)

from smsconsent import store
from smsconsent.store.errors import guard


def _cause(code: str, reasons: list[str | None] | None = None) -> VerboseClientError:
    return VerboseClientError(
        {"Error": {"Code": code, "Message": code}},
        "Op",
        cancellation_reasons=[CancellationReason(code=r) if r else None for r in (reasons or [])],
    )


@pytest.mark.parametrize("error", [PutError, UpdateError])
def test_a_failed_condition_of_a_single_write_is_a_conflict(error: type[PynamoDBConnectionError]) -> None:
    with pytest.raises(store.Conflict), guard():
        raise error("failed", _cause("ConditionalCheckFailedException"))


@pytest.mark.parametrize("error", [GetError, PutError, UpdateError, QueryError, PynamoDBConnectionError])
@pytest.mark.parametrize("code", ["ProvisionedThroughputExceededException", "InternalServerError", None])
def test_any_other_failure_is_the_store_unavailable(
    error: type[PynamoDBConnectionError], code: str | None
) -> None:
    with pytest.raises(store.StoreUnavailable) as raised, guard():
        raise error("failed", _cause(code) if code else None)
    assert isinstance(raised.value.__cause__, error)


def test_a_transaction_with_a_failed_condition_is_a_conflict_naming_its_reasons_in_item_order() -> None:
    cause = _cause("TransactionCanceledException", [None, "ConditionalCheckFailed", None])

    with pytest.raises(store.Conflict) as raised, guard():
        raise TransactWriteError("cancelled", cause)

    assert raised.value.reasons == [None, "ConditionalCheckFailed", None]


@pytest.mark.parametrize(
    ("transaction_conflict", "expected"),
    [(False, store.StoreUnavailable), (True, store.Conflict)],
)
def test_a_transaction_conflict_is_a_conflict_only_where_the_caller_asks(
    transaction_conflict: bool, expected: type[Exception]
) -> None:
    with pytest.raises(expected), guard(transaction_conflict=transaction_conflict):
        raise TransactWriteError("busy", _cause("TransactionConflictException"))


def test_a_transaction_throttled_or_cancelled_for_another_reason_is_the_store_unavailable() -> None:
    for cause in (
        _cause("ProvisionedThroughputExceededException"),
        _cause("TransactionCanceledException", ["ThrottlingError", None]),
    ):
        with pytest.raises(store.StoreUnavailable), guard(transaction_conflict=True):
            raise TransactWriteError("failed", cause)


def test_not_found_and_the_domains_own_errors_pass_through() -> None:
    with pytest.raises(DoesNotExist), guard():
        raise DoesNotExist()
    with pytest.raises(ValueError, match="mine"), guard():
        raise ValueError("mine")
