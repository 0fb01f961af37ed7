"""The link pages people open from an SMS.

GET/HEAD /c/{token}: the confirmation page (changes nothing); POST: its button confirms.
GET/HEAD /o/{code}: the opt-out page; POST: its buttons opt out of everything in the STOP
scope (``reason`` optional) or of the ``purposes`` named, and ``undo`` takes such an
opt-out back within minutes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from smsconsent import api, confirmation, consent, errors, optout, pages
from smsconsent.http import ApiError, Request, html_answer, json_answer
from smsconsent.observability import logger
from smsconsent.snapstart import register as register_snapstart_hooks

register_snapstart_hooks()  # a person waits on this function: see EnableSnapStart

# HTTP status of each outcome (SPEC: Confirmation outcomes): answers, not refusals.
CONFIRM_STATUS = {
    "confirmed": 200,
    "already_confirmed": 200,
    "unknown_token": 404,
    "expired": 410,
    "opted_out": 409,
}
OPTOUT_STATUS = {
    "pending": 200,
    "opted_out": 200,
    "already_opted_out": 200,
    "unknown_code": 404,
    "restored": 200,
    "undo_unavailable": 409,
}
UNDO_MINUTES = int(consent.UNDO_WINDOW.total_seconds() // 60)
_MAX_PURPOSE = 64


@api.entrypoint
def handler(request: Request) -> dict[str, Any]:
    if "code" in request.path_params:
        return _optout(request, request.path_params["code"])
    token = request.path_params.get("token", "")
    try:
        return _confirm(request, token)
    except Exception as exc:
        if not _person(request):
            raise
        # A store outage, say: a page with the JSON answer's status and Retry-After, and
        # the way back is the link itself ("?": this path, so the token stays out of the HTML).
        lang = _language(request, None)
        back = "?" if token else None
        return _failure_page(
            request, exc, lambda error: pages.form_refused(lang, pages.Refused(error.code, error.field), back)
        )


def _person(request: Request) -> bool:
    """A person's browser: it opened a link (GET, HEAD) or posted the page's form, and
    asked for no JSON. Its failures are pages, never JSON."""
    return api.browser_form(request) or (request.method in ("GET", "HEAD") and not request.accepts_json())


def _failure_page(request: Request, exc: Exception, page: Callable[[ApiError], str]) -> dict[str, Any]:
    answer = api.form_refusal(request, exc, page)
    if request.method == "HEAD":
        answer["body"] = ""
    return answer


def _confirm(request: Request, token: str) -> dict[str, Any]:
    if request.method == "POST":
        result = confirmation.confirm(token, request.source_ip, request.user_agent)
        tenant_id = result.tenant.id if result.tenant else None
        logger.info("confirmation", extra={"outcome": result.status, "tenant": tenant_id})
        return _answer(request, result.status, CONFIRM_STATUS[result.status], result.tenant, result.language)
    result = confirmation.look(token)
    if result.status == "confirmed":
        # Confirmable: show the button. Only its POST confirms.
        if request.accepts_json():
            return json_answer(200, {"status": "pending"})
        assert result.tenant is not None
        lang = _language(request, result.language)
        purposes = result.tenant.purposes
        what = ", ".join(purposes[p].description.get(lang, p) for p in result.purposes or [] if p in purposes)
        page = pages.confirm_prompt(lang, result.tenant.name, what or result.tenant.name)
        return html_answer(200, page, head=request.method == "HEAD")
    return _answer(request, result.status, CONFIRM_STATUS[result.status], result.tenant, result.language)


def _optout_look(request: Request, code: str) -> dict[str, Any]:
    result = optout.look(code)
    if result.status == "pending" and not request.accepts_json():
        assert result.tenant is not None
        lang = _language(request, result.language)
        page = pages.optout_prompt(lang, result.tenant.name, _choices(result, lang))
        return html_answer(200, page, head=request.method == "HEAD")
    return _optout_answer(request, result, code)


def _optout(request: Request, code: str) -> dict[str, Any]:
    try:
        return _optout_post(request, code) if request.method == "POST" else _optout_look(request, code)
    except Exception as exc:
        if not _person(request):
            raise
        # A refused form post of the page, or the page failing to show (a store outage):
        # a page in the person's language, and the way back is the page itself.
        try:
            looked = optout.look(code)
        except Exception:  # the store failing again: a page without the subject's language
            looked = optout.Result("unknown_code")
        lang = _language(request, looked.language)
        name = looked.tenant.name if looked.tenant else ""
        back = f"/o/{code}" if looked.tenant else None

        def refused_page(error: ApiError) -> str:
            return pages.form_refused(lang, pages.Refused(error.code, error.field, name), back)

        return _failure_page(request, exc, refused_page)


def _optout_post(request: Request, code: str) -> dict[str, Any]:
    fields = request.fields()[0] if request.raw_body else {}
    reason = fields.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise errors.Invalid("invalid_field", "reason must be text", "reason")
    undo = fields.get("undo")
    if undo is not None:
        if not isinstance(undo, str) or len(undo) > 200:
            raise errors.Invalid("invalid_field", "undo must be the page's undo token", "undo")
        result = optout.undo(code, undo, request.source_ip, request.user_agent)
        logger.info("opt-out undo by link", extra={"outcome": result.status})
        return _optout_answer(request, result, code)
    purposes = _purposes(fields)
    result = optout.by_link(code, reason, request.source_ip, request.user_agent, purposes)
    logger.info("opt-out by link", extra={"outcome": result.status, "partial": purposes is not None})
    return _optout_answer(request, result, code, partial=purposes is not None)


def _purposes(fields: dict[str, Any]) -> list[str] | None:
    """The purposes a POST names (a list, repeated form fields, or comma-separated), None
    when it names none: then it withdraws everything. A form that says ``partial`` (the
    page's boxes) or an empty ``purposes`` must name at least one: nothing ticked is
    never read as "everything"."""
    raw = fields.get("purposes")
    if raw is None and not fields.get("partial"):
        return None
    if raw is None or isinstance(raw, str):
        items = [raw] if raw else []
    elif isinstance(raw, list) and all(isinstance(p, str) for p in raw):
        items = raw
    else:
        raise errors.Invalid("invalid_field", "purposes must be a list of names", "purposes")
    names = list(dict.fromkeys(p.strip() for item in items for p in item.split(",") if p.strip()))
    if not names:
        raise errors.Invalid("invalid_field", "choose at least one purpose", "purposes")
    if any(len(p) > _MAX_PURPOSE for p in names):
        raise errors.Invalid("unknown_purpose", "unknown purpose", "purposes")
    return names


def _choices(result: optout.Result, lang: str) -> pages.Choices:
    tenant = result.tenant
    assert tenant is not None
    return pages.Choices(
        tenant.name,
        {p: _describe(tenant, p, lang) for p in result.in_force},
        None
        if tenant.stop_scope == "all"
        else [_describe(tenant, p.name, lang) for p in tenant.purposes.values() if p.category != "marketing"],
    )


def _describe(tenant: Any, purpose: str, lang: str) -> str:
    description: dict[str, str] = tenant.purposes[purpose].description
    return description.get(lang) or description.get(tenant.default_language) or purpose


def _optout_answer(
    request: Request, result: optout.Result, code: str, partial: bool = False
) -> dict[str, Any]:
    status = OPTOUT_STATUS[result.status]
    if request.accepts_json():
        body: dict[str, Any] = {"status": result.status}
        if partial or result.status == "restored":
            body["purposes"] = result.purposes
        return json_answer(status, body)
    if result.tenant is None or result.status in ("pending", "already_opted_out"):
        page_status = "opted_out_now" if result.status == "opted_out" else result.status
        return _answer(request, result.status, status, result.tenant, result.language, page_status)
    lang = _language(request, result.language)
    choices = _choices(result, lang)
    names = [_describe(result.tenant, p, lang) for p in result.purposes]
    manage = f"/o/{code}"
    if result.status == "opted_out":
        page = pages.optout_done(lang, choices, names, partial, result.undo, UNDO_MINUTES, manage)
    else:
        page = pages.undo_outcome(
            lang, choices, names if result.status == "restored" else [], UNDO_MINUTES, manage
        )
    return html_answer(status, page)


def _language(request: Request, wanted: str | None) -> str:
    return pages.language_of(request.headers.get("accept-language"), wanted)


def _answer(
    request: Request,
    status: str,
    code: int,
    tenant: Any,
    language: str | None,
    page_status: str | None = None,
) -> dict[str, Any]:
    if request.accepts_json():
        return json_answer(code, {"status": status})
    page = pages.outcome(_language(request, language), page_status or status, tenant.name if tenant else "")
    return html_answer(code, page, head=request.method == "HEAD")
