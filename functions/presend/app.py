"""The pre-send check: POST /v1/{tenant}/check (HTTP API, IAM-signed) and the same JSON plus
``"tenant"`` as a direct Lambda invocation.

A direct invocation must come through the tenant's alias, ``<function>:tenant-<id>``, and
may name only that tenant: ``lambda:InvokeFunction`` on the alias ARN is what binds a
caller to a tenant (README, "Who may check for which tenant"). Anything else is refused
with 403 ``tenant_not_bound`` before the table is read.

A direct invocation gets the answer body itself, ``{"results": [...], "summary": {...}}``,
and never raises for a client fault: a refusal is ``{"error": {"code", "message",
"field"}}``, the body the HTTP route would send (``status`` added, the HTTP status it
stands for; ``retry_after`` in seconds where HTTP sends Retry-After), so callers tell
an ``error`` key from an answer.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from smsconsent import api, clock, errors, presend, tenants
from smsconsent.http import ApiError, Request, error_answer, json_answer
from smsconsent.observability import logger
from smsconsent.presend import check as _check_loaded  # noqa: F401 - the check loads at init, not per request

# 10,000 recipients in any common format fit easily (E.164: ~180 KB); the public routes'
# 64 KiB limit would refuse them. Lambda's own limit for a synchronous payload is 6 MB.
MAX_BODY_BYTES = 1024 * 1024


def _check(request: Request) -> dict[str, Any]:
    tenant = api.tenant_of(request)
    if request.method != "POST":
        raise errors.MethodNotAllowed("use POST")
    fields, is_form = request.fields(max_bytes=MAX_BODY_BYTES)
    if is_form:
        raise errors.UnsupportedMedia("send application/json")
    return json_answer(200, _answer(tenant, fields))


@contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a batch is decided: its tens of thousands of
    short-lived, acyclic objects (parsed consents, results) would set off full collections
    over everything the process holds, about a third of the check's CPU. Reference counting
    still frees them; anything cyclic is collected once collection resumes."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _answer(tenant: tenants.Tenant, fields: dict[str, Any]) -> dict[str, Any]:
    req = presend.parse_request(tenant, fields, clock.now())
    with _gc_paused():
        answer = presend.check(tenant, req)
    logger.info(
        "presend check",
        extra={
            "tenant": tenant.id,
            "category": req.category,
            "purpose": req.purpose,
            "record": req.record,
            **answer["summary"],
        },
    )
    return answer


http_handler = api.entrypoint(_check, inject_context=False)


def _error(error: ApiError) -> dict[str, Any]:
    body = error.body()
    body["error"]["status"] = error.status
    if "Retry-After" in error.headers:
        body["error"]["retry_after"] = int(error.headers["Retry-After"])
    return body


def direct(event: Any, invoked_function_arn: str | None = None) -> dict[str, Any]:
    """A direct invocation through ``invoked_function_arn``: the answer body, or ``{"error": {...}}``
    (what ``api.answer_for``, the HTTP routes' table, makes of the failure)."""
    try:
        if not isinstance(event, dict):
            raise errors.Malformed("malformed_event", "the event must be a JSON object")
        tenant_id = event.get("tenant")
        presend.bind(invoked_function_arn, tenant_id)
        tenant = tenants.get(tenant_id) if isinstance(tenant_id, str) else None
        if tenant is None:
            raise errors.NotFound("unknown_tenant", "no such tenant", "tenant")
        return _answer(tenant, event)
    except Exception as exc:  # every failure gets its answer from the table
        return _error(api.answer_for(exc))


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    arn = getattr(context, "invoked_function_arn", None)
    if isinstance(event, dict) and "requestContext" in event:
        # API Gateway invokes the function itself (IAM on the route binds its callers); an
        # HTTP-shaped event through a tenant's alias is that tenant's caller dressing up.
        bound = presend.alias_tenant(arn)
        named = (
            (event.get("pathParameters") or {}).get("tenant")
            if isinstance(event.get("pathParameters"), dict)
            else None
        )
        if bound is not None and named != bound:
            logger.warning("presend refused: tenant not bound", extra={"tenant": bound})
            refusal = errors.Forbidden(
                "tenant_not_bound", f"this alias is bound to the tenant {bound!r}", "tenant"
            )
            return error_answer(api.answer_for(refusal))
        return http_handler(event, context)
    return direct(event, arn)
