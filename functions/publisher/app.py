"""Consent events out: the consent table's stream (its evidence items, filtered in the
template) in; EventBridge and the webhook delivery queue out. A record not published is
handed back with everything after it (``batchItemFailures``), so Lambda retries from there
and nothing is skipped; a record that cannot be read is skipped (logged), since it would
never be published however often it came back."""

from __future__ import annotations

from typing import Any

from smsconsent import publishing
from smsconsent.observability import logger


@logger.inject_lambda_context
def handler(event: Any, context: Any) -> dict[str, Any]:
    records = (event.get("Records") if isinstance(event, dict) else None) or []
    if not isinstance(records, list):
        logger.error("not a stream event: nothing published")
        return {"batchItemFailures": []}
    failed = publishing.publish(records)
    if failed is None:
        return {"batchItemFailures": []}
    # Only a record read in full is handed back: it has a sequence number.
    return {"batchItemFailures": [{"itemIdentifier": records[failed]["dynamodb"]["SequenceNumber"]}]}
