"""The import worker: one chunk of an import's rows per SQS message (ImportQueue), applied
row by row (``importing.run_chunk``). A chunk that fails (DynamoDB busy) is handed back
and delivered again: its applied rows are found marked and counted once."""

from __future__ import annotations

from typing import Any

from smsconsent import importing, sqs, tenants
from smsconsent.observability import logger


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return sqs.partial_batch(event, _record)


def _record(record: dict[str, Any]) -> None:
    try:
        chunk = importing.Chunk.from_json(record["body"])
    except (KeyError, TypeError, ValueError):
        logger.error("queued import chunk is malformed; dropped")
        return
    tenant = tenants.get(chunk.tenant) if tenants.SLUG.match(chunk.tenant) else None
    if tenant is None:
        logger.error("import chunk of an unknown tenant; dropped", extra={"import_id": chunk.import_id})
        return
    counts = importing.run_chunk(tenant, chunk)
    if counts is None:
        logger.warning(
            "import chunk of no import to run (expired, done, or not the tenant's); dropped",
            extra={"import_id": chunk.import_id, "chunk": chunk.index},
        )
        return
    logger.info("import chunk", extra={"import_id": chunk.import_id, "chunk": chunk.index, **counts})
