"""Consent events out: the consent table's stream (its evidence items, filtered in the
template) in; EventBridge and the webhook delivery queue out. A record not published is
handed back with everything after it (``batchItemFailures``), so Lambda retries from there
and nothing is skipped."""

from __future__ import annotations

from typing import Any

from smsconsent import publishing
from smsconsent.observability import logger


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    records = event.get("Records") or []
    failed = publishing.publish(records)
    if failed is None:
        return {"batchItemFailures": []}
    sequence = records[failed].get("dynamodb", {}).get("SequenceNumber", "")
    return {"batchItemFailures": [{"itemIdentifier": sequence}]}
