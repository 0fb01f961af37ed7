"""The signup form: every field checked in a fixed order, the first fault refused with
its field; and what of a free-text ``source`` may stay in evidence data."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from smsconsent import errors, phone
from smsconsent.tenants import CHANNELS, Tenant

AFFIRMATIVE = {"true", "on", "yes", "1"}
_MAX_TEXT = 500


@dataclass
class SignupForm:
    phone: phone.Phone
    purposes: list[str]
    channel: str
    text: dict[str, str]
    language: str
    source: str | None


# A form id ("footer-form", "landing_v2") that may stay outside the personal part of the
# evidence: letters first, no dots or at-signs (no e-mail or name.surname), no digit runs.
_SAFE_LABEL = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")
_DIGIT_RUN = re.compile(r"[0-9]{5,}")


def public_source(source: str | None) -> str | None:
    """What of a signup's ``source`` the evidence keeps outside its personal part: of a
    URL only its origin (path and query can hold the number, an e-mail, a name), a plain
    form id as it is, anything else nothing. The whole source goes into the personal
    part, which erasure and retention remove."""
    if not source:
        return None
    try:
        parts = urlsplit(source)
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    if parts.scheme.lower() in ("http", "https") and host:
        host = f"[{host}]" if ":" in host else host
        origin = f"{parts.scheme.lower()}://{host}" + (f":{port}" if port else "")
        return None if _DIGIT_RUN.search(origin) else origin
    if _SAFE_LABEL.fullmatch(source) and not _DIGIT_RUN.search(source):
        return source
    return None


def _text(fields: dict[str, Any], name: str, required: bool = False) -> str | None:
    value = fields.get(name)
    if value is None or value == "":
        if required:
            raise errors.Invalid(
                "invalid_phone" if name == "phone" else "invalid_field", f"{name} is required", name
            )
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise errors.Invalid("invalid_field", f"{name} must be a string", name)
    text = str(value).strip()
    if len(text) > _MAX_TEXT:
        raise errors.Invalid("invalid_field", f"{name} is longer than {_MAX_TEXT} characters", name)
    return text


def affirmative(value: Any) -> bool:
    if value is True:
        return True
    if isinstance(value, int) and not isinstance(value, bool):
        return value == 1
    return isinstance(value, str) and value.strip().lower() in AFFIRMATIVE


def parse_form(tenant: Tenant, fields: dict[str, Any], accept_language: str | None) -> SignupForm:
    """Check every field in a fixed order; the first fault is refused with its field."""
    raw_phone = _text(fields, "phone", required=True)
    country = (_text(fields, "country") or tenant.default_country).upper()
    if len(country) != 2 or not country.isalpha():
        raise errors.Invalid("invalid_field", "country must be a two-letter ISO code", "country")
    try:
        number = phone.normalise_mobile(raw_phone or "", country)
    except phone.PhoneError as exc:
        raise errors.Invalid(exc.code, str(exc), "phone") from exc
    if number.region not in tenant.allowed_countries:
        raise errors.Invalid("country_not_allowed", f"numbers from {number.region} are not accepted", "phone")

    if not affirmative(fields.get("consent")):
        raise errors.Invalid("consent_required", "consent must be given explicitly", "consent")
    if tenant.min_age and not affirmative(fields.get("age_confirmed")):
        raise errors.Invalid(
            "age_confirmation_required", f"confirm that you are at least {tenant.min_age}", "age_confirmed"
        )

    raw_purposes = fields.get("purposes")
    if raw_purposes is None or raw_purposes == "" or raw_purposes == []:
        purposes = list(tenant.default_purposes)
    elif isinstance(raw_purposes, str):
        purposes = [p.strip() for p in raw_purposes.split(",") if p.strip()]
    elif isinstance(raw_purposes, list) and all(isinstance(p, str) for p in raw_purposes):
        purposes = [p.strip() for item in raw_purposes for p in item.split(",") if p.strip()]
    else:
        raise errors.Invalid(
            "invalid_field", "purposes must be a list of names or a comma-separated string", "purposes"
        )
    purposes = list(dict.fromkeys(purposes))
    unknown = [p for p in purposes if p not in tenant.purposes]
    if unknown or not purposes:
        raise errors.Invalid(
            "unknown_purpose", f"unknown purpose: {(unknown or ['(none)'])[0][:40]}", "purposes"
        )
    purposes = sorted(set(purposes))

    channel = (_text(fields, "channel") or "sms").lower()
    if channel not in CHANNELS:
        raise errors.Invalid("invalid_field", f"channel must be one of {', '.join(CHANNELS)}", "channel")

    language = tenant.language(_text(fields, "language") or accept_language)
    shown = tenant.consent_text(_text(fields, "consent_text"))
    if shown is None or language not in shown.wording:
        raise errors.Invalid(
            "unknown_consent_text", "consent_text names no text of this tenant", "consent_text"
        )
    return SignupForm(
        phone=number,
        purposes=purposes,
        channel=channel,
        text={
            "id": shown.id,
            "version": shown.version,
            "sha256": shown.sha256(language),
            "language": language,
        },
        language=language,
        source=_text(fields, "source"),
    )
