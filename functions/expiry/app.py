"""The daily retention job, fired by EventBridge Scheduler.

The event may carry ``{"scheduled_time": "<ISO-8601>"}`` (the template passes
``<aws.scheduler.scheduled-time>``): that is the run's "now", else the current time."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from smsconsent import clock, retention
from smsconsent.observability import logger

# A retried run may come hours after its scheduled time; a time further off than this
# is not the scheduler's and would move legal deadlines, so the clock is used instead.
_PLAUSIBLE = timedelta(days=2)


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    now = clock.now()
    scheduled = event.get("scheduled_time") if isinstance(event, dict) else None
    if isinstance(scheduled, str) and scheduled:
        try:
            moment = clock.parse_iso(scheduled)
        except (ValueError, OverflowError):
            logger.warning("scheduled_time is not ISO-8601; using the current time")
        else:
            if now - _PLAUSIBLE <= moment <= now + timedelta(minutes=5):
                now = moment
            else:
                logger.warning("scheduled_time is far from the clock; using the current time")
    summary = retention.run(now, lambda: context.get_remaining_time_in_millis() / 1000)
    logger.info("retention run", extra={"summary": summary})
    return summary
