"""POST /v1/{tenant}/signup: double opt-in signup from a website form or fetch().
GET of the same path is the hosted "check your phone" page a browser form lands on.
SQS records from SignupQueue: the queued signups, processed off the request path."""

from __future__ import annotations

from typing import Any

from smsconsent import api, clock, errors, pages, signup, sqs
from smsconsent.http import Request, html_answer, json_answer, redirect
from smsconsent.observability import logger
from smsconsent.snapstart import register as register_snapstart_hooks

register_snapstart_hooks()  # a person waits on this function: see EnableSnapStart

ACCEPTED = {
    "status": "pending",
    "message": "If the number can receive SMS, a confirmation link is on its way.",
}


def _http(request: Request) -> dict[str, Any]:
    tenant = api.tenant_of(request)
    origin_ok = api.apply_cors(tenant, request)
    if request.method == "OPTIONS":
        return api.preflight(request, "POST, OPTIONS")
    if request.method in ("GET", "HEAD"):
        lang = pages.language_of(request.headers.get("accept-language"))
        return html_answer(200, pages.check_your_phone(lang), head=request.method == "HEAD")
    if not origin_ok:
        raise errors.Forbidden(
            "origin_not_allowed", "this origin may not post signups for this tenant", "origin"
        )

    fields, is_form = request.fields()
    browser = is_form and not request.accepts_json()
    if fields.get("website"):
        # Honeypot filled: a bot. Same answer as everyone, nothing happens.
        logger.info("honeypot signup ignored", extra={"tenant": tenant.id})
        return _accepted(tenant.thank_you_url, request, browser)
    ip, now = request.source_ip or "unknown", clock.now()
    try:
        form = signup.parse_form(tenant, fields, request.headers.get("accept-language"))
    except errors.Invalid:
        # Only what can cost an SMS counts toward the IP's budget; refusals have their own.
        signup.check_refused_budget(tenant, ip, now)
        raise
    signup.check_ip_budget(tenant, ip, now)
    signup.check_number_budgets(tenant, form.phone, now)
    # From here on the same work for every number: queue it (see smsconsent.signup).
    outcome = signup.submit(
        tenant, form, request.source_ip, request.user_agent, "form" if is_form else "api", now
    )
    logger.info("signup", extra={"tenant": tenant.id, "outcome": outcome})
    return _accepted(tenant.thank_you_url, request, browser)


def _accepted(thank_you_url: str | None, request: Request, browser: bool) -> dict[str, Any]:
    """The same answer for a new, repeated, pending or active number (and for bots)."""
    if browser:
        return redirect(thank_you_url or request.path, request.answer_headers)
    return json_answer(202, ACCEPTED, request.answer_headers)


http_handler = api.entrypoint(_http, inject_context=False)


def _queued(record: dict[str, Any]) -> None:
    """A signup from SignupQueue; one that fails (DynamoDB or the SMS provider busy) goes
    back to SQS alone and is retried, a redelivery of one already done changes nothing."""
    try:
        request = signup.SignupRequest.from_json(record["body"])
    except (KeyError, TypeError, ValueError):
        logger.error("queued signup is malformed; dropped")
        return
    try:
        outcome = signup.process(request)
    except Exception:
        logger.exception("queued signup failed; it is retried")
        raise
    logger.info("queued signup", extra={"outcome": outcome})


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if isinstance(event, dict) and isinstance(event.get("Records"), list):
        return sqs.partial_batch(event, _queued)
    return http_handler(event, context)
