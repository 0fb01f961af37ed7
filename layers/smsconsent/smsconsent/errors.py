"""The domain's refusals, without HTTP: what was refused and why, in terms a caller can act
on. Each kind names the codes it may carry (a ``Literal``, so mypy refuses a code nobody
documented); ``api.answer_for`` is the one table that turns a kind into an HTTP status
and headers, for the HTTP routes and the pre-send function's direct invocation alike."""

from __future__ import annotations

from typing import ClassVar, Literal, get_args

MalformedCode = Literal["malformed_event", "malformed_body", "malformed_request", "invalid_message_id"]
InvalidCode = Literal[
    "invalid_field",
    "invalid_phone",
    "not_mobile",
    "country_not_allowed",
    "consent_required",
    "age_confirmation_required",
    "unknown_purpose",
    "unknown_consent_text",
]
ForbiddenCode = Literal[
    "tenant_not_bound", "origin_not_allowed", "invalid_signature", "stale_timestamp", "unknown_recipient"
]
NotFoundCode = Literal["unknown_tenant", "unknown_provider", "unknown_webhook", "unknown_import"]
UnavailableCode = Literal["service_unavailable", "sms_unavailable"]


class Refusal(Exception):
    """A request not carried out: ``code`` for programs, ``message`` for people, ``field``
    the input at fault (None when no single one is), ``retry_after`` the seconds after
    which trying again may succeed (None: it will not)."""

    codes: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self, code: str, message: str, field: str | None = None, retry_after: int | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.retry_after = retry_after


class Malformed(Refusal):
    """The request cannot be read: not the event, body or host the route reads, or an id
    whose shape its sender never makes."""

    codes = get_args(MalformedCode)

    def __init__(self, code: MalformedCode, message: str, field: str | None = None) -> None:
        super().__init__(code, message, field)


class Invalid(Refusal):
    """A field was read and its value is refused (the field is named)."""

    codes = get_args(InvalidCode)

    def __init__(self, code: InvalidCode, message: str, field: str) -> None:
        super().__init__(code, message, field)


class Forbidden(Refusal):
    """The caller may not do this: a wrong signature, origin, alias or recipient."""

    codes = get_args(ForbiddenCode)

    def __init__(self, code: ForbiddenCode, message: str, field: str) -> None:
        super().__init__(code, message, field)


class NotFound(Refusal):
    """What the request names does not exist (a tenant, a provider of the tenant)."""

    codes = get_args(NotFoundCode)

    def __init__(self, code: NotFoundCode, message: str, field: str) -> None:
        super().__init__(code, message, field)


class MethodNotAllowed(Refusal):
    """The route does not take this method."""

    codes = ("method_not_allowed",)

    def __init__(self, message: str) -> None:
        super().__init__("method_not_allowed", message)


class TooLarge(Refusal):
    """The body is over the route's limit."""

    codes = ("body_too_large",)

    def __init__(self, message: str) -> None:
        super().__init__("body_too_large", message)


class UnsupportedMedia(Refusal):
    """The body comes in a content type the route does not read."""

    codes = ("unsupported_media_type",)

    def __init__(self, message: str, field: str = "content-type") -> None:
        super().__init__("unsupported_media_type", message, field)


class RateLimited(Refusal):
    """Over a budget until ``retry_after`` seconds from now."""

    codes = ("rate_limited",)

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__("rate_limited", message, None, retry_after)


class Busy(Refusal):
    """The record kept being changed by other requests while this one tried to change it;
    nothing was done, and trying again shortly will most likely succeed."""

    codes = ("busy",)

    def __init__(self, message: str, retry_after: int = 1) -> None:
        super().__init__("busy", message, None, retry_after)


class Unavailable(Refusal):
    """Something the request needs (the signup queue, the SMS provider) is not there now."""

    codes = get_args(UnavailableCode)

    def __init__(self, code: UnavailableCode, message: str, retry_after: int) -> None:
        super().__init__(code, message, None, retry_after)
