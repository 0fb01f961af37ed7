"""Privacy officers' routes (IAM auth in AWS):
GET /v1/{tenant}/subjects/{phone}: everything held (Art. 15); with ``Accept: text/html`` the
access report to hand to the person (their language, no internal hashes, printable);
DELETE /v1/{tenant}/subjects/{phone}: erase (Art. 17), its answer saying what was kept and why;
POST /v1/{tenant}/subjects/{phone}/optout: opt out on the person's behalf, ``reason`` optional."""

from __future__ import annotations

from typing import Any

from smsconsent import api, errors, pages, privacy
from smsconsent.http import Request, html_answer, json_answer
from smsconsent.observability import logger, mask


@api.entrypoint
def handler(request: Request) -> dict[str, Any]:
    tenant = api.tenant_of(request)
    number = privacy.number_of(request.path_params.get("phone", ""), tenant)
    if request.method == "GET":
        if request.prefers_html():
            lang, report = privacy.report(tenant, number, request.headers.get("accept-language"))
            return html_answer(200, pages.access_report(lang, report))
        return json_answer(200, privacy.export(tenant, number))
    if request.method == "DELETE":
        result = privacy.erase(tenant, number)
        logged = {k: result[k] for k in ("erased", "held", "suppression_kept", "outcome")}
        logger.info("erasure", extra={"tenant": tenant.id, "phone": mask(number.e164), **logged})
        if request.prefers_html():
            # The person's language went with the erasure: the officer's browser's.
            lang = pages.language_of(request.headers.get("accept-language"))
            evidence_until = next((k["until"] for k in result["kept"] if k["what"] == "evidence"), None)
            return html_answer(200, pages.erasure(lang, result["outcome"], evidence_until))
        return json_answer(200, result)
    if request.method == "POST" and request.path.rstrip("/").endswith("/optout"):
        fields = request.fields()[0] if request.raw_body.strip() else {}
        reason = fields.get("reason")
        if reason is not None and not isinstance(reason, str):
            raise errors.Invalid("invalid_field", "reason must be text", "reason")
        result = privacy.opt_out(tenant, number, reason)
        logger.info(
            "opt-out on behalf",
            extra={"tenant": tenant.id, "phone": mask(number.e164), "status": result["status"]},
        )
        return json_answer(200, result)
    raise errors.MethodNotAllowed("use GET, DELETE or POST .../optout")
