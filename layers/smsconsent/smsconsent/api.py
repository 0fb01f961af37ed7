"""What every HTTP handler shares: the entrypoint that turns any failure into a clean
answer, the one table from failures to HTTP answers, the tenant lookup, and CORS by the
tenant's allowed origins."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from smsconsent import errors, store, tenants
from smsconsent.http import FORM, ApiError, Request, error_answer, html_answer
from smsconsent.observability import logger
from smsconsent.tenants import Tenant, TenantError

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]

# ---- the one table from failures to HTTP answers -----------------------------------------

# The status of each kind of refusal; its code, message, field and Retry-After are its own.
STATUS: dict[type[errors.Refusal], int] = {
    errors.Malformed: 400,
    errors.Forbidden: 403,
    errors.NotFound: 404,
    errors.MethodNotAllowed: 405,
    errors.TooLarge: 413,
    errors.UnsupportedMedia: 415,
    errors.Invalid: 422,
    errors.RateLimited: 429,
    errors.Busy: 503,
    errors.Unavailable: 503,
}


def _store_unavailable() -> ApiError:
    return ApiError(503, "service_unavailable", "storage is busy; retry", None, {"Retry-After": "2"})


def _tenant_misconfigured() -> ApiError:
    return ApiError(
        503, "tenant_misconfigured", "this tenant's settings are invalid", None, {"Retry-After": "60"}
    )


def _internal() -> ApiError:
    return ApiError(500, "internal_error", "internal error")


# Failures that are no refusal: an outage of the table, a tenant whose settings do not
# load, and anything unforeseen (a bug), each with one fixed answer.
FIXED: tuple[Callable[[], ApiError], ...] = (_store_unavailable, _tenant_misconfigured, _internal)


def answer_for(exc: Exception) -> ApiError:
    """The HTTP answer to a failure (logged here, once, by its kind)."""
    if isinstance(exc, errors.Refusal):
        status = next(STATUS[kind] for kind in type(exc).__mro__ if kind in STATUS)
        headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else None
        return ApiError(status, exc.code, exc.message, exc.field, headers)
    if isinstance(exc, store.StoreUnavailable):
        logger.warning("store unavailable", extra={"error": str(exc)})
        return _store_unavailable()
    if isinstance(exc, TenantError):
        logger.error("tenant settings are invalid", extra={"error": str(exc)})
        return _tenant_misconfigured()
    logger.exception("unexpected failure")
    return _internal()


def answers() -> set[tuple[int, str]]:
    """Every (status, code) ``answer_for`` can give."""
    refusals = {(status, code) for kind, status in STATUS.items() for code in kind.codes}
    return refusals | {(fixed().status, fixed().code) for fixed in FIXED}


def entrypoint(handle: Callable[[Request], dict[str, Any]], inject_context: bool = True) -> Handler:
    """Wrap a handler of ``Request``: client faults become 4xx, outages 503, never a trace.
    ``inject_context=False`` when the caller already adds the Lambda context to logs."""

    @functools.wraps(handle)
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        request: Request | None = None
        try:
            request = Request.from_event(event)
            return handle(request)
        except Exception as exc:  # every failure gets its answer from the table
            error = answer_for(exc)
            # A refusal or an outage keeps the request's answer headers (CORS); a broken
            # tenant's or a bug's answer carries none.
            keep = isinstance(exc, errors.Refusal | store.StoreUnavailable)
            return error_answer(error, request.answer_headers if keep and request else None)

    return logger.inject_lambda_context(handler) if inject_context else handler


def browser_form(request: Request) -> bool:
    """A browser's plain form post: a form body and no JSON ``Accept`` (SPEC: its refusals
    are pages, not JSON)."""
    return request.method == "POST" and request.content_type == FORM and not request.accepts_json()


def form_refusal(request: Request, exc: Exception, page: Callable[[ApiError], str]) -> dict[str, Any]:
    """A failure of a browser's form post as a page (``page`` writes it from the error
    answer): the status and headers (``Retry-After``, CORS) stay those of the JSON answer."""
    error = answer_for(exc)
    keep = isinstance(exc, errors.Refusal | store.StoreUnavailable)
    return html_answer(
        error.status, page(error), {**error.headers, **(request.answer_headers if keep else {})}
    )


def tenant_of(request: Request) -> Tenant:
    tenant_id = request.path_params.get("tenant", "")
    tenant = tenants.get(tenant_id) if tenants.SLUG.match(tenant_id) else None
    if tenant is None:
        raise errors.NotFound("unknown_tenant", "no such tenant", "tenant")
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
