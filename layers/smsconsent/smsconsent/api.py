"""What every HTTP handler shares: the entrypoint that turns any failure into a clean
answer, the tenant lookup, and CORS by the tenant's allowed origins."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from smsconsent import store, tenants
from smsconsent.http import ApiError, Request, error_answer, json_answer
from smsconsent.observability import logger
from smsconsent.tenants import Tenant, TenantError

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def entrypoint(handle: Callable[[Request], dict[str, Any]], inject_context: bool = True) -> Handler:
    """Wrap a handler of ``Request``: client faults become 4xx, outages 503, never a trace.
    ``inject_context=False`` when the caller already adds the Lambda context to logs."""

    @functools.wraps(handle)
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        request: Request | None = None
        try:
            request = Request.from_event(event)
            return handle(request)
        except ApiError as exc:
            return error_answer(exc, request.answer_headers if request else None)
        except store.StoreUnavailable as exc:
            logger.warning("store unavailable", extra={"error": str(exc)})
            error = ApiError(503, "service_unavailable", "storage is busy; retry", None, {"Retry-After": "2"})
            return error_answer(error, request.answer_headers if request else None)
        except TenantError as exc:
            logger.error("tenant settings are invalid", extra={"error": str(exc)})
            error = ApiError(
                503, "tenant_misconfigured", "this tenant's settings are invalid", None, {"Retry-After": "60"}
            )
            return error_answer(error)
        except Exception:
            logger.exception("unexpected failure")
            return json_answer(500, {"error": {"code": "internal_error", "message": "internal error"}})

    return logger.inject_lambda_context(handler) if inject_context else handler


def tenant_of(request: Request) -> Tenant:
    tenant_id = request.path_params.get("tenant", "")
    tenant = tenants.get(tenant_id) if tenants.SLUG.match(tenant_id) else None
    if tenant is None:
        raise ApiError(404, "unknown_tenant", "no such tenant", "tenant")
    return tenant


def apply_cors(tenant: Tenant, request: Request) -> bool:
    """Add CORS headers for an allowed ``Origin``; False when an Origin is present and
    not allowed (a page of another site posting to this tenant)."""
    origin = request.headers.get("origin")
    if not origin:
        return True
    own = urlsplit(tenant.public_base_url)
    allowed = (
        "*" in tenant.cors_origins
        or origin in tenant.cors_origins
        or origin == f"{own.scheme}://{own.netloc}"
    )
    if allowed:
        request.answer_headers.update(
            {
                "Access-Control-Allow-Origin": origin,
                "Vary": "Origin",
                "Access-Control-Expose-Headers": "Retry-After",
            }
        )
    return allowed


def preflight(request: Request, methods: str) -> dict[str, Any]:
    headers = dict(request.answer_headers)
    if headers:
        headers.update(
            {
                "Access-Control-Allow-Methods": methods,
                "Access-Control-Allow-Headers": "content-type, accept",
                "Access-Control-Max-Age": "600",
            }
        )
    return {"statusCode": 204, "headers": headers, "body": ""}
