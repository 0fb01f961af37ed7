"""Tenant settings: the demo tenant as the SPEC describes it, lookups, and refusal of
broken documents naming the field at fault."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smsconsent.tenants import ConsentText, SecretRef, Tenant, TenantError

DEMO_FILE = Path(__file__).resolve().parents[2] / "local" / "tenants" / "demo.json"

# ---- the demo tenant (SPEC "Local stack") ------------------------------------------------


def test_demo_identity_countries_and_languages(demo: Tenant) -> None:
    # Given local/tenants/demo.json
    # When it is loaded (fixture)
    # Then id, name, countries and languages are those of the SPEC
    assert demo.id == "demo"
    assert demo.name == "Demo Shop"
    assert demo.default_country == "DE"
    assert demo.allowed_countries == frozenset({"DE", "AT", "CH", "FR", "NL", "BE", "GB", "US"})
    assert demo.languages == ("de", "en")
    assert demo.default_language == "de"


def test_demo_purposes(demo: Tenant) -> None:
    # Given the demo tenant
    # Then marketing (the default) and newsletter are both marketing purposes
    assert demo.purposes["marketing"].category == "marketing"
    assert demo.purposes["newsletter"].category == "marketing"
    assert demo.default_purposes == ("marketing",)
    assert {"marketing", "newsletter"} <= set(demo.marketing_purposes())
    # And every purpose is described in every tenant language
    for purpose in demo.purposes.values():
        assert set(purpose.description) == {"de", "en"}
        assert all(text.strip() for text in purpose.description.values())
    # And any extra purpose is transactional (it must not widen marketing)
    assert set(demo.marketing_purposes()) == {"marketing", "newsletter"}


def test_demo_consent_text_and_age(demo: Tenant) -> None:
    # Given the demo tenant
    # Then it has one current consent text, worded in de and en, and min_age 16
    text = demo.consent_text(None)
    assert isinstance(text, ConsentText)
    assert (text.id, text.version) == demo.current_consent_text
    assert set(text.wording) == {"de", "en"}
    assert demo.min_age == 16


def test_demo_double_opt_in_and_timing(demo: Tenant) -> None:
    # Given the demo tenant
    # Then double opt-in, lapse and retention settings are the SPEC's
    assert demo.confirm_by_reply is True
    assert demo.resend_cooldown_minutes == 10
    assert demo.token_ttl_hours == 48
    assert demo.lapse_after_days == 540
    assert demo.evidence_retention_days == 1461


def test_demo_quiet_hours_cap_shortcode_and_scope(demo: Tenant) -> None:
    # Given the demo tenant
    # Then quiet hours 21:00-08:00, at most 3 marketing sends per 7 days, 36111 for FR
    assert demo.quiet_hours == ("21:00", "08:00")
    assert demo.frequency_cap == (3, 7)
    assert demo.optout_shortcodes == {"FR": "36111"}
    assert demo.stop_scope == "marketing"


def test_demo_rate_limits(demo: Tenant) -> None:
    # Given the demo tenant
    # Then 10 signups per IP per hour and 3 confirmation SMS per number per day
    assert demo.signups_per_ip_per_hour == 10
    assert demo.sms_per_number_per_day == 3


def test_demo_public_url_and_inbound_number(demo: Tenant) -> None:
    # Given the demo tenant
    # Then its links point at the local stack and its AWS two-way number is set
    assert demo.public_base_url == "http://127.0.0.1:3000"
    assert demo.link("/c/abc") == "http://127.0.0.1:3000/c/abc"
    assert demo.inbound_numbers == ("+4915790000000",)


@pytest.mark.parametrize(
    ("provider", "key", "value"),
    [
        ("twilio", "auth_token", "demo-twilio-auth-token"),
        ("plivo", "auth_token", "demo-plivo-auth-token"),
        ("vonage", "signature_secret", "demo-vonage-signature-secret"),
        ("bird", "signing_key", "demo-bird-signing-key"),
        ("telnyx", "public_key", "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg="),
    ],
)
def test_demo_provider_secrets(demo: Tenant, provider: str, key: str, value: str) -> None:
    # Given the demo tenant
    # When a provider secret is resolved
    secret = demo.providers[provider][key]
    # Then it is a local value reference holding the SPEC's secret
    assert secret == SecretRef("value", value)
    assert secret.resolve() == value


def test_demo_vonage_signs_with_hmac_sha256_and_twilio_has_no_public_url(demo: Tenant) -> None:
    # Given the demo tenant
    # Then Vonage uses HMAC-SHA256 signatures and Twilio signs the request URL
    assert demo.providers["vonage"]["signature_method"] == "sha256"
    assert "webhook_url" not in demo.providers["twilio"]


def test_demo_telnyx_public_key_belongs_to_the_documented_seed(demo: Tenant) -> None:
    # Given the SPEC's test seed 000102...1f
    ed25519 = pytest.importorskip("cryptography.hazmat.primitives.asymmetric.ed25519")
    serialization = pytest.importorskip("cryptography.hazmat.primitives.serialization")
    private = ed25519.Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    public = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    # When the demo tenant's Telnyx key is resolved
    # Then it is that seed's public key
    assert demo.providers["telnyx"]["public_key"].resolve() == base64.b64encode(public).decode()


# ---- lookups -------------------------------------------------------------------------------


def test_consent_text_lookup_by_id_version_and_unknown(demo_doc: dict[str, Any]) -> None:
    # Given a tenant whose text "signup-sms" has versions 1, 2 and 10 (10 is newest), current 2
    versions = demo_doc["consent_texts"]["signup-sms"]["versions"]
    versions["2"] = {"de": "Text zwei", "en": "text two"}
    versions["10"] = {"de": "Text zehn", "en": "text ten"}
    demo_doc["consent_texts"]["other"] = {"versions": {"a": "same wording in all languages"}}
    demo_doc["current_consent_text"] = "signup-sms:2"
    tenant = Tenant.from_dict(demo_doc)
    # When texts are looked up
    # Then empty means the tenant's current one
    assert tenant.consent_text(None).version == "2"  # type: ignore[union-attr]
    assert tenant.consent_text("").version == "2"  # type: ignore[union-attr]
    # And a bare id means that text's newest version (numerically, 10 > 2)
    assert tenant.consent_text("signup-sms").version == "10"  # type: ignore[union-attr]
    assert tenant.consent_text("signup-sms:").version == "10"  # type: ignore[union-attr]
    # And id:version means exactly that version
    one = tenant.consent_text("signup-sms:1")
    assert one is not None and (one.id, one.version) == ("signup-sms", "1")
    assert one.wording["en"].startswith("Yes, I want")
    # And a plain-string wording applies to every language
    assert tenant.consent_text("other:a").wording == {  # type: ignore[union-attr]
        "de": "same wording in all languages",
        "en": "same wording in all languages",
    }
    # And unknown ids or versions are None
    assert tenant.consent_text("nope") is None
    assert tenant.consent_text("nope:1") is None
    assert tenant.consent_text("signup-sms:3") is None
    assert tenant.consent_text("signup-sms:1:extra") is None


def test_current_consent_text_without_version_is_the_newest(demo_doc: dict[str, Any]) -> None:
    # Given current_consent_text naming only an id, with versions 1 and 2
    demo_doc["consent_texts"]["signup-sms"]["versions"]["2"] = {"de": "zwei", "en": "two"}
    demo_doc["current_consent_text"] = "signup-sms"
    # When the tenant is loaded
    tenant = Tenant.from_dict(demo_doc)
    # Then the current text is the newest version
    assert tenant.current_consent_text == ("signup-sms", "2")


def test_consent_text_sha256_is_over_the_exact_wording(demo: Tenant) -> None:
    # Given the demo consent text
    text = demo.consent_text(None)
    assert text is not None
    # When its hash is taken per language
    # Then it is the SHA-256 of that exact wording, different per language
    for lang in ("de", "en"):
        assert text.sha256(lang) == hashlib.sha256(text.wording[lang].encode("utf-8")).hexdigest()
    assert text.sha256("de") != text.sha256("en")


@pytest.mark.parametrize(
    ("wanted", "language"),
    [
        ("de", "de"),
        ("en", "en"),
        ("EN", "en"),
        ("en-GB", "en"),
        ("de-AT", "de"),
        (" en ", "en"),
        ("en-US,en;q=0.9", "en"),
        ("fr", "de"),
        ("fr-FR", "de"),
        ("", "de"),
        (None, "de"),
        ("e", "de"),
        ("*", "de"),
    ],
)
def test_language_falls_back_to_the_tenant_default(demo: Tenant, wanted: str | None, language: str) -> None:
    # Given the demo tenant (de, en)
    # When a language is asked for
    # Then a spoken one (by its first two letters) is used, anything else gives the default
    assert demo.language(wanted) == language


def test_defaults_apply_when_optional_settings_are_absent(demo_doc: dict[str, Any]) -> None:
    # Given a tenant document with only the required settings
    for optional in (
        "min_age",
        "double_opt_in",
        "lapse_after_days",
        "evidence_retention_days",
        "quiet_hours",
        "frequency_cap",
        "optout_shortcodes",
        "stop_scope",
        "cors_origins",
        "rate_limits",
        "providers",
        "inbound_numbers",
        "help_text",
    ):
        demo_doc.pop(optional)
    demo_doc["purposes"]["marketing"].pop("default")
    # When it is loaded
    tenant = Tenant.from_dict(demo_doc)
    # Then the SPEC defaults hold
    assert tenant.token_ttl_hours == 48
    assert tenant.lapse_after_days == 540
    assert tenant.evidence_retention_days == 1461
    assert tenant.resend_cooldown_minutes == 10
    assert tenant.confirm_by_reply is False
    assert tenant.stop_scope == "marketing"
    assert tenant.min_age is None
    assert tenant.quiet_hours is None
    assert tenant.frequency_cap is None
    assert tenant.providers == {}
    # And without a flagged default, the first marketing purpose is the default
    assert tenant.default_purposes == ("marketing",)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            "arn:aws:secretsmanager:eu-central-1:123456789012:secret:twilio-AbCdEf",
            SecretRef("secret", "arn:aws:secretsmanager:eu-central-1:123456789012:secret:twilio-AbCdEf"),
        ),
        ("ssm:/sms/twilio", SecretRef("ssm", "/sms/twilio")),
        ({"secret": "twilio-token"}, SecretRef("secret", "twilio-token")),
        ({"ssm": "/sms/twilio"}, SecretRef("ssm", "/sms/twilio")),
        ({"value": "local-only"}, SecretRef("value", "local-only")),
    ],
)
def test_secret_references(demo_doc: dict[str, Any], value: Any, expected: SecretRef) -> None:
    # Given a provider secret given as an ARN, an ssm: reference or a one-key object
    demo_doc["providers"]["twilio"]["auth_token"] = value
    # When the tenant is loaded
    tenant = Tenant.from_dict(demo_doc)
    # Then it becomes the matching reference
    assert tenant.providers["twilio"]["auth_token"] == expected


# ---- refusals --------------------------------------------------------------------------------

Mutation = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Mutation:
    def mutate(doc: dict[str, Any]) -> None:
        *parents, last = path.split("/")
        node = doc
        for part in parents:
            node = node[part]
        node[last] = value

    return mutate


def _drop(path: str) -> Mutation:
    def mutate(doc: dict[str, Any]) -> None:
        *parents, last = path.split("/")
        node = doc
        for part in parents:
            node = node[part]
        del node[last]

    return mutate


REFUSALS: list[tuple[str, Mutation, str]] = [
    ("missing name", _drop("name"), "name"),
    ("empty name", _set("name", "   "), "name"),
    ("name over 40", _set("name", "x" * 41), "name"),
    ("name not a string", _set("name", 7), "name"),
    ("missing id", _drop("id"), "id"),
    ("slug with capitals", _set("id", "Demo"), "id"),
    ("slug with underscore", _set("id", "demo_shop"), "id"),
    ("slug too short", _set("id", "d"), "id"),
    ("slug too long", _set("id", "d" * 41), "id"),
    ("lower-case default country", _set("default_country", "de"), "default_country"),
    ("three-letter default country", _set("default_country", "DEU"), "default_country"),
    ("bad allowed country", _set("allowed_countries", ["DE", "Austria"]), "allowed_countries"),
    ("allowed country not a string", _set("allowed_countries", ["DE", 49]), "allowed_countries"),
    ("allowed countries not a list", _set("allowed_countries", "DE"), "allowed_countries"),
    ("no languages", _set("languages", []), "languages"),
    ("language not two letters", _set("languages", ["deu"]), "languages"),
    ("language upper case", _set("languages", ["DE"]), "languages"),
    ("unknown purpose category", _set("purposes/marketing/category", "promo"), "purposes.marketing.category"),
    ("purpose without category", _drop("purposes/newsletter/category"), "purposes.newsletter.category"),
    (
        "purpose name invalid",
        _set("purposes/Bad Name", {"category": "marketing", "description": "x"}),
        "purposes.Bad Name",
    ),
    ("purpose not an object", _set("purposes/newsletter", "marketing"), "purposes.newsletter"),
    (
        "purpose description missing a language",
        _set("purposes/newsletter/description", {"de": "nur de"}),
        "purposes.newsletter.description.en",
    ),
    ("purpose default not a bool", _set("purposes/marketing/default", "yes"), "purposes.marketing.default"),
    ("no purposes", _set("purposes", {}), "purposes"),
    (
        "consent text missing a language",
        _drop("consent_texts/signup-sms/versions/1/en"),
        "consent_texts.signup-sms.versions.1.en",
    ),
    (
        "consent text wording not a string",
        _set("consent_texts/signup-sms/versions/1/en", ["x"]),
        "consent_texts.signup-sms.versions.1.en",
    ),
    (
        "consent text without versions",
        _set("consent_texts/signup-sms/versions", {}),
        "consent_texts.signup-sms.versions",
    ),
    ("consent text id with colon", _set("consent_texts/a:b", {"versions": {"1": "x"}}), "consent_texts.a:b"),
    ("no consent texts", _set("consent_texts", {}), "consent_texts"),
    ("current text unknown", _set("current_consent_text", "other:1"), "current_consent_text"),
    ("current text version unknown", _set("current_consent_text", "signup-sms:9"), "current_consent_text"),
    ("quiet hours equal", _set("quiet_hours", {"start": "21:00", "end": "21:00"}), "quiet_hours"),
    ("quiet hours not HH:MM", _set("quiet_hours", {"start": "9pm", "end": "08:00"}), "quiet_hours"),
    ("quiet hours 24:00", _set("quiet_hours", {"start": "24:00", "end": "08:00"}), "quiet_hours"),
    ("quiet hours without end", _set("quiet_hours", {"start": "21:00"}), "quiet_hours.end"),
    ("stop_scope invalid", _set("stop_scope", "everything"), "stop_scope"),
    ("stop_scope not a string", _set("stop_scope", True), "stop_scope"),
    ("min_age true", _set("min_age", True), "min_age"),
    ("min_age zero", _set("min_age", 0), "min_age"),
    ("min_age as text", _set("min_age", "16"), "min_age"),
    ("min_age 99", _set("min_age", 99), "min_age"),
    ("token ttl zero", _set("double_opt_in/token_ttl_hours", 0), "double_opt_in.token_ttl_hours"),
    ("token ttl bool", _set("double_opt_in/token_ttl_hours", True), "double_opt_in.token_ttl_hours"),
    (
        "cooldown negative",
        _set("double_opt_in/resend_cooldown_minutes", -1),
        "double_opt_in.resend_cooldown_minutes",
    ),
    (
        "confirm_by_reply as text",
        _set("double_opt_in/confirm_by_reply", "true"),
        "double_opt_in.confirm_by_reply",
    ),
    ("lapse as float", _set("lapse_after_days", 540.0), "lapse_after_days"),
    ("frequency cap zero", _set("frequency_cap", {"max": 0, "days": 7}), "frequency_cap.max"),
    ("frequency cap days missing", _set("frequency_cap", {"max": 3}), "frequency_cap.days"),
    ("shortcode not numeric", _set("optout_shortcodes", {"FR": "STOP"}), "optout_shortcodes.FR"),
    ("shortcode bad country", _set("optout_shortcodes", {"fr": "36111"}), "optout_shortcodes.fr"),
    ("rate limit zero", _set("rate_limits/sms_per_number_per_day", 0), "rate_limits.sms_per_number_per_day"),
    (
        "bare-string secret",
        _set("providers/twilio/auth_token", "demo-twilio-auth-token"),
        "providers.twilio.auth_token",
    ),
    (
        "secret object with two keys",
        _set("providers/plivo/auth_token", {"value": "a", "ssm": "/b"}),
        "providers.plivo.auth_token",
    ),
    (
        "secret object with unknown key",
        _set("providers/plivo/auth_token", {"plain": "a"}),
        "providers.plivo.auth_token",
    ),
    (
        "secret value not a string",
        _set("providers/bird/signing_key", {"value": 42}),
        "providers.bird.signing_key.value",
    ),
    ("unknown provider", _set("providers/acme", {"auth_token": {"value": "x"}}), "providers.acme"),
    ("provider not an object", _set("providers/twilio", "token"), "providers.twilio"),
    (
        "provider option of a wrong type",
        _set("providers/vonage/signature_method", ["sha256"]),
        "providers.vonage.signature_method",
    ),
    (
        "webhook url not http",
        _set("providers/twilio/webhook_url", "ftp://example.com/hook"),
        "providers.twilio.webhook_url",
    ),
    ("public_base_url ftp", _set("public_base_url", "ftp://example.com"), "public_base_url"),
    ("public_base_url without scheme", _set("public_base_url", "127.0.0.1:3000"), "public_base_url"),
    ("public_base_url javascript", _set("public_base_url", "javascript:alert(1)"), "public_base_url"),
    ("public_base_url missing", _drop("public_base_url"), "public_base_url"),
    ("thank_you_url relative", _set("thank_you_url", "/thanks"), "thank_you_url"),
    ("error_url relative", _set("error_url", "/oops"), "error_url"),
    ("error_url not a string", _set("error_url", 5), "error_url"),
    ("controller empty", _set("controller", "  "), "controller"),
    ("controller too long", _set("controller", "x" * 501), "controller"),
    ("cors origin not http", _set("cors_origins", ["example.com"]), "cors_origins"),
    ("cors origin not a string", _set("cors_origins", [1]), "cors_origins"),
    ("keywords not a list", _set("keywords", {"optout": "STOP"}), "keywords.optout"),
    ("help text of a wrong type", _set("help_text", 5), "help_text"),
    ("opt-out alarm not an object", _set("optout_alarm", 3), "optout_alarm"),
    ("opt-out alarm percent zero", _set("optout_alarm", {"percent": 0}), "optout_alarm.percent"),
    ("opt-out alarm percent over 100", _set("optout_alarm", {"percent": 100.5}), "optout_alarm.percent"),
    ("opt-out alarm percent a string", _set("optout_alarm", {"percent": "3%"}), "optout_alarm.percent"),
    ("opt-out alarm percent a bool", _set("optout_alarm", {"percent": True}), "optout_alarm.percent"),
    ("opt-out alarm sends zero", _set("optout_alarm", {"min_sends": 0}), "optout_alarm.min_sends"),
    ("opt-out alarm sends a float", _set("optout_alarm", {"min_sends": 2.5}), "optout_alarm.min_sends"),
    ("opt-out alarm unknown key", _set("optout_alarm", {"rate": 3}), "optout_alarm.rate"),
]


def test_the_optout_alarm_defaults_to_3_percent_from_200_sends(demo_doc: dict[str, Any]) -> None:
    demo_doc.pop("optout_alarm", None)
    tenant = Tenant.from_dict(demo_doc)
    assert (tenant.optout_alarm_percent, tenant.optout_alarm_min_sends) == (3.0, 200)
    demo_doc["optout_alarm"] = {"percent": 2.5}
    tenant = Tenant.from_dict(demo_doc)
    assert (tenant.optout_alarm_percent, tenant.optout_alarm_min_sends) == (2.5, 200)
    demo_doc["optout_alarm"] = {"percent": 5, "min_sends": 1000}
    tenant = Tenant.from_dict(demo_doc)
    assert (tenant.optout_alarm_percent, tenant.optout_alarm_min_sends) == (5.0, 1000)


@pytest.mark.parametrize(
    ("mutate", "path"), [(m, p) for _, m, p in REFUSALS], ids=[c for c, _, _ in REFUSALS]
)
def test_broken_tenant_is_refused_naming_the_field(
    demo_doc: dict[str, Any], mutate: Mutation, path: str
) -> None:
    # Given the demo document with one fault
    mutate(demo_doc)
    # When it is loaded
    with pytest.raises(TenantError) as refused:
        Tenant.from_dict(demo_doc)
    # Then it is refused whole, naming the field at fault in path and message
    assert refused.value.path == path
    assert str(refused.value).startswith(f"{path}: ")
    assert isinstance(refused.value, ValueError)


@pytest.mark.parametrize("doc", [None, [], "demo", 42, True])
def test_a_tenant_that_is_not_an_object_is_refused(doc: Any) -> None:
    # Given a tenant document that is not a JSON object
    # When it is loaded
    with pytest.raises(TenantError) as refused:
        Tenant.from_dict(doc)
    # Then the whole document is at fault
    assert refused.value.path == "tenant"


def test_loading_does_not_change_the_document(demo_doc: dict[str, Any]) -> None:
    # Given the demo document
    before = copy.deepcopy(demo_doc)
    # When it is loaded
    Tenant.from_dict(demo_doc)
    # Then the caller's document is left as it was
    assert demo_doc == before


@pytest.mark.parametrize(
    ("field", "url"),
    [
        ("public_base_url", "http://["),
        ("thank_you_url", "https://[::1/thanks"),
        ("error_url", "https://[::1/oops"),
        ("cors_origins", ["http://["]),
        ("providers/twilio/webhook_url", "https://[bad/hook"),
    ],
)
def test_malformed_url_is_refused_with_tenant_error(demo_doc: dict[str, Any], field: str, url: Any) -> None:
    # Given a URL setting with an unbalanced IPv6 bracket
    _set(field, url)(demo_doc)
    # When the tenant is loaded
    # Then it is refused with TenantError naming the URL field (not a bare ValueError)
    with pytest.raises(TenantError) as refused:
        Tenant.from_dict(demo_doc)
    assert refused.value.path == field.replace("/", ".")


@pytest.mark.parametrize(
    "field", ["public_base_url", "thank_you_url", "error_url", "providers/twilio/webhook_url"]
)
@pytest.mark.parametrize(
    "url",
    [
        "https://shop.example/oops\r\nSet-Cookie: session=stolen",  # a header of its own in a 303
        "https://shop.example/a b",
        "https://shop.example/a\tb",
        " https://shop.example/",
        "https://shop.example/\x00",
        "https://shop.example/\x7f",
        "https://bücher.example/danke",
    ],
)
def test_a_url_setting_with_whitespace_control_characters_or_non_ascii_is_refused(
    demo_doc: dict[str, Any], field: str, url: str
) -> None:
    """urlsplit drops tabs and line breaks before it looks, so such a URL passed as valid and
    went as it was into a Location header (response splitting on the local stack, a broken
    answer in AWS), an SMS link and a page's link."""
    _set(field, url)(demo_doc)
    with pytest.raises(TenantError) as refused:
        Tenant.from_dict(demo_doc)
    assert refused.value.path == field.replace("/", ".")
    assert "printable ASCII" in str(refused.value)


def test_a_cors_origin_with_a_line_break_is_refused(demo_doc: dict[str, Any]) -> None:
    _set("cors_origins", ["https://shop.example\n"])(demo_doc)
    with pytest.raises(TenantError) as refused:
        Tenant.from_dict(demo_doc)
    assert refused.value.path == "cors_origins"


@pytest.mark.parametrize("version", ["²", "①", "¹⁰"])
def test_unicode_digit_version_does_not_crash_loading(demo_doc: dict[str, Any], version: str) -> None:
    # Given a consent text whose only version is named with a non-ASCII digit, and a current
    # text named without version (so the newest one is picked)
    demo_doc["consent_texts"]["signup-sms"]["versions"] = {version: "wording"}
    demo_doc["current_consent_text"] = "signup-sms"
    # When the tenant is loaded
    # Then it either loads (picking that version) or is refused with TenantError
    try:
        tenant = Tenant.from_dict(demo_doc)
    except TenantError:
        return
    assert tenant.current_consent_text == ("signup-sms", version)


# ---- no exception but TenantError, whatever the input ------------------------------------

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**53), max_value=2**53),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
_json = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
_DEMO_PATHS = sorted(
    {
        "id",
        "name",
        "default_country",
        "allowed_countries",
        "languages",
        "purposes",
        "purposes/marketing",
        "purposes/marketing/category",
        "purposes/marketing/description",
        "purposes/marketing/default",
        "purposes/newsletter/description/en",
        "consent_texts",
        "consent_texts/signup-sms",
        "consent_texts/signup-sms/versions",
        "consent_texts/signup-sms/versions/1",
        "consent_texts/signup-sms/versions/1/de",
        "current_consent_text",
        "min_age",
        "double_opt_in",
        "double_opt_in/token_ttl_hours",
        "double_opt_in/confirm_by_reply",
        "lapse_after_days",
        "evidence_retention_days",
        "quiet_hours",
        "quiet_hours/start",
        "frequency_cap",
        "frequency_cap/max",
        "optout_shortcodes",
        "optout_shortcodes/FR",
        "stop_scope",
        "public_base_url",
        "thank_you_url",
        "error_url",
        "cors_origins",
        "rate_limits",
        "rate_limits/signups_per_ip_per_hour",
        "providers",
        "providers/twilio",
        "providers/twilio/auth_token",
        "providers/vonage/signature_method",
        "providers/twilio/webhook_url",
        "sms",
        "sms/origination_identity",
        "inbound_numbers",
        "keywords",
        "keywords/optout",
        "help_text",
        "help_text/en",
        "message_frequency",
    }
)


def _load_or_tenant_error(doc: Any) -> None:
    try:
        Tenant.from_dict(doc)
    except TenantError as exc:
        assert exc.path
        assert isinstance(exc.path, str)


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(doc=_json)
def test_arbitrary_json_only_ever_raises_tenant_error(doc: Any) -> None:
    # Given any JSON-like value
    # When it is loaded as a tenant
    # Then it loads or is refused with TenantError, never with another exception
    _load_or_tenant_error(doc)


@settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    changes=st.lists(
        st.tuples(st.sampled_from(_DEMO_PATHS), st.one_of(st.just(...), _json)), min_size=1, max_size=3
    )
)
def test_demo_with_arbitrary_values_only_ever_raises_tenant_error(changes: list[tuple[str, Any]]) -> None:
    # Given the demo document with up to three settings replaced by arbitrary JSON (... deletes)
    doc = json.loads(DEMO_FILE.read_text(encoding="utf-8"))
    for path, value in changes:
        *parents, last = path.split("/")
        node: Any = doc
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, dict):
            continue
        if value is ...:
            node.pop(last, None)
        else:
            node[last] = value
    # When it is loaded
    # Then it loads or is refused with TenantError, never with another exception
    _load_or_tenant_error(doc)


# ---- misspelt keys and CORS origins -------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "value", "field", "close"),
    [
        ("quiet_hour", {"start": "21:00", "end": "08:00"}, "quiet_hour", "quiet_hours"),
        ("frequncy_cap", {"max": 4, "days": 30}, "frequncy_cap", "frequency_cap"),
        ("double_opt_in/token_ttl_hour", 24, "double_opt_in.token_ttl_hour", "token_ttl_hours"),
        ("rate_limits/sms_per_number", 2, "rate_limits.sms_per_number", "sms_per_number_per_day"),
        ("quiet_hours/stop", "08:00", "quiet_hours.stop", None),
        ("frequency_cap/day", 30, "frequency_cap.day", "days"),
        ("sms", {"origination_id": "pool-1"}, "sms.origination_id", "origination_identity"),
        ("keywords", {"opt_out": ["STOPP"]}, "keywords.opt_out", "optout"),
        ("purposes/marketing/defualt", True, "purposes.marketing.defualt", "default"),
        ("consent_texts/signup-sms/version", {"1": "x"}, "consent_texts.signup-sms.version", "versions"),
        ("providers/twilio/auth_tokn", {"secret": "x"}, "providers.twilio.auth_tokn", "auth_token"),
        # A key another provider knows is still unknown to this one.
        ("providers/twilio/signature_method", "sha256", "providers.twilio.signature_method", None),
        (
            "providers/telnyx/signature_max_age_seconds",
            60,
            "providers.telnyx.signature_max_age_seconds",
            None,
        ),
    ],
)
def test_an_unknown_key_at_any_level_is_refused_naming_it_and_the_close_match(
    demo_doc: dict[str, Any], path: str, value: Any, field: str, close: str | None
) -> None:
    # Given the demo document with a misspelt key (the rule it meant would silently stay off)
    _set(path, value)(demo_doc)
    # When it is loaded
    with pytest.raises(TenantError) as refused:
        Tenant.from_dict(demo_doc)
    # Then the key is named, and the close match when there is one
    assert refused.value.path == field
    assert "unknown key" in str(refused.value)
    if close:
        assert f"did you mean {close!r}" in str(refused.value)
    else:
        assert "did you mean" not in str(refused.value)


def test_settings_left_out_take_the_model_field_defaults(demo_doc: dict[str, Any]) -> None:
    # Given a tenant document with only the required settings
    import dataclasses

    required = {
        "id", "name", "default_country", "allowed_countries", "languages", "purposes",
        "consent_texts", "current_consent_text", "public_base_url",
    }  # fmt: skip
    doc = {key: value for key, value in demo_doc.items() if key in required}
    # When it is loaded
    tenant = Tenant.from_dict(doc)
    # Then every setting with a default has the Tenant field's (the one place it is written),
    # keywords aside: the parser gives each kind its empty list
    for spec in dataclasses.fields(Tenant):
        if spec.name == "keywords" or (
            spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING
        ):
            continue
        expected = spec.default_factory() if callable(spec.default_factory) else spec.default
        assert getattr(tenant, spec.name) == expected, spec.name
    assert tenant.keywords == {"optout": (), "optin": (), "help": ()}


def test_the_providers_are_listed_once() -> None:
    # The provider modules and the tenant schema name the same providers, from one list
    from smsconsent import providers, tenants

    assert providers.NAMES is tenants.PROVIDERS
    assert all(providers.get(name) is not None for name in tenants.PROVIDERS)


def test_every_known_key_is_in_the_key_constants(demo_doc: dict[str, Any]) -> None:
    # The demo tenant uses keys of every level; each of them is in its constant.
    from smsconsent import tenants

    assert set(demo_doc) <= tenants.TENANT_KEYS
    assert set(demo_doc["double_opt_in"]) <= tenants.DOUBLE_OPT_IN_KEYS
    assert set(demo_doc["rate_limits"]) <= tenants.RATE_LIMITS_KEYS
    assert set(tenants.PROVIDER_KEYS) == set(tenants.PROVIDERS)
    for name, conf in demo_doc["providers"].items():
        assert set(conf) <= tenants.PROVIDER_KEYS[name]


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("https://shop.example.com/", "https://shop.example.com"),
        ("HTTPS://Shop.Example.COM", "https://shop.example.com"),
        ("http://127.0.0.1:3000/", "http://127.0.0.1:3000"),
        ("https://shop.example.com:443", "https://shop.example.com"),
        ("http://shop.example.com:80/", "http://shop.example.com"),
        ("*", "*"),
    ],
)
def test_cors_origins_are_normalised_as_browsers_send_them(
    demo_doc: dict[str, Any], given: str, stored: str
) -> None:
    demo_doc["cors_origins"] = [given]
    assert Tenant.from_dict(demo_doc).cors_origins == (stored,)


@pytest.mark.parametrize(
    "origin",
    [
        "https://shop.example.com/signup",
        "https://shop.example.com/?x=1",
        "https://shop.example.com#top",
        "https://user@shop.example.com",
        "https://shop.example.com:99999",
    ],
)
def test_a_cors_origin_with_a_path_query_or_fragment_is_refused(
    demo_doc: dict[str, Any], origin: str
) -> None:
    demo_doc["cors_origins"] = ["https://ok.example.com", origin]
    with pytest.raises(TenantError) as refused:
        Tenant.from_dict(demo_doc)
    assert refused.value.path == "cors_origins"
    assert origin in str(refused.value)


# ---- plain secrets are for the local stack only -----------------------------------------------


def test_plain_secrets_are_refused_unless_the_process_allows_them(
    demo_doc: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from smsconsent import settings

    # The tests and the local stack allow them (ALLOW_PLAIN_SECRETS=true) ...
    assert Tenant.from_dict(demo_doc).providers["twilio"]["auth_token"].kind == "value"
    try:
        # ... a process without the setting (AWS: the template never sets it) refuses them,
        monkeypatch.delenv("ALLOW_PLAIN_SECRETS")
        settings.reset()
        with pytest.raises(TenantError) as refused:
            Tenant.from_dict(demo_doc)
        assert refused.value.path == "providers.twilio.auth_token"
        assert "{'secret': ARN} or {'ssm': name}" in str(refused.value)
        # ... and so does a Lambda function talking to AWS's DynamoDB, whatever it is told.
        monkeypatch.setenv("ALLOW_PLAIN_SECRETS", "true")
        monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "SignupFunction")
        monkeypatch.setenv("TABLE_NAME", "consent")  # a Lambda function is told its table
        monkeypatch.delenv("DYNAMODB_ENDPOINT", raising=False)
        settings.reset()
        with pytest.raises(TenantError):
            Tenant.from_dict(demo_doc)
        # References load everywhere.
        for conf in demo_doc["providers"].values():
            for key, value in conf.items():
                if isinstance(value, dict):
                    conf[key] = {"ssm": f"/sms-consent/{key}"}
        assert Tenant.from_dict(demo_doc).providers["twilio"]["auth_token"].kind == "ssm"
        # An explicit choice beats the process's setting (tools/put_tenant decides by its target).
        assert Tenant.from_dict(demo_doc, plain_secrets=False).id == "demo"
    finally:
        monkeypatch.undo()
        settings.reset()
