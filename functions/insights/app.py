"""Insights (IAM auth in AWS): GET /v1/{tenant}/insights?from=YYYY-MM-DD&to=YYYY-MM-DD, the
tenant's signups, confirmations, opt-outs (by via, keyword, reason, country and campaign
against its recorded sends), lapses, expiries and erasures of a range of UTC days, read
with one Query from what the tally counted (``tallying``)."""

from __future__ import annotations

from typing import Any

from smsconsent import api, errors, tallying
from smsconsent.http import Request, json_answer
from smsconsent.observability import logger


@api.entrypoint
def handler(request: Request) -> dict[str, Any]:
    tenant = api.tenant_of(request)
    if request.method != "GET":
        raise errors.MethodNotAllowed("use GET")
    answer = tallying.report(tenant.id, dict(request.query))
    logger.info("insights read", extra={"tenant": tenant.id, "from": answer["from"], "to": answer["to"]})
    return json_answer(200, answer)
