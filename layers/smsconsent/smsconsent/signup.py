"""Double opt-in signup: validate, open (or widen) a pending consent with its evidence in
one conditional write, then send exactly one confirmation SMS."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from smsconsent import clock, consent, evidence, keys, messages, metrics, optout, phone, sender, store
from smsconsent.http import ApiError
from smsconsent.observability import logger, mask
from smsconsent.tenants import CHANNELS, Tenant

AFFIRMATIVE = {"true", "on", "yes", "1"}
_MAX_TEXT = 500
_ATTEMPTS = 5
# Refused signups (typos, missing consent) one IP may make per valid one of its budget.
REFUSED_PER_VALID = 10


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


def _refuse(code: str, message: str, field: str) -> ApiError:
    return ApiError(422, code, message, field)


def _text(fields: dict[str, Any], name: str, required: bool = False) -> str | None:
    value = fields.get(name)
    if value is None or value == "":
        if required:
            raise _refuse(
                "invalid_phone" if name == "phone" else "invalid_field", f"{name} is required", name
            )
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ApiError(422, "invalid_field", f"{name} must be a string", name)
    text = str(value).strip()
    if len(text) > _MAX_TEXT:
        raise ApiError(422, "invalid_field", f"{name} is longer than {_MAX_TEXT} characters", name)
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
        raise ApiError(422, "invalid_field", "country must be a two-letter ISO code", "country")
    try:
        number = phone.normalise_mobile(raw_phone or "", country)
    except phone.PhoneError as exc:
        raise _refuse(exc.code, str(exc), "phone") from exc
    if number.region not in tenant.allowed_countries:
        raise _refuse("country_not_allowed", f"numbers from {number.region} are not accepted", "phone")

    if not affirmative(fields.get("consent")):
        raise _refuse("consent_required", "consent must be given explicitly", "consent")
    if tenant.min_age and not affirmative(fields.get("age_confirmed")):
        raise _refuse(
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
        raise ApiError(
            422, "invalid_field", "purposes must be a list of names or a comma-separated string", "purposes"
        )
    purposes = list(dict.fromkeys(purposes))
    unknown = [p for p in purposes if p not in tenant.purposes]
    if unknown or not purposes:
        raise _refuse("unknown_purpose", f"unknown purpose: {(unknown or ['(none)'])[0][:40]}", "purposes")
    purposes = sorted(set(purposes))

    channel = (_text(fields, "channel") or "sms").lower()
    if channel not in CHANNELS:
        raise ApiError(422, "invalid_field", f"channel must be one of {', '.join(CHANNELS)}", "channel")

    language = tenant.language(_text(fields, "language") or accept_language)
    shown = tenant.consent_text(_text(fields, "consent_text"))
    if shown is None or language not in shown.wording:
        raise _refuse("unknown_consent_text", "consent_text names no text of this tenant", "consent_text")
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


def check_ip_budget(tenant: Tenant, ip: str, now: datetime) -> None:
    """The per-IP budget of valid signups (those that can cost an SMS): a typo, refused
    with 422, never uses it up (see ``check_refused_budget``)."""
    _check_ip(tenant, "ip", ip, tenant.signups_per_ip_per_hour, now)


def check_refused_budget(tenant: Tenant, ip: str, now: datetime) -> None:
    """A separate per-IP budget for refused signups, ``REFUSED_PER_VALID`` times the valid
    one: a refusal costs no SMS, but a flood of garbage from one address still runs dry."""
    _check_ip(tenant, "ip-refused", ip, tenant.signups_per_ip_per_hour * REFUSED_PER_VALID, now)


def _check_ip(tenant: Tenant, scope: str, ip: str, budget: int, now: datetime) -> None:
    hour = timedelta(hours=1)
    ip_key = keys.keyed_digest(ip.encode())[:32]  # the raw IP never becomes a key
    if store.count_hit(f"{tenant.id}#{scope}#{ip_key}", hour, now) > budget:
        metrics.count("SignupRateLimited", scope=scope)
        raise _rate_limited(store.window_end(hour, now), now)


def check_number_budgets(tenant: Tenant, number: phone.Phone, now: datetime) -> None:
    """SMS-pumping defence: hourly budgets per number prefix (the number less its last four
    digits) and per country, and a daily one per number. They count every valid signup,
    whether or not it leads to an SMS, so a 429 never tells whether a number is known."""
    hour, day = timedelta(hours=1), timedelta(days=1)
    by_number = _number_key(tenant, number)
    by_prefix = keys.keyed_digest(f"{tenant.id}|{number.e164[:-4]}".encode())[:32]
    country_budget = tenant.sms_per_country_per_hour.get(
        number.region, tenant.sms_per_country_per_hour["default"]
    )
    for scope, key, window, budget in (
        ("number", f"{tenant.id}#num#{by_number}", day, tenant.sms_per_number_per_day),
        ("prefix", f"{tenant.id}#prefix#{by_prefix}", hour, tenant.sms_per_prefix_per_hour),
        ("country", f"{tenant.id}#country#{number.region}", hour, country_budget),
    ):
        if store.count_hit(key, window, now) > budget:
            metrics.count("SignupRateLimited", scope=scope, country=number.region)
            raise _rate_limited(store.window_end(window, now), now)


def _number_key(tenant: Tenant, number: phone.Phone) -> str:
    """The number in keys of counters: keyed, never the number itself."""
    return keys.keyed_digest(f"{tenant.id}|{number.e164}".encode())[:32]


def _rate_limited(until: datetime, now: datetime) -> ApiError:
    seconds = max(1, int((until - now).total_seconds()))
    return ApiError(
        429, "rate_limited", "too many signups, try again later", None, {"Retry-After": str(seconds)}
    )


def sign_up(tenant: Tenant, form: SignupForm, ip: str, user_agent: str, via: str) -> str:
    """Open or widen the pending consent and send its SMS; returns what happened
    (``sent``, ``cooldown``, ``active``) for logs and metrics, never for the answer."""
    check_number_budgets(tenant, form.phone, clock.now())
    hashes = keys.subject_hashes(tenant.id, form.phone.e164)
    cooldown_key = _number_key(tenant, form.phone)
    last_sms = store.last_sms_at(cooldown_key)
    source = public_source(form.source)
    for _ in range(_ATTEMPTS):
        now = clock.now()
        subject = store.load_subject(tenant.id, hashes) or store.new_subject(tenant.id, hashes[0], now)
        # The number is held only for open requests (none before, or only for such):
        # the retention job drops it again when they all expire unconfirmed.
        number_from_request = subject.phone is None or any(
            p.get("number_from_request") for p in consent.open_opt_ins(subject).values()
        )
        token = keys.new_token()
        token_sha = keys.token_hash(token)
        request = consent.OptInRequest(
            purposes=form.purposes,
            channel=form.channel,
            text=form.text,
            language=form.language,
            source=source,
            country=form.phone.region,
        )
        decision = consent.request_opt_in(subject, tenant, request, token_sha, now)
        if decision.action == "none":
            return "active"
        if decision.action == "cooldown" and not decision.purposes:
            return "cooldown"  # nothing the open opt-in covers: nothing to change or record
        if (
            decision.action == "send"
            and last_sms
            and now < last_sms + timedelta(minutes=tenant.resend_cooldown_minutes)
        ):
            # A link went out minutes ago (its opt-in since closed by a STOP or confirmed):
            # no second SMS yet, the same answer.
            return "cooldown"
        opened = (subject.pending or {}).get(form.channel)
        if number_from_request and opened is not None:
            opened["number_from_request"] = True  # gone again if this request expires
        subject.phone, subject.region = form.phone.e164, form.phone.region
        event = evidence.append(
            subject,
            "optin_requested" if decision.action == "send" else "optin_repeated",
            now,
            {
                "purposes": decision.purposes,
                "channel": form.channel,
                "consent_text": form.text,
                "language": form.language,
                "source": source,
                "country": form.phone.region,
                "via": via,
                "token_sha256": consent.pending_token(subject, form.channel),
            },
            pii={
                "ip": ip,
                "user_agent": user_agent[:_MAX_TEXT],
                "source": form.source if form.source != source else None,
            },
        )
        keep_token = now + timedelta(hours=tenant.token_ttl_hours, days=30)
        change = store.Change(
            subject,
            [event],
            token=(token_sha, now, keep_token) if decision.action == "send" else None,
            due=consent.next_due(subject, tenant),
        )
        try:
            store.commit(change, now)
        except store.Conflict:
            continue  # someone else changed the subject: decide again on what is there now
        if decision.action == "cooldown":
            return "cooldown"
        if _send_confirmation(tenant, subject, form, decision.purposes, token, token_sha):
            try:
                store.set_last_sms(
                    cooldown_key, clock.now(), timedelta(minutes=tenant.resend_cooldown_minutes, days=1)
                )
            except store.StoreUnavailable as exc:  # the SMS is out: answer as sent (see below)
                logger.warning("resend cooldown not recorded", extra={"error": str(exc)})
        return "sent"
    raise ApiError(
        503, "busy", "the number is being changed by another request; retry", None, {"Retry-After": "1"}
    )


def _send_confirmation(
    tenant: Tenant, subject: store.Subject, form: SignupForm, purposes: list[str], token: str, token_sha: str
) -> bool:
    """Send (or queue) the confirmation SMS; False when the provider refused the number
    because it opted out there."""
    body = messages.confirmation(tenant, purposes, form.language, tenant.link(f"/c/{token}"), form.channel)
    message = sender.SmsMessage(
        to=form.phone.e164,
        body=body,
        tenant=tenant.id,
        kind="confirmation",
        origination_identity=tenant.sms_origination_identity,
        configuration_set=tenant.sms_configuration_set,
    )
    try:
        message_id = sender.deliver(message)
    except sender.SendError as exc:
        if exc.opted_out:
            # The provider says this number opted out with it: honour that here too, and
            # answer as for any signup.
            optout.provider_opted_out(tenant, form.phone.e164, str(exc))
            return False
        # Neither sent nor queued: the pending consent stays without "sms_at", so the
        # caller's retry opens a new token and sends again; nothing is lost.
        logger.warning("confirmation SMS failed", extra={"to": mask(form.phone.e164), "error": str(exc)})
        raise ApiError(
            503,
            "sms_unavailable",
            "the confirmation SMS could not be sent; retry",
            None,
            {"Retry-After": "30"},
        ) from exc
    try:
        store.mark_sms_sent(subject, form.channel, token_sha, clock.now())
    except store.StoreUnavailable as exc:
        # The SMS went out and its link works; a 503 now would make the caller retry and
        # send a second SMS whose new link voids this one. Only a YES reply to this SMS
        # goes unrecognised (nothing records that it went out).
        logger.warning("confirmation SMS sent but not recorded as sent", extra={"error": str(exc)})
    metrics.count("ConfirmationSmsSent", country=form.phone.region)
    logger.info("confirmation SMS sent", extra={"to": mask(form.phone.e164), "message_id": message_id})
    return True
