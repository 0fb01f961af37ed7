"""A tenant document (JSON, see ``local/tenants/demo.json``) checked whole into a ``Tenant``,
one short function per section. The first field at fault raises ``TenantError`` naming
it, so a broken tenant is refused whole, never half-applied. Hand-written rather than
pydantic: the check runs once per cache period and pydantic would add ~100 ms to every
cold start. A setting left out takes the ``Tenant`` field's default (``default``)."""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Mapping
from typing import Any

from smsconsent.tenants.fields import known, opt, origin, positive, req, secret, section, texts, typed, url
from smsconsent.tenants.model import (
    CATEGORIES,
    SLUG,
    STOP_SCOPES,
    ConsentText,
    Purpose,
    Tenant,
    TenantError,
    version_key,
)
from smsconsent.tenants.schema import (
    CONSENT_TEXT_KEYS,
    DOUBLE_OPT_IN_KEYS,
    FREQUENCY_CAP_KEYS,
    KEYWORD_KINDS,
    KEYWORDS_KEYS,
    OPTOUT_ALARM_KEYS,
    PROVIDER_KEYS,
    PROVIDERS,
    PURPOSE_KEYS,
    QUIET_HOURS_KEYS,
    RATE_LIMITS_KEYS,
    SECRET_KEYS,
    SENDING_RULES_KEYS,
    SMS_KEYS,
    TENANT_KEYS,
)

_PURPOSE = re.compile(r"^[a-z0-9_-]{1,40}$")
_LANG = re.compile(r"^[a-z]{2}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")

_FIELDS = {f.name: f for f in dataclasses.fields(Tenant)}


def default(name: str) -> Any:
    """The default of the ``Tenant`` field ``name`` (a fresh one where it is mutable)."""
    spec = _FIELDS[name]
    factory = spec.default_factory
    return factory() if callable(factory) else spec.default


def bounded(doc: Mapping[str, Any], key: str, upper: int, prefix: str = "") -> int:
    """``doc[key]`` within 1..``upper``, else the default of the field of that name."""
    return positive(opt(doc, key, int, default(key), prefix), prefix + key, upper)


def parse(doc: Mapping[str, Any], plain_secrets: bool) -> Tenant:
    doc = typed(doc, dict, "tenant")
    known(doc, TENANT_KEYS)
    tenant_id, name = _identity(doc)
    languages = _languages(doc)
    default_country, allowed_countries = _countries(doc)
    purposes, default_purposes = _purposes(doc, languages)
    consent_texts = _consent_texts(doc, languages)
    current_consent_text = _current_consent_text(doc, consent_texts)
    token_ttl_hours, resend_cooldown_minutes, confirm_by_reply = _double_opt_in(doc)
    quiet_hours = _quiet_hours(doc)
    frequency_cap = _frequency_cap(doc)
    waived_rules = _waived_rules(doc)
    optout_shortcodes = _optout_shortcodes(doc)
    stop_scope = _stop_scope(doc)
    min_age = _min_age(doc)
    signups_per_ip, sms_per_number, sms_per_prefix, sms_per_country = _rate_limits(doc)
    cors_origins = _cors_origins(doc)
    providers = _providers(doc, plain_secrets)
    sms_origination_identity, sms_configuration_set, sms_opt_out_list = _sms(doc)
    keywords = _keywords(doc)
    thank_you_url = _thank_you_url(doc)
    error_url = _optional_url(doc, "error_url")
    controller = _controller(doc)
    optout_alarm_percent, optout_alarm_min_sends = _optout_alarm(doc)
    public_base_url: str = url(req(doc, "public_base_url", str), "public_base_url")
    return Tenant(
        id=tenant_id,
        name=name,
        default_country=default_country,
        allowed_countries=allowed_countries,
        languages=languages,
        purposes=purposes,
        default_purposes=default_purposes,
        consent_texts=consent_texts,
        current_consent_text=current_consent_text,
        public_base_url=public_base_url,
        min_age=min_age,
        token_ttl_hours=token_ttl_hours,
        resend_cooldown_minutes=resend_cooldown_minutes,
        confirm_by_reply=confirm_by_reply,
        lapse_after_days=bounded(doc, "lapse_after_days", 3650),
        evidence_retention_days=bounded(doc, "evidence_retention_days", 3650),
        quiet_hours=quiet_hours,
        frequency_cap=frequency_cap,
        waived_rules=waived_rules,
        optout_shortcodes=optout_shortcodes,
        stop_scope=stop_scope,
        thank_you_url=thank_you_url,
        error_url=error_url,
        controller=controller,
        cors_origins=cors_origins,
        signups_per_ip_per_hour=signups_per_ip,
        sms_per_number_per_day=sms_per_number,
        sms_per_prefix_per_hour=sms_per_prefix,
        sms_per_country_per_hour=sms_per_country,
        providers=providers,
        sms_origination_identity=sms_origination_identity,
        sms_configuration_set=sms_configuration_set,
        sms_opt_out_list=sms_opt_out_list,
        inbound_numbers=_inbound_numbers(doc),
        keywords=keywords,
        help_text=_optional_texts(doc, "help_text", languages),
        message_frequency=_optional_texts(doc, "message_frequency", languages),
        optout_alarm_percent=optout_alarm_percent,
        optout_alarm_min_sends=optout_alarm_min_sends,
    )


# ---- identity, countries, languages ------------------------------------------------------


def _identity(doc: Mapping[str, Any]) -> tuple[str, str]:
    tenant_id: str = req(doc, "id", str)
    if not SLUG.match(tenant_id):
        raise TenantError("id", "must match [a-z0-9-]{2,40}")
    name: str = req(doc, "name", str).strip()
    if not 1 <= len(name) <= 40:
        raise TenantError("name", "must be 1 to 40 characters (it is shown in every SMS)")
    return tenant_id, name


def _languages(doc: Mapping[str, Any]) -> tuple[str, ...]:
    languages = tuple(req(doc, "languages", list))
    if not languages or any(not isinstance(x, str) or not _LANG.match(x) for x in languages):
        raise TenantError("languages", "must be a non-empty list of two-letter codes")
    return languages


def _countries(doc: Mapping[str, Any]) -> tuple[str, frozenset[str]]:
    """The default country and the allowed ones (the default among them)."""
    default_country: str = req(doc, "default_country", str)
    allowed = [default_country, *req(doc, "allowed_countries", list)]
    for i, country in enumerate(allowed):
        if not isinstance(country, str) or not _COUNTRY.match(country):
            raise TenantError(
                "allowed_countries" if i else "default_country", "must be ISO 3166 alpha-2 codes"
            )
    return default_country, frozenset(allowed)


# ---- purposes and consent texts ----------------------------------------------------------


def _purposes(
    doc: Mapping[str, Any], languages: tuple[str, ...]
) -> tuple[dict[str, Purpose], tuple[str, ...]]:
    """The purposes, and those a signup that names none gets (the first marketing purpose
    when none is marked ``default``)."""
    purposes: dict[str, Purpose] = {}
    defaults: list[str] = []
    for name, spec in req(doc, "purposes", dict).items():
        purposes[name], is_default = _purpose(name, spec, languages)
        if is_default:
            defaults.append(name)
    if not purposes:
        raise TenantError("purposes", "must name at least one purpose")
    if not defaults:
        defaults = [p.name for p in purposes.values() if p.category == "marketing"][:1]
    return purposes, tuple(defaults)


def _purpose(name: str, spec: Any, languages: tuple[str, ...]) -> tuple[Purpose, bool]:
    path = f"purposes.{name}"
    if not _PURPOSE.match(name):
        raise TenantError(path, "names must match [a-z0-9_-]{1,40}")
    spec = typed(spec, dict, path)
    known(spec, PURPOSE_KEYS, path + ".")
    category = req(spec, "category", str, path + ".")
    if category not in CATEGORIES:
        raise TenantError(path + ".category", f"must be one of {', '.join(CATEGORIES)}")
    description = texts(req(spec, "description", (str, dict), path + "."), path + ".description", languages)
    is_default: bool = opt(spec, "default", bool, False, path + ".")
    return Purpose(name, category, description), is_default


def _consent_texts(doc: Mapping[str, Any], languages: tuple[str, ...]) -> dict[str, dict[str, ConsentText]]:
    """id -> version -> text."""
    out: dict[str, dict[str, ConsentText]] = {}
    for text_id, spec in req(doc, "consent_texts", dict).items():
        path = f"consent_texts.{text_id}"
        if ":" in text_id or not text_id:
            raise TenantError(path, "ids must be non-empty and contain no ':'")
        known(typed(spec, dict, path), CONSENT_TEXT_KEYS, path + ".")
        versions = req(spec, "versions", dict, path + ".")
        if not versions:
            raise TenantError(path + ".versions", "must hold at least one version")
        out[text_id] = {
            str(v): ConsentText(text_id, str(v), texts(w, f"{path}.versions.{v}", languages))
            for v, w in versions.items()
        }
    if not out:
        raise TenantError("consent_texts", "must hold at least one consent text")
    return out


def _current_consent_text(
    doc: Mapping[str, Any], consent_texts: Mapping[str, Mapping[str, ConsentText]]
) -> tuple[str, str]:
    """``id`` (its highest version) or ``id:version``, naming a text that exists."""
    current_id, _, version = req(doc, "current_consent_text", str).partition(":")
    if current_id not in consent_texts:
        raise TenantError("current_consent_text", "names no consent text")
    version = version or max(consent_texts[current_id], key=version_key)
    if version not in consent_texts[current_id]:
        raise TenantError("current_consent_text", "names no version of that text")
    return current_id, version


# ---- timing ------------------------------------------------------------------------------


def _double_opt_in(doc: Mapping[str, Any]) -> tuple[int, int, bool]:
    """(token_ttl_hours, resend_cooldown_minutes, confirm_by_reply)."""
    doi = section(doc, "double_opt_in", DOUBLE_OPT_IN_KEYS)
    prefix = "double_opt_in."
    confirm: bool = opt(doi, "confirm_by_reply", bool, default("confirm_by_reply"), prefix)
    return (
        bounded(doi, "token_ttl_hours", 24 * 30, prefix),
        bounded(doi, "resend_cooldown_minutes", 24 * 60, prefix),
        confirm,
    )


def _quiet_hours(doc: Mapping[str, Any]) -> tuple[str, str] | None:
    quiet = opt(doc, "quiet_hours", dict, None)
    if quiet is None:
        return None
    known(quiet, QUIET_HOURS_KEYS, "quiet_hours.")
    start, end = req(quiet, "start", str, "quiet_hours."), req(quiet, "end", str, "quiet_hours.")
    if not _HHMM.match(start) or not _HHMM.match(end) or start == end:
        raise TenantError("quiet_hours", "start and end must be different HH:MM times")
    return start, end


def _frequency_cap(doc: Mapping[str, Any]) -> tuple[int, int] | None:
    """(max sends, days)."""
    cap = opt(doc, "frequency_cap", dict, None)
    if cap is None:
        return None
    known(cap, FREQUENCY_CAP_KEYS, "frequency_cap.")
    return (
        positive(req(cap, "max", int, "frequency_cap."), "frequency_cap.max", 1000),
        positive(req(cap, "days", int, "frequency_cap."), "frequency_cap.days", 366),
    )


def _waived_rules(doc: Mapping[str, Any]) -> frozenset[str]:
    """The shipped sending rules the tenant does not apply: loosening the law's defaults is
    never implicit, so each is named by its id (and logged when the tenant is loaded)."""
    rules = section(doc, "sending_rules", SENDING_RULES_KEYS)
    waive: list[Any] = opt(rules, "waive", list, [], "sending_rules.")
    if not waive:
        return frozenset()
    from smsconsent import sending_rules  # the shipped data: read only when a tenant waives a rule

    known_ids = sending_rules.rule_ids()
    for i, rule_id in enumerate(waive):
        if not isinstance(rule_id, str) or rule_id not in known_ids:
            close = difflib.get_close_matches(str(rule_id), sorted(known_ids), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else "; see docs/sending-rules.md"
            raise TenantError(f"sending_rules.waive[{i}]", f"names no shipped sending rule{hint}")
    return frozenset(waive)


def _min_age(doc: Mapping[str, Any]) -> int | None:
    min_age: int | None = opt(doc, "min_age", int, default("min_age"))
    if min_age is not None and not 1 <= min_age <= 25:
        raise TenantError("min_age", "must be between 1 and 25")
    return min_age


# ---- opting out --------------------------------------------------------------------------


def _optout_shortcodes(doc: Mapping[str, Any]) -> dict[str, str]:
    shortcodes = opt(doc, "optout_shortcodes", dict, {})
    for country, code in shortcodes.items():
        if not _COUNTRY.match(country) or not isinstance(code, str) or not code.isdigit():
            raise TenantError(
                f"optout_shortcodes.{country}", "must map a country code to a numeric shortcode"
            )
    return dict(shortcodes)


def _optout_alarm(doc: Mapping[str, Any]) -> tuple[float, int]:
    """(percent, min_sends) of the campaign opt-out rate alarm."""
    alarm = section(doc, "optout_alarm", OPTOUT_ALARM_KEYS)
    percent = opt(alarm, "percent", (int, float), default("optout_alarm_percent"), "optout_alarm.")
    if isinstance(percent, bool) or not 0 < percent <= 100:
        raise TenantError("optout_alarm.percent", "must be a number above 0 and at most 100")
    min_sends = opt(alarm, "min_sends", int, default("optout_alarm_min_sends"), "optout_alarm.")
    return float(percent), positive(min_sends, "optout_alarm.min_sends", 10_000_000)


def _stop_scope(doc: Mapping[str, Any]) -> str:
    stop_scope: str = opt(doc, "stop_scope", str, default("stop_scope"))
    if stop_scope not in STOP_SCOPES:
        raise TenantError("stop_scope", f"must be {' or '.join(map(repr, STOP_SCOPES))}")
    return stop_scope


# ---- rate limits and web -----------------------------------------------------------------


def _rate_limits(doc: Mapping[str, Any]) -> tuple[int, int, int, dict[str, int]]:
    """(signups per IP per hour, SMS per number per day, per prefix per hour, per country)."""
    limits = section(doc, "rate_limits", RATE_LIMITS_KEYS)
    prefix = "rate_limits."
    return (
        bounded(limits, "signups_per_ip_per_hour", 10**6, prefix),
        bounded(limits, "sms_per_number_per_day", 100, prefix),
        bounded(limits, "sms_per_prefix_per_hour", 10**6, prefix),
        _country_budgets(limits),
    )


def _country_budgets(limits: Mapping[str, Any]) -> dict[str, int]:
    """``{"default": n, "DE": m, ...}`` or one number for every country."""
    path = "rate_limits.sms_per_country_per_hour"
    fallback: int = default("sms_per_country_per_hour")["default"]
    value = opt(limits, "sms_per_country_per_hour", (int, dict), fallback, "rate_limits.")
    if isinstance(value, int):
        value = {"default": value}
    budgets = {}
    for country, budget in value.items():
        if country != "default" and not _COUNTRY.match(country):
            raise TenantError(f"{path}.{country}", "keys must be 'default' or ISO 3166 alpha-2 codes")
        budgets[country] = positive(typed(budget, int, f"{path}.{country}"), f"{path}.{country}", 10**7)
    budgets.setdefault("default", fallback)
    return budgets


def _cors_origins(doc: Mapping[str, Any]) -> tuple[str, ...]:
    given = opt(doc, "cors_origins", list, default("cors_origins"))
    return tuple(dict.fromkeys(origin(o, "cors_origins") for o in given))


def _thank_you_url(doc: Mapping[str, Any]) -> str | None:
    return _optional_url(doc, "thank_you_url")


def _controller(doc: Mapping[str, Any]) -> str | None:
    given: str | None = opt(doc, "controller", str, default("controller"))
    if given is not None and not 1 <= len(given.strip()) <= 500:
        raise TenantError("controller", "must be 1 to 500 characters")
    return given.strip() if given else None


def _optional_url(doc: Mapping[str, Any], key: str) -> str | None:
    given: str | None = opt(doc, key, str, default(key))
    return url(given, key) if given else None


# ---- SMS providers, sending and keywords -------------------------------------------------


def _providers(doc: Mapping[str, Any], plain_secrets: bool) -> dict[str, dict[str, Any]]:
    return {
        name: _provider(name, spec, plain_secrets) for name, spec in opt(doc, "providers", dict, {}).items()
    }


def _provider(name: str, spec: Any, plain_secrets: bool) -> dict[str, Any]:
    """One provider's settings; the secret ones as ``SecretRef``."""
    if name not in PROVIDERS:
        raise TenantError(f"providers.{name}", f"unknown provider; known: {', '.join(PROVIDERS)}")
    spec = typed(spec, dict, f"providers.{name}")
    known(spec, PROVIDER_KEYS[name], f"providers.{name}.")
    conf: dict[str, Any] = {}
    for key, value in spec.items():
        path = f"providers.{name}.{key}"
        if key in SECRET_KEYS:
            conf[key] = secret(value, path, plain_secrets)
        elif key == "webhook_url":
            conf[key] = url(typed(value, str, path), path)
        else:
            conf[key] = typed(value, (str, int, bool), path)
    return conf


# AWS's OptOutListNameOrArn: a name, or an ARN for a list shared from another account.
_OPT_OUT_LIST = re.compile(r"[A-Za-z0-9_:/-]{1,256}\Z")


def _sms(doc: Mapping[str, Any]) -> tuple[str | None, str | None, str | None]:
    """(origination identity, configuration set, opt-out list)."""
    sms = section(doc, "sms", SMS_KEYS)
    identity: str | None = opt(sms, "origination_identity", str, default("sms_origination_identity"), "sms.")
    configuration_set: str | None = opt(
        sms, "configuration_set", str, default("sms_configuration_set"), "sms."
    )
    opt_out_list: str | None = opt(sms, "opt_out_list", str, None, "sms.")
    if opt_out_list is not None and not _OPT_OUT_LIST.match(opt_out_list):
        raise TenantError(
            "sms.opt_out_list", "must be an opt-out list's name or ARN (letters, digits, _ : / -)"
        )
    return identity, configuration_set, opt_out_list


# The tenant's own numbers, where its inbound SMS arrive: a phone number in E.164
# ("+4915790000000"), or a short code as its country and digits ("FR:36111"): a short code
# is only unique within a country, and providers write it without one ("36111").
# Syntax only: phonenumbers is not loaded here (every function parses tenants).
_E164 = re.compile(r"\+[1-9][0-9]{6,14}\Z")
_SHORT_CODE = re.compile(r"[A-Z]{2}:[0-9]{3,8}\Z")


def _inbound_numbers(doc: Mapping[str, Any]) -> tuple[str, ...]:
    values: list[Any] = opt(doc, "inbound_numbers", list, [])
    for i, value in enumerate(values):
        if not isinstance(value, str) or not (_E164.match(value) or _SHORT_CODE.match(value)):
            raise TenantError(
                f"inbound_numbers[{i}]", "must be E.164 ('+4915790000000') or a short code ('FR:36111')"
            )
    if len(set(values)) != len(values):
        raise TenantError("inbound_numbers", "must not name a number twice")
    return tuple(values)


def _keywords(doc: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    keyword_doc = section(doc, "keywords", KEYWORDS_KEYS)
    return {
        kind: tuple(str(w) for w in opt(keyword_doc, kind, list, [], "keywords.")) for kind in KEYWORD_KINDS
    }


def _optional_texts(doc: Mapping[str, Any], key: str, languages: tuple[str, ...]) -> dict[str, str]:
    """A text per language, or one for all; a language may go without."""
    return texts(opt(doc, key, (str, dict), {}), key, languages, required=False)
