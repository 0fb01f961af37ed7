"""The daily comparison of each tenant's AWS End User Messaging opt-out list with the
opt-outs here, both ways (``list_sync.reconcile``), fired by EventBridge Scheduler and
invocable on the local stack (``make invoke FUNCTION=ListReconcileFunction``)."""

from __future__ import annotations

from typing import Any

from smsconsent import list_sync
from smsconsent.observability import logger


@logger.inject_lambda_context
def handler(event: Any, context: Any) -> dict[str, Any]:
    summaries = list_sync.reconcile_all(lambda: context.get_remaining_time_in_millis() / 1000)
    logger.info("opt-out list reconciliation", extra={"summaries": summaries})
    return {"tenants": summaries}
