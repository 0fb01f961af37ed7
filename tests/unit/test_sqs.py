"""SQS partial batches through Powertools' batch processor (``smsconsent.sqs``): a record
whose handler raises goes back alone, a dropped one (handled by returning) does not, and
a batch that failed entirely is answered, not raised."""

from __future__ import annotations

from typing import Any

import pytest

from smsconsent import sqs


def _event(*bodies: str) -> dict[str, Any]:
    return {
        "Records": [
            {"messageId": f"m-{n}", "body": body, "eventSource": "aws:sqs"} for n, body in enumerate(bodies)
        ]
    }


def _handle(record: dict[str, Any]) -> None:
    if record["body"] == "fails":
        raise RuntimeError("DynamoDB busy")
    # "malformed" is dropped: logged by the caller's handler, then returned


def test_only_the_records_that_raised_go_back_to_sqs() -> None:
    # Given a batch with a good, a malformed and a failing record
    answer = sqs.partial_batch(_event("ok", "malformed", "fails", "ok"), _handle)
    # Then only the failing one is reported
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m-2"}]}


def test_a_batch_that_failed_entirely_is_answered_not_raised() -> None:
    assert sqs.partial_batch(_event("fails", "fails"), _handle) == {
        "batchItemFailures": [{"itemIdentifier": "m-0"}, {"itemIdentifier": "m-1"}]
    }


@pytest.mark.parametrize("event", [None, {}, {"Records": []}, {"Records": None}, []])
def test_no_records_is_no_failure(event: Any) -> None:
    assert sqs.partial_batch(event, _handle) == {"batchItemFailures": []}


def test_records_go_through_powertools_batch_processor(monkeypatch: pytest.MonkeyPatch) -> None:
    from aws_lambda_powertools.utilities import batch

    seen = []
    real = batch.process_partial_response

    def spy(**kwargs: Any) -> Any:
        seen.append(type(kwargs["processor"]).__name__)
        return real(**kwargs)

    monkeypatch.setattr(batch, "process_partial_response", spy)
    assert sqs.partial_batch(_event("ok"), _handle) == {"batchItemFailures": []}
    assert seen == ["BatchProcessor"]
