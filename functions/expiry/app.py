"""The daily retention job, fired by EventBridge Scheduler.

The event may carry ``{"scheduled_time": "<ISO-8601>"}`` (the template passes
``<aws.scheduler.scheduled-time>``): that is the run's "now", else the current time."""

from __future__ import annotations

from typing import Any

from smsconsent import clock, retention
from smsconsent.observability import logger


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    scheduled = event.get("scheduled_time") if isinstance(event, dict) else None
    try:
        now = clock.parse_iso(scheduled) if isinstance(scheduled, str) and scheduled else clock.now()
    except ValueError:
        logger.warning("scheduled_time is not ISO-8601; using the current time")
        now = clock.now()
    summary = retention.run(now, lambda: context.get_remaining_time_in_millis() / 1000)
    logger.info("retention run", extra={"summary": summary})
    return summary
