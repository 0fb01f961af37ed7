"""Privacy officers' routes (IAM auth in AWS):
GET /v1/{tenant}/subjects/{phone}: everything held (Art. 15);
DELETE /v1/{tenant}/subjects/{phone}: erase (Art. 17);
POST /v1/{tenant}/subjects/{phone}/optout: opt out on the person's behalf, ``reason`` optional."""

from __future__ import annotations

from typing import Any

from smsconsent import api, errors, privacy
from smsconsent.http import Request, json_answer
from smsconsent.observability import logger, mask


@api.entrypoint
def handler(request: Request) -> dict[str, Any]:
    tenant = api.tenant_of(request)
    number = privacy.number_of(request.path_params.get("phone", ""), tenant)
    if request.method == "GET":
        return json_answer(200, privacy.export(tenant, number))
    if request.method == "DELETE":
        result = privacy.erase(tenant, number)
        logger.info("erasure", extra={"tenant": tenant.id, "phone": mask(number.e164), **result})
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
