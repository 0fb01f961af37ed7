"""Insights counted: the consent table's stream (its evidence items, filtered in the
template as for the publisher) in; each consent event added once to its tenant's day
(``tallying``). A chunk not counted is handed back with everything after it
(``batchItemFailures``): what was counted already is found counted and adds nothing."""

from __future__ import annotations

from typing import Any

from smsconsent import tallying
from smsconsent.observability import logger


@logger.inject_lambda_context
def handler(event: Any, context: Any) -> dict[str, Any]:
    records = (event.get("Records") if isinstance(event, dict) else None) or []
    if not isinstance(records, list):
        logger.error("not a stream event: nothing counted")
        return {"batchItemFailures": []}
    failed = tallying.tally(records)
    if failed is None:
        return {"batchItemFailures": []}
    # Only a record read in full is handed back: it has a sequence number.
    return {"batchItemFailures": [{"itemIdentifier": records[failed]["dynamodb"]["SequenceNumber"]}]}
