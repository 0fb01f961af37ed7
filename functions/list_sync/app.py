"""A tenant's AWS End User Messaging opt-out list in step with the consents here
(``list_sync``): the queued syncs, one subject each, after an opt-out, a START or a
confirmation. The daily comparison is ``functions/list_reconcile``."""

from __future__ import annotations

import json
from typing import Any

from smsconsent import list_sync, sqs, store
from smsconsent.observability import logger
from smsconsent.tenants import SLUG


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return sqs.partial_batch(event, _record)


def _record(record: dict[str, Any]) -> None:
    try:
        message = json.loads(record["body"])
        tenant, pk = message["tenant"], message["subject"]
        if not (isinstance(tenant, str) and SLUG.match(tenant) and isinstance(pk, str)):
            raise ValueError("not a list sync")
        if not pk.startswith(store.subject_pk(tenant, "")) or len(pk.encode()) > 2048:
            raise ValueError("not a subject of the tenant")
    except (KeyError, TypeError, ValueError):
        logger.error("queued list sync is malformed; dropped")
        return
    try:
        outcome = list_sync.sync(tenant, pk)
    except Exception:
        # This record's trouble (AWS throttling, the list missing): SQS delivers it again
        # and, after five receives, to the dead-letter queue.
        logger.exception("opt-out list sync failed; it is retried")
        raise
    logger.info("opt-out list sync", extra={"tenant": tenant, "outcome": outcome})
