"""POST /v1/{tenant}/signup: double opt-in signup from a website form or fetch().
GET of the same path is the hosted "check your phone" page a browser form lands on.
A browser form post that is refused gets a page in the person's language (or a 303 to the
tenant's ``error_url``); a JSON client gets the JSON error.
SQS records from SignupQueue: the queued signups, processed off the request path."""

from __future__ import annotations

import unicodedata
from typing import Any
from urllib.parse import urlencode, urlsplit

from smsconsent import api, clock, errors, pages, phone, signup, sqs, tenants
from smsconsent.http import ApiError, Request, html_answer, json_answer, redirect
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
        page = pages.check_your_phone(lang, tenant.token_ttl_hours, tenant.confirm_by_reply)
        return html_answer(200, page, head=request.method == "HEAD")
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


def _http_or_page(request: Request) -> dict[str, Any]:
    try:
        return _http(request)
    except Exception as exc:
        # A browser's form post, or the "check your phone" page it lands on: a person
        # reads the answer, so a failure is a page too.
        looking = request.method in ("GET", "HEAD") and not request.accepts_json()
        if not (api.browser_form(request) or looking):
            raise
        answer = _refused(request, exc)
        if request.method == "HEAD":
            answer["body"] = ""
        return answer


def _refused(request: Request, exc: Exception) -> dict[str, Any]:
    """A refused browser form post: 303 to the tenant's ``error_url`` with the code, else a
    page that says what is wrong in the person's language, with the way back to the form."""
    tenant = _tenant_or_none(request)
    if tenant is not None and tenant.error_url:
        error = api.answer_for(exc)
        query = urlencode({"error": error.code, **({"field": error.field} if error.field else {})})
        return redirect(_with_query(tenant.error_url, query), request.answer_headers)
    try:
        fields = request.fields()[0]
    except errors.Refusal:
        fields = {}
    wanted = fields.get("language") if isinstance(fields.get("language"), str) else None
    accept = request.headers.get("accept-language")
    lang = pages.language_of(accept, tenant.language(wanted or accept) if tenant else wanted)

    def page(error: ApiError) -> str:
        refused = pages.Refused(
            error.code,
            error.field,
            tenant.name if tenant else "",
            tuple(sorted((phone.country_name(c, lang) for c in tenant.allowed_countries), key=_by_letters))
            if tenant
            else (),
            _country_of(fields, tenant, lang) if error.code == "country_not_allowed" else None,
            tenant.min_age if tenant else None,
            int(error.headers["Retry-After"]) if "Retry-After" in error.headers else None,
        )
        return pages.form_refused(lang, refused, _back(request, tenant, fields))

    return api.form_refusal(request, exc, page)


def _with_query(url: str, query: str) -> str:
    """``url`` with ``query`` added to its own, before its fragment (after it, the page's
    server would never see it)."""
    base, hash_, fragment = url.partition("#")
    joiner = "" if base.endswith(("?", "&")) else "&" if urlsplit(base).query else "?"
    return f"{base}{joiner}{query}{hash_}{fragment}"


def _by_letters(name: str) -> str:
    """Alphabetical as people sort: "Österreich" among the O's, not after "Z"."""
    return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().casefold()


def _tenant_or_none(request: Request) -> tenants.Tenant | None:
    try:
        return api.tenant_of(request)
    except Exception:  # unknown, or its settings do not load: a page without its name
        return None


def _country_of(fields: dict[str, Any], tenant: tenants.Tenant | None, lang: str) -> str | None:
    """The name of the number's country, read again from the form as signup read it."""
    raw, hint = fields.get("phone"), fields.get("country")
    if tenant is None or not isinstance(raw, str):
        return None
    country = hint.strip().upper() if isinstance(hint, str) and hint.strip() else tenant.default_country
    try:
        return phone.country_name(phone.normalise(raw, country).region, lang)
    except phone.PhoneError:
        return None


def _back(request: Request, tenant: tenants.Tenant | None, fields: dict[str, Any]) -> str | None:
    """The form's page to go back to: the Referer, else a URL ``source``, when it is one of
    the tenant's own origins (its allowed CORS origins, its public URL, this API's own)."""
    if tenant is None:
        return None
    own = {_origin(tenant.public_base_url), _origin(request.url)}
    if tenant.thank_you_url:
        own.add(_origin(tenant.thank_you_url))
    allowed = own | set(tenant.cors_origins)
    for candidate in (request.headers.get("referer"), fields.get("source")):
        if isinstance(candidate, str) and len(candidate) <= 2000:
            origin = _origin(candidate)
            if origin and (origin in allowed or "*" in tenant.cors_origins):
                return candidate
    return None


def _origin(url: str | None) -> str | None:
    try:
        parts = urlsplit(url or "")
        parts.port  # noqa: B018 - raises for a broken port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


http_handler = api.entrypoint(_http_or_page, inject_context=False)


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
