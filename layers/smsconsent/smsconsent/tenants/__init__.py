"""Tenant settings: a validated model (``model``), the keys a document may hold
(``schema``), the parser (``parse``, built of ``fields``' checks) and loading with a
per-function cache (``loading``). Everything importers use is here. The parser is
imported on the first ``Tenant.from_dict``, not with the package."""

from smsconsent.tenants.loading import _cache, clear_cache, get
from smsconsent.tenants.model import (
    CATEGORIES,
    CHANNELS,
    SLUG,
    STOP_SCOPES,
    ConsentText,
    Purpose,
    SecretRef,
    Tenant,
    TenantError,
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

__all__ = [
    "CATEGORIES",
    "CHANNELS",
    "CONSENT_TEXT_KEYS",
    "DOUBLE_OPT_IN_KEYS",
    "FREQUENCY_CAP_KEYS",
    "KEYWORDS_KEYS",
    "KEYWORD_KINDS",
    "OPTOUT_ALARM_KEYS",
    "PROVIDERS",
    "PROVIDER_KEYS",
    "PURPOSE_KEYS",
    "QUIET_HOURS_KEYS",
    "RATE_LIMITS_KEYS",
    "SECRET_KEYS",
    "SENDING_RULES_KEYS",
    "SLUG",
    "SMS_KEYS",
    "STOP_SCOPES",
    "TENANT_KEYS",
    "ConsentText",
    "Purpose",
    "SecretRef",
    "Tenant",
    "TenantError",
    "_cache",
    "clear_cache",
    "get",
]
