"""Tenant settings: a validated model, loaded from the table and cached in the function.

A tenant document is JSON (see ``local/tenants/demo.json``). ``Tenant.from_dict``
checks all of it and raises ``TenantError`` naming the first field at fault, so a
broken tenant is refused whole, never half-applied. Hand-written rather than pydantic:
the check runs once per cache period and pydantic would add ~100 ms to every cold start.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

SLUG = re.compile(r"[a-z0-9-]{2,40}\Z")  # use with .match: anchored at both ends
_PURPOSE = re.compile(r"^[a-z0-9_-]{1,40}$")
_LANG = re.compile(r"^[a-z]{2}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
CHANNELS = ("sms", "whatsapp")
CATEGORIES = ("marketing", "transactional")

# Every key a tenant document may hold, by level: anything else is refused (a misspelt
# "quiet_hour" would otherwise leave the rule silently off). Docs list these.
TENANT_KEYS = frozenset(
    {
        "id", "name", "default_country", "allowed_countries", "languages", "purposes",
        "consent_texts", "current_consent_text", "public_base_url", "min_age", "double_opt_in",
        "lapse_after_days", "evidence_retention_days", "quiet_hours", "frequency_cap",
        "optout_shortcodes", "stop_scope", "thank_you_url", "cors_origins", "rate_limits",
        "providers", "sms", "inbound_numbers", "keywords", "help_text", "message_frequency",
    }
)  # fmt: skip
DOUBLE_OPT_IN_KEYS = frozenset({"token_ttl_hours", "resend_cooldown_minutes", "confirm_by_reply"})
RATE_LIMITS_KEYS = frozenset(
    {
        "signups_per_ip_per_hour",
        "sms_per_number_per_day",
        "sms_per_prefix_per_hour",
        "sms_per_country_per_hour",
    }
)
QUIET_HOURS_KEYS = frozenset({"start", "end"})
FREQUENCY_CAP_KEYS = frozenset({"max", "days"})
SMS_KEYS = frozenset({"origination_identity", "configuration_set"})
KEYWORDS_KEYS = frozenset({"optout", "optin", "help"})
PURPOSE_KEYS = frozenset({"category", "description", "default"})  # purposes.<name>
CONSENT_TEXT_KEYS = frozenset({"versions"})  # consent_texts.<id>
# What each provider module reads from providers.<name> (webhook_url: the URL it signs,
# when a proxy changes it); the secret ones are secret references.
SECRET_KEYS = frozenset({"auth_token", "signature_secret", "signing_key", "public_key", "webhook_secret"})
PROVIDER_KEYS: dict[str, frozenset[str]] = {
    "twilio": frozenset({"auth_token", "webhook_url"}),
    "vonage": frozenset(
        {"signature_secret", "signature_method", "timestamp_tolerance_seconds", "webhook_url"}
    ),
    "plivo": frozenset({"auth_token", "webhook_url"}),
    "telnyx": frozenset({"public_key", "timestamp_tolerance_seconds", "webhook_url"}),
    "bird": frozenset({"signing_key", "signature_max_age_seconds", "webhook_url"}),
    "sinch": frozenset({"webhook_secret", "signature_secret", "signature_max_age_seconds", "webhook_url"}),
    "cm": frozenset({"webhook_secret", "webhook_url"}),
}
PROVIDERS = tuple(PROVIDER_KEYS)


class TenantError(ValueError):
    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


@dataclass(frozen=True)
class Purpose:
    name: str
    category: str
    description: dict[str, str]


@dataclass(frozen=True)
class ConsentText:
    id: str
    version: str
    wording: dict[str, str]  # language -> the exact text shown

    def sha256(self, language: str) -> str:
        return hashlib.sha256(self.wording[language].encode()).hexdigest()


@dataclass(frozen=True)
class SecretRef:
    """Where a secret lives: ``{"value": ...}`` (local only), ``{"secret": arn-or-name}``
    (Secrets Manager) or ``{"ssm": name}`` (SSM SecureString)."""

    kind: str
    ref: str

    def resolve(self) -> str:
        if self.kind == "value":
            return self.ref
        from smsconsent import aws  # lazy: only AWS reads secrets

        if self.kind == "secret":
            return aws.secret(self.ref, max_age=300)
        return aws.ssm_parameter(self.ref, max_age=300)


@dataclass(frozen=True)
class Tenant:
    id: str
    name: str
    default_country: str
    allowed_countries: frozenset[str]
    languages: tuple[str, ...]
    purposes: dict[str, Purpose]
    default_purposes: tuple[str, ...]
    consent_texts: dict[str, dict[str, ConsentText]]  # id -> version -> text
    current_consent_text: tuple[str, str]  # (id, version)
    public_base_url: str
    min_age: int | None = None
    token_ttl_hours: int = 48
    resend_cooldown_minutes: int = 10
    confirm_by_reply: bool = False
    lapse_after_days: int = 540
    evidence_retention_days: int = 1461
    quiet_hours: tuple[str, str] | None = None
    frequency_cap: tuple[int, int] | None = None  # (max sends, days)
    optout_shortcodes: dict[str, str] = field(default_factory=dict)
    stop_scope: str = "marketing"
    thank_you_url: str | None = None
    cors_origins: tuple[str, ...] = ()
    signups_per_ip_per_hour: int = 10
    sms_per_number_per_day: int = 3
    sms_per_prefix_per_hour: int = 20
    sms_per_country_per_hour: dict[str, int] = field(default_factory=lambda: {"default": 1000})
    providers: dict[str, dict[str, Any]] = field(default_factory=dict)
    sms_origination_identity: str | None = None
    sms_configuration_set: str | None = None
    inbound_numbers: tuple[str, ...] = ()
    keywords: dict[str, tuple[str, ...]] = field(default_factory=dict)
    help_text: dict[str, str] = field(default_factory=dict)
    message_frequency: dict[str, str] = field(default_factory=dict)

    @property
    def default_language(self) -> str:
        return self.languages[0]

    def language(self, wanted: str | None) -> str:
        """The first language of ``wanted`` (a code like ``de-AT`` or a whole Accept-Language
        header, in order of preference) that the tenant speaks, else its default."""
        for part in (wanted or "").split(","):
            short = part.split(";", 1)[0].strip().lower()[:2]
            if short in self.languages:
                return short
        return self.default_language

    def marketing_purposes(self) -> list[str]:
        return [p.name for p in self.purposes.values() if p.category == "marketing"]

    def consent_text(self, ref: str | None) -> ConsentText | None:
        """``id`` (its current version, or the tenant's current text when empty) or ``id:version``."""
        if not ref:
            text_id, version = self.current_consent_text
            return self.consent_texts[text_id][version]
        text_id, _, version = ref.partition(":")
        versions = self.consent_texts.get(text_id)
        if versions is None:
            return None
        if not version:
            version = max(versions, key=_version_key)
        return versions.get(version)

    def link(self, path: str) -> str:
        return self.public_base_url.rstrip("/") + path

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any], *, plain_secrets: bool | None = None) -> Tenant:
        """``plain_secrets``: whether ``{"value": ...}`` secrets are accepted; None asks the
        process's settings (only the local stack and the tests allow them)."""
        if plain_secrets is None:
            from smsconsent import settings

            plain_secrets = settings.get().allow_plain_secrets
        return _parse(doc, plain_secrets)


def _version_key(version: str) -> tuple[int, str]:
    return (int(version), "") if version.isascii() and version.isdigit() else (-1, version)


# ---- validation -------------------------------------------------------------------


def _req(doc: Mapping[str, Any], key: str, kind: type | tuple[type, ...], path: str = "") -> Any:
    if key not in doc:
        raise TenantError(path + key, "is required")
    return _typed(doc[key], kind, path + key)


def _opt(
    doc: Mapping[str, Any], key: str, kind: type | tuple[type, ...], default: Any, path: str = ""
) -> Any:
    if doc.get(key) is None:
        return default
    return _typed(doc[key], kind, path + key)


def _typed(value: Any, kind: type | tuple[type, ...], path: str) -> Any:
    # bool is an int in Python; a tenant file saying "min_age": true is a mistake.
    if isinstance(value, bool) and kind is int:
        raise TenantError(path, "must be an integer")
    if not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise TenantError(path, f"must be {names}")
    return value


def _positive(value: int, path: str, upper: int) -> int:
    if not 0 < value <= upper:
        raise TenantError(path, f"must be between 1 and {upper}")
    return value


def _bounded(doc: Mapping[str, Any], key: str, default: int, upper: int, prefix: str = "") -> int:
    return _positive(_opt(doc, key, int, default, prefix), prefix + key, upper)


def _country_budgets(limits: Mapping[str, Any]) -> dict[str, int]:
    """``{"default": n, "DE": m, ...}`` or one number for every country."""
    path = "rate_limits.sms_per_country_per_hour"
    value = _opt(limits, "sms_per_country_per_hour", (int, dict), 1000, "rate_limits.")
    if isinstance(value, int):
        value = {"default": value}
    budgets = {}
    for country, budget in value.items():
        if country != "default" and not _COUNTRY.match(country):
            raise TenantError(f"{path}.{country}", "keys must be 'default' or ISO 3166 alpha-2 codes")
        budgets[country] = _positive(_typed(budget, int, f"{path}.{country}"), f"{path}.{country}", 10**7)
    budgets.setdefault("default", 1000)
    return budgets


def _texts(value: Any, path: str, languages: tuple[str, ...], required: bool = True) -> dict[str, str]:
    """A text per language: a plain string applies to all languages."""
    if isinstance(value, str):
        return {lang: value for lang in languages}
    value = _typed(value, dict, path)
    out = {}
    for lang in languages:
        text = value.get(lang)
        if text is None and required:
            raise TenantError(f"{path}.{lang}", "is required for every tenant language")
        if text is not None:
            out[lang] = _typed(text, str, f"{path}.{lang}")
    return out


def _known(doc: Mapping[str, Any], known: frozenset[str], prefix: str = "") -> None:
    """Refuse a key ``known`` does not hold, naming it and its close match if any."""
    for key in doc:
        if key not in known:
            close = difflib.get_close_matches(str(key), sorted(known), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(sorted(known))}"
            raise TenantError(f"{prefix}{key or repr(key)}", f"unknown key{hint}")


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(value: Any, path: str) -> str:
    """A CORS origin as browsers send it: ``scheme://host[:port]``, lower case, no default
    port, no trailing slash. One with a path, query, fragment or user is refused."""
    value = _typed(value, str, path)
    if value == "*":
        return value
    _url(value, path)
    parts = urlsplit(value)
    try:
        port = parts.port
    except ValueError as exc:
        raise TenantError(path, f"{value!r} has an invalid port") from exc
    if parts.path not in ("", "/") or parts.query or parts.fragment or "?" in value or "#" in value:
        raise TenantError(
            path, f"{value!r} must be an origin (scheme://host[:port]), with no path, query or fragment"
        )
    if parts.username is not None or parts.password is not None:
        raise TenantError(path, f"{value!r} must be an origin, with no user or password")
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"  # an IPv6 literal
    return f"{scheme}://{host}" + (f":{port}" if port is not None and port != _DEFAULT_PORTS[scheme] else "")


def _url(value: str, path: str) -> str:
    try:
        parts = urlsplit(value)
    except ValueError as exc:  # e.g. a broken IPv6 literal
        raise TenantError(path, "is not a valid URL") from exc
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise TenantError(path, "must be an absolute http(s) URL")
    return value


def _secret(value: Any, path: str, plain: bool) -> SecretRef:
    value = _typed(value, (str, dict), path)
    if isinstance(value, str):
        # A bare string is read as a reference, never as a secret in plain text.
        if value.startswith("arn:aws:secretsmanager:"):
            return SecretRef("secret", value)
        if value.startswith("ssm:"):
            return SecretRef("ssm", value[4:])
        raise TenantError(path, "must be {'value'|'secret'|'ssm': ...}, an ARN or 'ssm:/name'")
    if len(value) != 1 or next(iter(value)) not in ("value", "secret", "ssm"):
        raise TenantError(path, "must have exactly one of 'value', 'secret', 'ssm'")
    kind, ref = next(iter(value.items()))
    if kind == "value" and not plain:
        raise TenantError(
            path,
            "plain-text secrets ({'value': ...}) are for the local stack only; "
            "use {'secret': ARN} or {'ssm': name}",
        )
    return SecretRef(kind, _typed(ref, str, f"{path}.{kind}"))


# The tenant's own numbers, where its inbound SMS arrive: a phone number in E.164
# ("+4915790000000"), or a short code as its country and digits ("FR:36111"): a short code
# is only unique within a country, and providers write it without one ("36111").
# Syntax only: phonenumbers is not loaded here (every function parses tenants).
_E164 = re.compile(r"\+[1-9][0-9]{6,14}\Z")
_SHORT_CODE = re.compile(r"[A-Z]{2}:[0-9]{3,8}\Z")


def _inbound_numbers(values: list[Any]) -> tuple[str, ...]:
    for i, value in enumerate(values):
        if not isinstance(value, str) or not (_E164.match(value) or _SHORT_CODE.match(value)):
            raise TenantError(
                f"inbound_numbers[{i}]", "must be E.164 ('+4915790000000') or a short code ('FR:36111')"
            )
    if len(set(values)) != len(values):
        raise TenantError("inbound_numbers", "must not name a number twice")
    return tuple(values)


def _parse(doc: Mapping[str, Any], plain_secrets: bool) -> Tenant:
    doc = _typed(doc, dict, "tenant")
    _known(doc, TENANT_KEYS)
    tenant_id = _req(doc, "id", str)
    if not SLUG.match(tenant_id):
        raise TenantError("id", "must match [a-z0-9-]{2,40}")
    name = _req(doc, "name", str).strip()
    if not 1 <= len(name) <= 40:
        raise TenantError("name", "must be 1 to 40 characters (it is shown in every SMS)")

    languages = tuple(_req(doc, "languages", list))
    if not languages or any(not isinstance(x, str) or not _LANG.match(x) for x in languages):
        raise TenantError("languages", "must be a non-empty list of two-letter codes")

    default_country = _req(doc, "default_country", str)
    allowed = _req(doc, "allowed_countries", list)
    for i, country in enumerate([default_country, *allowed]):
        if not isinstance(country, str) or not _COUNTRY.match(country):
            raise TenantError(
                "allowed_countries" if i else "default_country", "must be ISO 3166 alpha-2 codes"
            )

    purposes: dict[str, Purpose] = {}
    defaults: list[str] = []
    for pname, spec in _req(doc, "purposes", dict).items():
        path = f"purposes.{pname}"
        if not _PURPOSE.match(pname):
            raise TenantError(path, "names must match [a-z0-9_-]{1,40}")
        spec = _typed(spec, dict, path)
        _known(spec, PURPOSE_KEYS, path + ".")
        category = _req(spec, "category", str, path + ".")
        if category not in CATEGORIES:
            raise TenantError(path + ".category", f"must be one of {', '.join(CATEGORIES)}")
        description = _texts(
            _req(spec, "description", (str, dict), path + "."), path + ".description", languages
        )
        purposes[pname] = Purpose(pname, category, description)
        if _opt(spec, "default", bool, False, path + "."):
            defaults.append(pname)
    if not purposes:
        raise TenantError("purposes", "must name at least one purpose")
    if not defaults:
        defaults = [p.name for p in purposes.values() if p.category == "marketing"][:1]

    texts: dict[str, dict[str, ConsentText]] = {}
    for text_id, spec in _req(doc, "consent_texts", dict).items():
        path = f"consent_texts.{text_id}"
        if ":" in text_id or not text_id:
            raise TenantError(path, "ids must be non-empty and contain no ':'")
        _known(_typed(spec, dict, path), CONSENT_TEXT_KEYS, path + ".")
        versions = _req(spec, "versions", dict, path + ".")
        if not versions:
            raise TenantError(path + ".versions", "must hold at least one version")
        texts[text_id] = {
            str(v): ConsentText(text_id, str(v), _texts(w, f"{path}.versions.{v}", languages))
            for v, w in versions.items()
        }
    if not texts:
        raise TenantError("consent_texts", "must hold at least one consent text")
    current_ref = _req(doc, "current_consent_text", str)
    current_id, _, current_version = current_ref.partition(":")
    if current_id not in texts:
        raise TenantError("current_consent_text", "names no consent text")
    current_version = current_version or max(texts[current_id], key=_version_key)
    if current_version not in texts[current_id]:
        raise TenantError("current_consent_text", "names no version of that text")

    doi = _opt(doc, "double_opt_in", dict, {})
    _known(doi, DOUBLE_OPT_IN_KEYS, "double_opt_in.")
    quiet = _opt(doc, "quiet_hours", dict, None)
    if quiet is not None:
        _known(quiet, QUIET_HOURS_KEYS, "quiet_hours.")
        start, end = _req(quiet, "start", str, "quiet_hours."), _req(quiet, "end", str, "quiet_hours.")
        if not _HHMM.match(start) or not _HHMM.match(end) or start == end:
            raise TenantError("quiet_hours", "start and end must be different HH:MM times")
        quiet = (start, end)
    cap = _opt(doc, "frequency_cap", dict, None)
    if cap is not None:
        _known(cap, FREQUENCY_CAP_KEYS, "frequency_cap.")
        cap = (
            _positive(_req(cap, "max", int, "frequency_cap."), "frequency_cap.max", 1000),
            _positive(_req(cap, "days", int, "frequency_cap."), "frequency_cap.days", 366),
        )
    shortcodes = _opt(doc, "optout_shortcodes", dict, {})
    for country, code in shortcodes.items():
        if not _COUNTRY.match(country) or not isinstance(code, str) or not code.isdigit():
            raise TenantError(
                f"optout_shortcodes.{country}", "must map a country code to a numeric shortcode"
            )
    stop_scope = _opt(doc, "stop_scope", str, "marketing")
    if stop_scope not in ("marketing", "all"):
        raise TenantError("stop_scope", "must be 'marketing' or 'all'")
    min_age = _opt(doc, "min_age", int, None)
    if min_age is not None and not 1 <= min_age <= 25:
        raise TenantError("min_age", "must be between 1 and 25")
    limits = _opt(doc, "rate_limits", dict, {})
    _known(limits, RATE_LIMITS_KEYS, "rate_limits.")
    cors = tuple(dict.fromkeys(_origin(o, "cors_origins") for o in _opt(doc, "cors_origins", list, [])))

    providers: dict[str, dict[str, Any]] = {}
    for pname, spec in _opt(doc, "providers", dict, {}).items():
        if pname not in PROVIDERS:
            raise TenantError(f"providers.{pname}", f"unknown provider; known: {', '.join(PROVIDERS)}")
        spec = _typed(spec, dict, f"providers.{pname}")
        _known(spec, PROVIDER_KEYS[pname], f"providers.{pname}.")
        conf: dict[str, Any] = {}
        for key, value in spec.items():
            path = f"providers.{pname}.{key}"
            if key in SECRET_KEYS:
                conf[key] = _secret(value, path, plain_secrets)
            elif key == "webhook_url":
                conf[key] = _url(_typed(value, str, path), path)
            else:
                conf[key] = _typed(value, (str, int, bool), path)
        providers[pname] = conf

    sms = _opt(doc, "sms", dict, {})
    _known(sms, SMS_KEYS, "sms.")
    keyword_doc = _opt(doc, "keywords", dict, {})
    _known(keyword_doc, KEYWORDS_KEYS, "keywords.")
    keywords = {
        kind: tuple(str(w) for w in _opt(keyword_doc, kind, list, [], "keywords."))
        for kind in ("optout", "optin", "help")
    }
    thank_you = _opt(doc, "thank_you_url", str, None)
    return Tenant(
        id=tenant_id,
        name=name,
        default_country=default_country,
        allowed_countries=frozenset([default_country, *allowed]),
        languages=languages,
        purposes=purposes,
        default_purposes=tuple(defaults),
        consent_texts=texts,
        current_consent_text=(current_id, current_version),
        public_base_url=_url(_req(doc, "public_base_url", str), "public_base_url"),
        min_age=min_age,
        token_ttl_hours=_bounded(doi, "token_ttl_hours", 48, 24 * 30, "double_opt_in."),
        resend_cooldown_minutes=_bounded(doi, "resend_cooldown_minutes", 10, 24 * 60, "double_opt_in."),
        confirm_by_reply=_opt(doi, "confirm_by_reply", bool, False, "double_opt_in."),
        lapse_after_days=_bounded(doc, "lapse_after_days", 540, 3650),
        evidence_retention_days=_bounded(doc, "evidence_retention_days", 1461, 3650),
        quiet_hours=quiet,
        frequency_cap=cap,
        optout_shortcodes=dict(shortcodes),
        stop_scope=stop_scope,
        thank_you_url=_url(thank_you, "thank_you_url") if thank_you else None,
        cors_origins=cors,
        signups_per_ip_per_hour=_bounded(limits, "signups_per_ip_per_hour", 10, 10**6, "rate_limits."),
        sms_per_number_per_day=_bounded(limits, "sms_per_number_per_day", 3, 100, "rate_limits."),
        sms_per_prefix_per_hour=_bounded(limits, "sms_per_prefix_per_hour", 20, 10**6, "rate_limits."),
        sms_per_country_per_hour=_country_budgets(limits),
        providers=providers,
        sms_origination_identity=_opt(sms, "origination_identity", str, None, "sms."),
        sms_configuration_set=_opt(sms, "configuration_set", str, None, "sms."),
        inbound_numbers=_inbound_numbers(_opt(doc, "inbound_numbers", list, [])),
        keywords=keywords,
        help_text=_texts(_opt(doc, "help_text", (str, dict), {}), "help_text", languages, required=False),
        message_frequency=_texts(
            _opt(doc, "message_frequency", (str, dict), {}), "message_frequency", languages, required=False
        ),
    )


# ---- loading ------------------------------------------------------------------------

_cache: dict[str, tuple[float, Tenant | None]] = {}
_CACHE_LIMIT = 1000


def get(tenant_id: str) -> Tenant | None:
    """The tenant, from the function's cache or the table; ``None`` when unknown.

    A stored document that fails validation raises ``TenantError``: refusing every
    request is better than applying half a configuration.
    """
    if not SLUG.match(tenant_id or ""):
        return None
    from smsconsent import settings, store

    hit = _cache.get(tenant_id)
    if hit and hit[0] > time.monotonic():
        return hit[1]
    doc = store.get_tenant_doc(tenant_id)
    tenant = Tenant.from_dict(doc) if doc is not None else None
    if len(_cache) >= _CACHE_LIMIT:
        _cache.clear()  # random unknown slugs must not grow a warm function's memory
    _cache[tenant_id] = (time.monotonic() + settings.get().tenant_cache_seconds, tenant)
    return tenant


def clear_cache() -> None:
    _cache.clear()
