"""GET/HEAD /c/{token}: the confirmation page (changes nothing).
POST /c/{token}: its button, which confirms."""

from __future__ import annotations

from typing import Any

from smsconsent import api, confirmation, pages
from smsconsent.http import Request, html_answer, json_answer
from smsconsent.observability import logger


@api.entrypoint
def handler(request: Request) -> dict[str, Any]:
    token = request.path_params.get("token", "")
    if request.method == "POST":
        result = confirmation.confirm(token, request.source_ip, request.user_agent)
        logger.info(
            "confirmation",
            extra={"outcome": result.status, "tenant": result.tenant.id if result.tenant else None},
        )
        return _answer(request, result)
    result = confirmation.look(token)
    if result.status == "confirmed":
        # Confirmable: show the button. Only its POST confirms.
        lang = _language(request, result)
        if request.accepts_json():
            return json_answer(200, {"status": "pending"})
        assert result.tenant is not None
        what = ", ".join(
            result.tenant.purposes[p].description.get(lang, p)
            for p in result.purposes or []
            if p in result.tenant.purposes
        )
        page = pages.confirm_prompt(lang, result.tenant.name, what or result.tenant.name)
        return html_answer(200, page, head=request.method == "HEAD")
    return _answer(request, result)


def _language(request: Request, result: confirmation.Result) -> str:
    return pages.language_of(request.headers.get("accept-language"), result.language)


def _answer(request: Request, result: confirmation.Result) -> dict[str, Any]:
    status = confirmation.STATUS[result.status]
    if request.accepts_json():
        return json_answer(status, {"status": result.status})
    name = result.tenant.name if result.tenant else ""
    page = pages.outcome(_language(request, result), result.status, name)
    return html_answer(status, page, head=request.method == "HEAD")
