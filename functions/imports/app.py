"""Bulk import of consents (IAM auth in AWS):
POST /v1/{tenant}/imports: a CSV (header row) or NDJSON file of up to 5 MB -> 202 with the
import's id; its rows are applied in chunks by the import worker, never sending an SMS.
GET /v1/{tenant}/imports/{id}: the import's status, counts and first 1,000 row errors;
GET /v1/{tenant}/imports: the 20 newest imports (those through the bucket among them).
Larger files go through the import bucket (functions/import_plan)."""

from __future__ import annotations

from typing import Any

from smsconsent import api, errors, importing, store
from smsconsent.http import Request, json_answer
from smsconsent.observability import logger


@api.entrypoint
def handler(request: Request) -> dict[str, Any]:
    tenant = api.tenant_of(request)
    import_id = request.path_params.get("id")
    if import_id is None and request.method == "GET":
        listed = [importing.status(tenant.id, i) for i in store.recent_imports(tenant.id)]
        return json_answer(200, {"imports": [i for i in listed if i is not None]})
    if import_id is not None:
        if request.method != "GET":
            raise errors.MethodNotAllowed("use GET")
        found = importing.status(tenant.id, import_id)
        if found is None:
            raise errors.NotFound("unknown_import", "no such import", "id")
        return json_answer(200, found)
    if request.method != "POST":
        raise errors.MethodNotAllowed("use POST")
    kind = importing.FORMATS.get(request.content_type)
    if kind is None:
        raise errors.UnsupportedMedia("send text/csv (with a header row) or application/x-ndjson")
    if len(request.raw_body) > importing.MAX_BODY:
        raise errors.TooLarge(f"body is over {importing.MAX_BODY} bytes: upload it to the import bucket")
    try:
        import_id = importing.plan(tenant, request.raw_body, kind, "api")
    except importing.FileRefused as exc:
        raise errors.Invalid("invalid_field", str(exc), exc.field) from None
    except importing.NotQueued:
        raise errors.Unavailable("service_unavailable", "the import could not be queued; retry", 5) from None
    logger.info("import planned", extra={"tenant": tenant.id, "import_id": import_id})
    return json_answer(202, {"import_id": import_id, "status": "running"})
