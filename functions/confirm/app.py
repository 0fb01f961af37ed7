"""The link pages people open from an SMS.

GET/HEAD /c/{token}: the confirmation page (changes nothing); POST: its button confirms.
GET/HEAD /o/{code}: the opt-out page; POST: its button opts out (``reason`` optional).
"""

from __future__ import annotations

from typing import Any

from smsconsent import api, confirmation, errors, optout, pages
from smsconsent.http import Request, html_answer, json_answer
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
OPTOUT_STATUS = {"pending": 200, "opted_out": 200, "already_opted_out": 200, "unknown_code": 404}


@api.entrypoint
def handler(request: Request) -> dict[str, Any]:
    if "code" in request.path_params:
        return _optout(request, request.path_params["code"])
    token = request.path_params.get("token", "")
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


def _optout(request: Request, code: str) -> dict[str, Any]:
    if request.method == "POST":
        fields = request.fields()[0] if request.raw_body else {}
        reason = fields.get("reason")
        if reason is not None and not isinstance(reason, str):
            raise errors.Invalid("invalid_field", "reason must be text", "reason")
        result = optout.by_link(code, reason, request.source_ip, request.user_agent)
        logger.info("opt-out by link", extra={"outcome": result.status})
    else:
        result = optout.look(code)
        if result.status == "pending" and not request.accepts_json():
            assert result.tenant is not None
            page = pages.optout_prompt(_language(request, result.language), result.tenant.name)
            return html_answer(200, page, head=request.method == "HEAD")
    page_status = "opted_out_now" if result.status == "opted_out" else result.status
    return _answer(
        request, result.status, OPTOUT_STATUS[result.status], result.tenant, result.language, page_status
    )


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
