"""The tenant model. Each setting's default is written here, once, as the field's default:
the parser reads it from the dataclass (``parse.default``)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

SLUG = re.compile(r"[a-z0-9-]{2,40}\Z")  # use with .match: anchored at both ends
CHANNELS = ("sms", "whatsapp")
CATEGORIES = ("marketing", "transactional")
STOP_SCOPES = ("marketing", "all")


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
    # Shipped sending rules this tenant explicitly does not apply (sending_rules.waive).
    waived_rules: frozenset[str] = frozenset()
    optout_shortcodes: dict[str, str] = field(default_factory=dict)
    stop_scope: str = "marketing"
    thank_you_url: str | None = None
    # Where a refused browser form post is sent (303, with ?error=<code>), instead of the
    # hosted page that explains the refusal.
    error_url: str | None = None
    # Who is responsible for the data, as the access report names them (name, address,
    # contact); the tenant's name when not set.
    controller: str | None = None
    cors_origins: tuple[str, ...] = ()
    signups_per_ip_per_hour: int = 10
    sms_per_number_per_day: int = 3
    sms_per_prefix_per_hour: int = 20
    sms_per_country_per_hour: dict[str, int] = field(default_factory=lambda: {"default": 1000})
    providers: dict[str, dict[str, Any]] = field(default_factory=dict)
    sms_origination_identity: str | None = None
    sms_configuration_set: str | None = None
    # An AWS End User Messaging opt-out list kept in step with the opt-outs here (its name
    # or ARN): every opt-out is put on it, a daily reconciliation compares both ways.
    sms_opt_out_list: str | None = None
    inbound_numbers: tuple[str, ...] = ()
    keywords: dict[str, tuple[str, ...]] = field(default_factory=dict)
    help_text: dict[str, str] = field(default_factory=dict)
    message_frequency: dict[str, str] = field(default_factory=dict)
    # A campaign whose opt-outs pass this share of its sends (over 7 days, once it has
    # this many sends) raises the tenant's opt-out rate alarm (insights).
    optout_alarm_percent: float = 3.0
    optout_alarm_min_sends: int = 200

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
            version = max(versions, key=version_key)
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
        from smsconsent.tenants.parse import parse  # the parser builds this class

        return parse(doc, plain_secrets)


def version_key(version: str) -> tuple[int, str]:
    return (int(version), "") if version.isascii() and version.isdigit() else (-1, version)
