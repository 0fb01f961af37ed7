"""Large imports through the import bucket: an object put at ``{tenant}/<name>.csv`` (or
``.ndjson``) starts the same import as the API's (through EventBridge's Object Created
event), its id made from the object (bucket, key, version), so a repeated event plans the
same import again and changes nothing else.
``GET /v1/{tenant}/imports`` lists it; the object is deleted once its chunks are queued."""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import unquote_plus

from smsconsent import aws, clock, importing, store, tenants
from smsconsent.observability import logger

_KINDS = {".csv": "csv", ".ndjson": "ndjson", ".jsonl": "ndjson"}


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    planned = []
    for bucket, key, version in _objects(event):
        planned.append(_plan(bucket, key, version))
    return {"imports": planned}


def _objects(event: Any) -> list[tuple[str, str, str]]:
    """(bucket, key, version) of each object the event says was created: an EventBridge
    "Object Created" event (as the template routes it), or S3's own notification records."""
    found = []
    try:
        if isinstance(event, dict) and event.get("detail-type") == "Object Created":
            detail = event["detail"]
            obj = detail["object"]
            found.append(
                (detail["bucket"]["name"], obj["key"], obj.get("version-id") or obj.get("etag") or "")
            )
        for record in (event.get("Records") if isinstance(event, dict) else None) or []:
            s3 = record["s3"]
            obj = s3["object"]
            found.append(
                (
                    s3["bucket"]["name"],
                    unquote_plus(obj["key"]),
                    obj.get("versionId") or obj.get("eTag") or "",
                )
            )
    except (KeyError, TypeError):
        logger.error("not an S3 object event; nothing planned")
    return found


def _plan(bucket: str, key: str, version: str) -> dict[str, str]:
    tenant_id, _, name = key.partition("/")
    import_id = "imp_" + hashlib.sha256(f"{bucket}/{key}/{version}".encode()).hexdigest()[:24]
    tenant = tenants.get(tenant_id) if tenants.SLUG.match(tenant_id) else None
    if tenant is None:
        logger.error(
            "import object outside a tenant's folder; left alone", extra={"key_prefix": tenant_id[:64]}
        )
        return {"import_id": import_id, "status": "failed", "error": "unknown_tenant"}
    kind = next((k for suffix, k in _KINDS.items() if name.lower().endswith(suffix)), None)
    s3 = aws.client("s3")
    if kind is None:
        store.fail_import(tenant.id, import_id, "unsupported_format", clock.now())
        return {"import_id": import_id, "status": "failed", "error": "unsupported_format"}
    try:
        obj = s3.get_object(Bucket=bucket, Key=key)
        if obj["ContentLength"] > importing.MAX_BUCKET_FILE:
            # Refused before it is read: the planner would run out of memory, and every
            # retry of the event with it.
            store.fail_import(tenant.id, import_id, "body_too_large:body", clock.now())
            s3.delete_object(Bucket=bucket, Key=key)
            logger.warning("import file over the limit; refused", extra={"bytes": obj["ContentLength"]})
            return {"import_id": import_id, "status": "failed", "error": "body_too_large"}
        data = obj["Body"].read()
    except s3.exceptions.NoSuchKey:
        # Planned and deleted already (the event delivered again), or removed by someone.
        known = store.import_status(tenant.id, import_id)
        return {"import_id": import_id, "status": known.status if known else "failed"}
    try:
        importing.plan(tenant, data, kind, "bucket", import_id)
    except importing.FileRefused as exc:
        store.fail_import(
            tenant.id, import_id, f"{exc.code}:{exc.field}", clock.now(), hashlib.sha256(data).hexdigest()
        )
        s3.delete_object(Bucket=bucket, Key=key)
        return {"import_id": import_id, "status": "failed", "error": exc.code}
    # Queued: the rows live on in the chunks, not in the bucket (which expires them anyway).
    s3.delete_object(Bucket=bucket, Key=key)
    logger.info("import planned", extra={"tenant": tenant.id, "import_id": import_id})
    return {"import_id": import_id, "status": "running"}
