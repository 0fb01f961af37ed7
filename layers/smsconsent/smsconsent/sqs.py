"""SQS batches record by record, through Powertools' batch processor: a record whose
handler raises is reported back to SQS alone (a partial batch response) and delivered
again; the others are done and not delivered again. A handler drops a record that can
never be done (malformed, its tenant gone) by logging and returning.

The batch utility is imported on the queue path only: it costs about 30 ms of cold import
(asyncio, the event data classes), which the HTTP path of the same function never pays."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def partial_batch(event: Any, handle: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """``{"batchItemFailures": [...]}``: the records of ``event`` whose ``handle`` raised."""
    records = event.get("Records") if isinstance(event, dict) else None
    if not records or not isinstance(records, list):
        return {"batchItemFailures": []}  # Powertools refuses an empty batch; nothing to do
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    def record_handler(record: SQSRecord) -> None:
        handle(record.raw_event)

    # A batch whose every record failed is answered like any other, not raised: SQS
    # delivers each again alike, and the invocation is no Lambda error.
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    answer = process_partial_response(event=event, record_handler=record_handler, processor=processor)
    return {"batchItemFailures": list(answer["batchItemFailures"])}
