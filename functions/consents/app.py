"""Export of consents (IAM auth in AWS):
GET /v1/{tenant}/consents?state=&purpose=&channel=&limit=&cursor=: every consent record of
the tenant's subjects (in that state, of that purpose, on that channel), a page at a time,
as JSON ``{"items", "cursor"}`` or, with ``Accept: text/csv``, as CSV with the next page's
cursor in ``X-Next-Cursor``. Read from the tenant-index, never a table Scan."""

from __future__ import annotations

from typing import Any

from smsconsent import api, errors, exporting
from smsconsent.http import Request, json_answer
from smsconsent.observability import logger

CSV = "text/csv"


def _wants_csv(request: Request) -> bool:
    """``Accept`` names CSV, and before JSON if it names both."""
    accept = [part.split(";", 1)[0].strip() for part in request.headers.get("accept", "").lower().split(",")]
    if CSV not in accept:
        return False
    return "application/json" not in accept or accept.index(CSV) < accept.index("application/json")


@api.entrypoint
def handler(request: Request) -> dict[str, Any]:
    tenant = api.tenant_of(request)
    if request.method != "GET":
        raise errors.MethodNotAllowed("use GET")
    query = exporting.parse(tenant, request.query)
    page = exporting.page(query)
    logger.info(
        "consents exported",
        extra={
            "tenant": tenant.id,
            "filters": query.filters,
            "items": len(page.items),
            "subjects_read": page.subjects_read,
            "more": page.cursor is not None,
        },
    )
    if not _wants_csv(request):
        return json_answer(200, {"items": page.items, "cursor": page.cursor})
    headers = {
        "Content-Type": "text/csv; charset=utf-8; header=present",
        "Content-Disposition": f'attachment; filename="consents-{tenant.id}.csv"',
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
    }
    if page.cursor:
        headers["X-Next-Cursor"] = page.cursor
    return {"statusCode": 200, "headers": headers, "body": exporting.to_csv(page.items)}
