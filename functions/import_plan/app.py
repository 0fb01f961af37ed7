"""Large imports through the import bucket: an object put at ``{tenant}/<name>.csv`` (or
``.ndjson``) starts the same import as the API's (through EventBridge's Object Created
event), its id made from the object (bucket, key, version), so a repeated event plans the
same import again and changes nothing else.
``GET /v1/{tenant}/imports`` lists it; the object is deleted once its chunks are queued.

The bucket is versioned: the planner reads and deletes the version its event names, so a
file replaced before its event is planned is not read in place of the first (and the
second's own event finds its own); S3 URL-encodes the key in its events."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from botocore.exceptions import ClientError

from smsconsent import aws, clock, importing, store, tenants
from smsconsent.observability import logger

_KINDS = {".csv": "csv", ".ndjson": "ndjson", ".jsonl": "ndjson"}
# What S3 answers for an object or version that is not (any more) there.
_GONE = frozenset({"NoSuchKey", "NoSuchVersion", "404"})


@dataclass(frozen=True)
class _Object:
    bucket: str
    key: str  # as the event names it: the import's id is made from it
    keys: tuple[str, ...]  # where it may be stored: the key decoded, then as written
    version_id: str | None  # the version the event is about (None: an unversioned bucket)
    tag: str  # its version id, else its ETag: the import's id is made from it

    @property
    def import_id(self) -> str:
        return "imp_" + hashlib.sha256(f"{self.bucket}/{self.key}/{self.tag}".encode()).hexdigest()[:24]


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    planned = []
    for obj in _objects(event):
        planned.append(_plan(obj))
    return {"imports": planned}


def _objects(event: Any) -> list[_Object]:
    """Each object the event says was created: an EventBridge "Object Created" event (as
    the template routes it), or S3's own notification records."""
    found = []
    try:
        if isinstance(event, dict) and event.get("detail-type") == "Object Created":
            detail = event["detail"]
            obj = detail["object"]
            key, version = obj["key"], obj.get("version-id") or None
            # URL-encoded as in S3's notifications ("a b+c" as "a+b%2Bc"); a key taken
            # as written is still found.
            keys = tuple(dict.fromkeys((unquote_plus(key), key)))
            tag = version or obj.get("etag") or ""
            found.append(_Object(detail["bucket"]["name"], key, keys, version, tag))
        for record in (event.get("Records") if isinstance(event, dict) else None) or []:
            s3 = record["s3"]
            obj = s3["object"]
            key, version = unquote_plus(obj["key"]), obj.get("versionId") or None
            tag = version or obj.get("eTag") or ""
            found.append(_Object(s3["bucket"]["name"], key, (key,), version, tag))
    except (KeyError, TypeError):
        logger.error("not an S3 object event; nothing planned")
    return found


def _plan(obj: _Object) -> dict[str, str]:
    import_id = obj.import_id
    tenant_id, _, name = obj.keys[0].partition("/")
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
    read = _read(s3, obj)
    if read is None:
        # Planned and deleted already (the event delivered again), or removed by someone.
        known = store.import_status(tenant.id, import_id)
        return {"import_id": import_id, "status": known.status if known else "failed"}
    where, data = read
    if data is None:
        # Refused before it is read whole: the planner would run out of memory, and every
        # retry of the event with it.
        store.fail_import(tenant.id, import_id, "body_too_large:body", clock.now())
        s3.delete_object(**where)
        logger.warning("import file over the limit; refused", extra={"limit": importing.MAX_BUCKET_FILE})
        return {"import_id": import_id, "status": "failed", "error": "body_too_large"}
    try:
        importing.plan(tenant, data, kind, "bucket", import_id)
    except importing.FileRefused as exc:
        store.fail_import(
            tenant.id, import_id, f"{exc.code}:{exc.field}", clock.now(), hashlib.sha256(data).hexdigest()
        )
        s3.delete_object(**where)
        return {"import_id": import_id, "status": "failed", "error": exc.code}
    # Queued: the rows live on in the chunks, not in the bucket (which expires them anyway).
    s3.delete_object(**where)
    logger.info("import planned", extra={"tenant": tenant.id, "import_id": import_id})
    return {"import_id": import_id, "status": "running"}


def _read(s3: Any, obj: _Object) -> tuple[dict[str, str], bytes | None] | None:
    """Where the event's object is (the arguments that name it) and its bytes (None: over
    ``importing.MAX_BUCKET_FILE``); None when it is not there. The limit holds whether or
    not the answer says its length: never more than one byte past it is read."""
    limit = importing.MAX_BUCKET_FILE
    for key in obj.keys:
        where = {"Bucket": obj.bucket, "Key": key}
        if obj.version_id:
            where["VersionId"] = obj.version_id
        try:
            answer = s3.get_object(**where)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _GONE:
                continue
            raise
        body = answer["Body"]
        try:
            size = answer.get("ContentLength")
            data = None if size is not None and size > limit else body.read(limit + 1)
        finally:
            body.close()
        return where, data if data is not None and len(data) <= limit else None
    return None
