"""Delivery reports from sending systems (IAM auth in AWS):
POST /v1/{tenant}/delivery-reports: up to 1,000 reports, each a message's final status and
error code; a provider's "opted out" records an opt-out, its "no such number" marks the
number unreachable. The whole body is checked before any report is applied."""

from __future__ import annotations

from typing import Any

from smsconsent import api, errors, reports
from smsconsent.http import Request, json_answer
from smsconsent.observability import logger

# 1,000 reports of a few hundred bytes each.
_MAX_BODY = 512 * 1024


@api.entrypoint
def handler(request: Request) -> dict[str, Any]:
    tenant = api.tenant_of(request)
    if request.method != "POST":
        raise errors.MethodNotAllowed("use POST")
    fields, _ = request.fields(max_bytes=_MAX_BODY)
    parsed = reports.parse(tenant, fields)
    answer = reports.apply_all(tenant, parsed)
    counts: dict[str, int] = {}
    for result in answer["results"]:
        counts[result["action"]] = counts.get(result["action"], 0) + 1
    logger.info("delivery reports", extra={"tenant": tenant.id, **counts})
    return json_answer(200, answer)
