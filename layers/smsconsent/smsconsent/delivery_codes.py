"""What a provider's delivery error says about the recipient (pure): ``opted_out`` (the
recipient opted out at the provider), ``unreachable`` (no such number, not a mobile, a
landline: permanent), or ``none`` (temporary, the sender's or account's problem, or
ambiguous). Codes are keyed by provider: the same number means different things at
different providers. Anything not listed is ``none``: a code we do not know never changes
consent.

Sources, checked 2026-12 (the provider's error reference unless said otherwise):
- Twilio: twilio.com/docs/api/errors/<code>.
- Telnyx: developers.telnyx.com/docs/messaging/messages/error-codes.
- AWS End User Messaging SMS: the botocore model of pinpoint-sms-voice-v2
  (``ConflictExceptionReason``, ``EventType``) and docs.aws.amazon.com/sms-voice/latest/
  userguide/configuration-sets-event-types.html.
- Plivo: plivo.com/docs/messaging/troubleshooting/error-codes.
- Vonage: developer.vonage.com/messaging/sms/guides/delivery-receipts and
  developer.vonage.com/en/opt-out-assist/guides/messaging-opted-out-numbers.
- Bird: docs.bird.com/api/channels-api/message-status-and-interactions/message-failure-codes.
- Sinch and CM.com publish no recipient opt-out or invalid-number code we could confirm:
  their reports change nothing until one is sourced.
"""

from __future__ import annotations

OPTED_OUT = "opted_out"
UNREACHABLE = "unreachable"
NONE = "none"

CODES: dict[str, dict[str, str]] = {
    "twilio": {
        "21610": OPTED_OUT,  # attempt to send to an unsubscribed recipient (replied STOP)
        "21614": UNREACHABLE,  # 'To' is not a valid mobile number
        "21635": UNREACHABLE,  # 'To' cannot be a landline
        "21211": UNREACHABLE,  # invalid 'To' phone number
        "30005": UNREACHABLE,  # unknown destination handset: the number may no longer exist
        # 30006 "landline or unreachable carrier" is also a short code's own routing
        # problem; 30004 "message blocked" mixes a toll-free STOP with carrier blocks and
        # do-not-call lists; 30003, 30007, 30008, 30410, 21612, 21408, 30032, 30034: the
        # handset now, the carrier or the sender's setup. All of them: none.
    },
    "telnyx": {
        "40300": OPTED_OUT,  # blocked due to a STOP message (a block rule from -> to)
        "40001": UNREACHABLE,  # not routable: a landline or non-routable wireless number
        "40012": UNREACHABLE,  # invalid messaging destination number (the carrier says so)
        "40310": UNREACHABLE,  # invalid 'to' address
        # 40311 is the messaging profile's secret, 40002/40003/40015 spam, 40008 "undeliverable":
        # the sender's or ambiguous. None.
    },
    "aws": {
        # SendTextMessage's ConflictException: the number is on the opt-out list.
        "DESTINATION_PHONE_NUMBER_OPTED_OUT": OPTED_OUT,
        "TEXT_INVALID": UNREACHABLE,  # event: the destination number is not valid
        # TEXT_UNREACHABLE (device off), TEXT_CARRIER_UNREACHABLE, TEXT_BLOCKED (ambiguous),
        # TEXT_SPAM, TEXT_TTL_EXPIRED, TEXT_UNKNOWN: none.
    },
    "plivo": {
        "200": OPTED_OUT,  # source number blocked by STOP from the destination
        "50": UNREACHABLE,  # invalid destination: wrong format, not SMS-enabled, a landline
        "70": UNREACHABLE,  # destination permanently unavailable
    },
    "vonage": {
        # err-code 9 is "illegal number" in the general receipt table but "opted out" for
        # senders under Vonage's opt-out handling: ambiguous, so none.
        "3": UNREACHABLE,  # absent subscriber, permanent: the number is no longer active
    },
    "bird": {
        "15005": UNREACHABLE,  # unknown subscriber: no active line behind the number
    },
    "sinch": {},
    "cm": {},
}

PROVIDERS: tuple[str, ...] = tuple(sorted(CODES))


def classify(provider: str, error_code: str | None) -> str:
    """``opted_out``, ``unreachable`` or ``none`` for a failed message's error code."""
    if not error_code:
        return NONE
    return CODES.get(provider, {}).get(error_code.strip(), NONE)
