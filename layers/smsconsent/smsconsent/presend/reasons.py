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
    QUIET_HOURS,
    FREQUENCY_CAP,
)
