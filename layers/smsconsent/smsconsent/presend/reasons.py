"""The reasons a pre-send answer gives, in the order the rules are checked."""

from __future__ import annotations

OK = "ok"
INVALID_PHONE = "invalid_phone"
COUNTRY_NOT_ALLOWED = "country_not_allowed"
NO_CONSENT = "no_consent"
PENDING = "pending"
OPTED_OUT = "opted_out"
LAPSED = "lapsed"
UNREACHABLE = "unreachable"  # a provider said the number does not exist or takes no SMS
# The tenant's AWS opt-out list still holds the number although it consented here since
# (AWS deletes a number at most once per 30 days): AWS would drop the message.
PROVIDER_OPTED_OUT = "provider_opted_out"
QUIET_HOURS = "quiet_hours"
FREQUENCY_CAP = "frequency_cap"
REASONS = (
    OK,
    INVALID_PHONE,
    COUNTRY_NOT_ALLOWED,
    NO_CONSENT,
    PENDING,
    OPTED_OUT,
    LAPSED,
    UNREACHABLE,
    PROVIDER_OPTED_OUT,
    QUIET_HOURS,
    FREQUENCY_CAP,
)
