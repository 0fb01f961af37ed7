"""Signup fields: every refusal in the SPEC's order with its field, and what is accepted."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smsconsent import api, signup
from smsconsent.errors import Refusal
from smsconsent.http import ApiError
from smsconsent.tenants import Tenant

GOOD: dict[str, Any] = {"phone": "0151 12345678", "consent": True, "age_confirmed": True}


def _form(demo: Tenant, accept_language: str | None = None, **fields: Any) -> signup.SignupForm:
    return signup.parse_form(demo, {**GOOD, **fields}, accept_language)


def _refused(demo: Tenant, fields: dict[str, Any], accept_language: str | None = None) -> ApiError:
    with pytest.raises(Refusal) as refused:
        signup.parse_form(demo, fields, accept_language)
    error = api.answer_for(refused.value)
    assert error.status == 422
    return error


# ---- what is accepted ------------------------------------------------------------------------


def test_minimal_signup_uses_the_tenant_defaults(demo: Tenant) -> None:
    # Given only a national number, consent and age confirmation
    # When the fields are parsed for the demo tenant
    form = signup.parse_form(demo, dict(GOOD), None)
    # Then the number is E.164 in DE, with the default purpose, SMS, German and the current text
    assert form.phone.e164 == "+4915112345678"
    assert form.phone.region == "DE"
    assert form.purposes == ["marketing"]
    assert form.channel == "sms"
    assert form.language == "de"
    text = demo.consent_text(None)
    assert text is not None
    assert form.text == {
        "id": text.id,
        "version": text.version,
        "sha256": text.sha256("de"),
        "language": "de",
    }
    assert form.source is None


@pytest.mark.parametrize("value", [True, "true", "TRUE", "True", "on", "ON", "yes", "Yes", "1", 1, " true "])
def test_affirmative_consent_values(demo: Tenant, value: Any) -> None:
    # Given an affirmative consent value as forms and JSON send them
    # Then the signup is accepted
    assert _form(demo, consent=value).phone.e164 == "+4915112345678"
    assert signup.affirmative(value) is True


@pytest.mark.parametrize(
    ("purposes", "expected"),
    [
        (["marketing", "newsletter"], ["marketing", "newsletter"]),
        (["newsletter", "marketing"], ["marketing", "newsletter"]),
        ("marketing,newsletter", ["marketing", "newsletter"]),
        (" newsletter , marketing ", ["marketing", "newsletter"]),
        ("newsletter", ["newsletter"]),
        (["marketing,newsletter"], ["marketing", "newsletter"]),
        (["marketing", "marketing"], ["marketing"]),
        ("marketing,", ["marketing"]),
        ([], ["marketing"]),
        ("", ["marketing"]),
        (None, ["marketing"]),
    ],
)
def test_purposes_as_list_or_comma_separated(demo: Tenant, purposes: Any, expected: list[str]) -> None:
    # Given purposes as a list, a comma-separated string, or nothing (the tenant default)
    form = _form(demo, purposes=purposes)
    # Then they come out sorted and without repeats
    assert form.purposes == expected


@pytest.mark.parametrize(
    ("channel", "expected"),
    [("whatsapp", "whatsapp"), ("WhatsApp", "whatsapp"), ("sms", "sms"), ("", "sms"), (None, "sms")],
)
def test_channel(demo: Tenant, channel: Any, expected: str) -> None:
    # Given a channel (or none)
    # Then it is the named one, SMS by default
    assert _form(demo, channel=channel).channel == expected


@pytest.mark.parametrize("ref", ["signup-sms", "signup-sms:1", "signup-sms:", ""])
def test_consent_text_by_id_or_id_version(demo: Tenant, ref: str) -> None:
    # Given the id of the text shown, with or without its version
    form = _form(demo, consent_text=ref)
    # Then that text is recorded with the SHA-256 of its wording in the form's language
    assert (form.text["id"], form.text["version"]) == ("signup-sms", "1")
    assert form.text["sha256"] == demo.consent_text("signup-sms:1").sha256("de")  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("language", "accept_language", "expected"),
    [
        ("en", None, "en"),
        ("EN", "de-DE", "en"),  # the field wins over the header
        ("de", "en-US,en;q=0.9", "de"),
        (None, "en-US,en;q=0.9", "en"),
        ("", "en-GB", "en"),
        (None, "de-AT", "de"),
        (None, "fr-FR", "de"),  # not a tenant language: the default
        ("fr", "en", "de"),  # an unknown field value is not replaced by the header
        (None, None, "de"),
    ],
)
def test_language_from_field_or_accept_language(
    demo: Tenant, language: str | None, accept_language: str | None, expected: str
) -> None:
    # Given a language field and/or an Accept-Language header
    form = _form(demo, accept_language, language=language)
    # Then the form's language, and the consent text's hash, are in that language
    assert form.language == expected
    assert form.text["language"] == expected
    assert form.text["sha256"] == demo.consent_text(None).sha256(expected)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "source", ["https://shop.example/de/newsletter?utm=x", "Formular „Fußzeile“ 😀", "表单"]
)
def test_source_keeps_unicode_and_emoji(demo: Tenant, source: str) -> None:
    # Given a source with any Unicode
    # Then it is kept as sent (trimmed)
    assert _form(demo, source=f"  {source} ").source == source


def test_country_hint_places_national_numbers(demo: Tenant) -> None:
    # Given an Austrian national number with country AT (any case)
    form = _form(demo, phone="0664 123456", country="at")
    # Then it is the Austrian number
    assert (form.phone.e164, form.phone.region) == ("+43664123456", "AT")


def test_us_number_fixed_line_or_mobile_is_accepted(demo: Tenant) -> None:
    # Given a US number with the US hint
    form = _form(demo, phone="(212) 555-0123", country="US")
    # Then it is accepted (US is an allowed country; FIXED_LINE_OR_MOBILE can get SMS)
    assert form.phone.e164 == "+12125550123"


def test_phone_as_number_is_read_as_text(demo: Tenant) -> None:
    # Given a JSON number for the phone (international digits without +)
    form = _form(demo, phone=15112345678)
    # Then it is read with the default country
    assert form.phone.e164 == "+4915112345678"


def test_no_age_confirmation_needed_without_min_age(demo_doc: dict[str, Any]) -> None:
    # Given a tenant without min_age
    demo_doc.pop("min_age")
    tenant = Tenant.from_dict(demo_doc)
    # When a signup comes without age_confirmed
    form = signup.parse_form(tenant, {"phone": "0151 12345678", "consent": "on"}, None)
    # Then it is accepted
    assert form.phone.e164 == "+4915112345678"


# ---- refusals, in the SPEC's order ----------------------------------------------------------


@pytest.mark.parametrize(
    "phone",
    [None, "", "   ", "abc", "0151", "+999 151 12345678", "1" * 41, "😀"],
)
def test_invalid_phone(demo: Tenant, phone: Any) -> None:
    # Given a missing or unusable number (and everything else also wrong)
    fields = {"phone": phone, "consent": "no", "purposes": "bogus"}
    if phone is None:
        fields.pop("phone")
    # Then the phone is refused first
    error = _refused(demo, fields)
    assert (error.code, error.field) == ("invalid_phone", "phone")


@pytest.mark.parametrize("phone", ["+49 30 12345678", "0800 1234567", "+49 900 1234567", "+49 180 1234567"])
def test_not_mobile(demo: Tenant, phone: str) -> None:
    # Given a landline, toll-free, premium-rate or shared-cost number, and no consent
    error = _refused(demo, {"phone": phone, "consent": "no"})
    # Then it is refused as not_mobile, before the missing consent
    assert (error.code, error.field) == ("not_mobile", "phone")


def test_country_not_allowed(demo: Tenant) -> None:
    # Given a Japanese mobile (JP is not an allowed country of the demo tenant), and no consent
    error = _refused(demo, {"phone": "+81 90 1234 5678", "consent": "no"})
    # Then it is refused as country_not_allowed on the phone field
    assert (error.code, error.field) == ("country_not_allowed", "phone")


def test_country_not_allowed_with_national_number_and_hint(demo: Tenant) -> None:
    # Given a Japanese national number with country JP
    error = _refused(demo, {**GOOD, "phone": "090-1234-5678", "country": "JP"})
    # Then it is refused as country_not_allowed
    assert error.code == "country_not_allowed"


@pytest.mark.parametrize(
    "consent",
    ["__missing__", "false", "no", 0, "", False, None, "off", "0", 2, [], {}, ["true"], "yes please", "ja"],
)
def test_consent_required(demo: Tenant, consent: Any) -> None:
    # Given a valid mobile and no affirmative consent (missing, negative or odd), nor age
    fields: dict[str, Any] = {"phone": "0151 12345678", "consent": consent}
    if consent == "__missing__":
        fields.pop("consent")
    # Then it is refused as consent_required, before the age
    error = _refused(demo, fields)
    assert (error.code, error.field) == ("consent_required", "consent")


@pytest.mark.parametrize("age", ["__missing__", False, "false", "", 0, "no", 16])
def test_age_confirmation_required(demo: Tenant, age: Any) -> None:
    # Given consent but no affirmative age confirmation (min_age 16), and a bad purpose
    fields: dict[str, Any] = {
        "phone": "0151 12345678",
        "consent": "on",
        "age_confirmed": age,
        "purposes": "x",
    }
    if age == "__missing__":
        fields.pop("age_confirmed")
    # Then it is refused as age_confirmation_required, before the purpose
    error = _refused(demo, fields)
    assert (error.code, error.field) == ("age_confirmation_required", "age_confirmed")


@pytest.mark.parametrize(
    "purposes",
    ["bogus", ["marketing", "bogus"], "marketing,bogus", ",", " , ", [""], ["Marketing"]],
)
def test_unknown_purpose(demo: Tenant, purposes: Any) -> None:
    # Given an unknown (or empty) purpose and an unknown consent text
    error = _refused(demo, {**GOOD, "purposes": purposes, "consent_text": "nope"})
    # Then it is refused as unknown_purpose, before the consent text
    assert (error.code, error.field) == ("unknown_purpose", "purposes")


@pytest.mark.parametrize("ref", ["nope", "nope:1", "signup-sms:2", "signup-sms:1:1"])
def test_unknown_consent_text(demo: Tenant, ref: str) -> None:
    # Given a consent text the tenant does not have
    error = _refused(demo, {**GOOD, "consent_text": ref})
    # Then it is refused as unknown_consent_text
    assert (error.code, error.field) == ("unknown_consent_text", "consent_text")


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"phone": ["0151 12345678"]}, "phone"),
        ({"phone": {"number": "0151 12345678"}}, "phone"),
        ({"phone": True}, "phone"),
        ({"phone": 1.5}, "phone"),
        ({"country": ["DE"]}, "country"),
        ({"country": "DEU"}, "country"),
        ({"country": "D1"}, "country"),
        ({"purposes": 5}, "purposes"),
        ({"purposes": {"marketing": True}}, "purposes"),
        ({"purposes": True}, "purposes"),
        ({"purposes": ["marketing", 1]}, "purposes"),
        ({"channel": "fax"}, "channel"),
        ({"channel": ["sms"]}, "channel"),
        ({"language": {"de": True}}, "language"),
        ({"consent_text": ["signup-sms"]}, "consent_text"),
        ({"source": "x" * 501}, "source"),
        ({"source": {"page": "x"}}, "source"),
    ],
)
def test_invalid_field_for_wrong_types(demo: Tenant, fields: dict[str, Any], field: str) -> None:
    # Given an otherwise good signup with one field of a wrong type or shape
    error = _refused(demo, {**GOOD, **fields})
    # Then it is refused as invalid_field naming that field
    assert (error.code, error.field) == ("invalid_field", field)
    assert error.body()["error"]["field"] == field


def test_every_refusal_is_a_422_with_a_message(demo: Tenant) -> None:
    # Given a refusal
    error = _refused(demo, {"phone": "0151 12345678"})
    # Then it carries a human message and renders as the SPEC's error JSON
    assert error.message
    assert error.body() == {
        "error": {"code": "consent_required", "message": error.message, "field": "consent"}
    }


# ---- nothing but 422, whatever is sent -------------------------------------------------------

_FIELDS = [
    "phone",
    "country",
    "consent",
    "age_confirmed",
    "purposes",
    "channel",
    "consent_text",
    "language",
    "source",
    "website",
    "other",
]
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(
        [
            "0151 12345678",
            "+4915112345678",
            "(212) 555-0123",
            "+81 90 1234 5678",
            "+49 30 12345678",
            "true",
            "on",
            "yes",
            "1",
            "marketing",
            "newsletter",
            "marketing,newsletter",
            "whatsapp",
            "signup-sms",
            "signup-sms:1",
            "de",
            "en",
            "US",
            "JP",
            "",
        ]
    ),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)


@settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    fields=st.dictionaries(st.one_of(st.sampled_from(_FIELDS), st.text(max_size=8)), _values, max_size=10),
    accept_language=st.one_of(
        st.none(), st.text(max_size=20), st.sampled_from(["en-US,en;q=0.9", "de", "*"])
    ),
)
def test_arbitrary_fields_give_a_form_or_a_422(
    demo: Tenant, fields: dict[str, Any], accept_language: Any
) -> None:
    # Given any JSON-like fields and any Accept-Language
    try:
        form = signup.parse_form(demo, fields, accept_language)
    except Refusal as refusal:
        # Then a refusal is always a 422 with a code and a field
        exc = api.answer_for(refusal)
        assert exc.status == 422
        assert exc.code in {
            "invalid_phone",
            "not_mobile",
            "country_not_allowed",
            "consent_required",
            "age_confirmation_required",
            "unknown_purpose",
            "unknown_consent_text",
            "invalid_field",
        }
        assert exc.field
    else:
        # Or the form is complete and within the tenant's settings
        assert form.phone.region in demo.allowed_countries
        assert form.purposes and set(form.purposes) <= set(demo.purposes)
        assert form.channel in ("sms", "whatsapp")
        assert form.language in demo.languages
        assert signup.affirmative(fields.get("consent"))


@pytest.mark.parametrize(
    ("source", "kept"),
    [
        (None, None),
        ("footer-form", "footer-form"),
        ("landing_v2", "landing_v2"),
        ("https://shop.example/newsletter#sms-form", "https://shop.example"),
        ("HTTPS://Shop.Example:8443/x?phone=%2B4915112345678", "https://shop.example:8443"),
        ("https://jane:secret@shop.example/", "https://shop.example"),
        ("https://4915112345678.example/", None),
        ("https://[::1", None),
        ("jane.doe@mail.example", None),
        ("form 015112345678", None),
        ("order12345678", None),
        ("Größe 🌍", None),
        ("mailto:jane@mail.example", None),
    ],
)
def test_public_source_keeps_only_what_is_not_personal(source, kept):
    assert signup.public_source(source) == kept
