"""Every key a tenant document may hold, by level: anything else is refused (a misspelt
"quiet_hour" would otherwise leave the rule silently off). docs/tenant-settings.md lists
them (a test keeps it so)."""

from __future__ import annotations

TENANT_KEYS = frozenset(
    {
        "id", "name", "default_country", "allowed_countries", "languages", "purposes",
        "consent_texts", "current_consent_text", "public_base_url", "min_age", "double_opt_in",
        "lapse_after_days", "evidence_retention_days", "quiet_hours", "frequency_cap",
        "optout_shortcodes", "stop_scope", "thank_you_url", "error_url", "controller", "cors_origins",
        "rate_limits", "providers", "sms", "inbound_numbers", "keywords", "help_text", "message_frequency",
        "sending_rules",
        "optout_alarm",
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
SENDING_RULES_KEYS = frozenset({"waive"})
OPTOUT_ALARM_KEYS = frozenset({"percent", "min_sends"})
SMS_KEYS = frozenset({"origination_identity", "configuration_set", "opt_out_list"})
KEYWORD_KINDS = ("optout", "optin", "help")
KEYWORDS_KEYS = frozenset(KEYWORD_KINDS)
PURPOSE_KEYS = frozenset({"category", "description", "default"})  # purposes.<name>
CONSENT_TEXT_KEYS = frozenset({"versions"})  # consent_texts.<id>

# The providers, and what each provider module reads from providers.<name> (webhook_url:
# the URL it signs, when a proxy changes it); the secret ones are secret references. The
# one list of providers: ``smsconsent.providers.NAMES`` is read from here.
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
