"""The signup's pages for people, through the real handler on moto: a refused browser form
post is a page in the person's language (country names, not codes; the field; the way
back to the form) with the status of the JSON refusal, or a 303 to the tenant's
``error_url``; the "check your phone" page says how long the link works and that a reply
confirms too."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.fixtures.events import load_event

pytestmark = pytest.mark.usefixtures("aws")

FORM = {"phone": "0151 23456789", "country": "DE", "consent": "on", "age_confirmed": "on"}


def post_form(
    context: Any,
    fields: dict[str, str],
    language: str = "de-DE,de;q=0.9",
    tenant: str = "demo",
    **headers: str,
) -> dict[str, Any]:
    from functions.signup.app import handler

    event = load_event("signup-form.json")
    event["pathParameters"] = {"tenant": tenant}
    event["rawPath"] = event["requestContext"]["http"]["path"] = f"/v1/{tenant}/signup"
    event["body"] = base64.b64encode(urlencode(fields).encode()).decode()
    event["headers"].update({"accept-language": language, **headers})
    answer: dict[str, Any] = handler(event, context)
    return answer


def use_demo(clock: Any, **changes: Any) -> None:
    from smsconsent import store, tenants

    doc = json.loads(Path("local/tenants/demo.json").read_text())
    doc.update(changes)
    store.put_tenant_doc(doc, clock.now)
    tenants.clear_cache()


def test_a_landline_is_refused_as_a_page_in_german_with_the_field_and_the_way_back(context, outbox):
    answer = post_form(
        context,
        {**FORM, "phone": "030 12345678"},
        referer="https://abc123def4.execute-api.eu-central-1.amazonaws.com/",
    )
    assert answer["statusCode"] == 422
    assert answer["headers"]["Content-Type"] == "text/html; charset=utf-8"
    body = answer["body"]
    assert '<html lang="de">' in body and 'data-code="not_mobile"' in body
    assert "Festnetz" in body and 'data-field="phone"' in body and "Betrifft: Handynummer" in body
    assert 'href="https://abc123def4.execute-api.eu-central-1.amazonaws.com/" id="back"' in body
    assert outbox.messages() == []


def test_a_country_not_allowed_names_the_countries_in_the_persons_language(context, outbox):
    italian = {**FORM, "phone": "+39 312 345 6789", "language": "en"}
    answer = post_form(context, italian)
    assert answer["statusCode"] == 422
    body = answer["body"]
    assert '<html lang="en">' in body  # the form's own language field wins
    assert (
        "We can only accept mobile numbers from Austria, Belgium, France, Germany, Netherlands, "
        "Switzerland, United Kingdom and United States. This number is from Italy."
    ) in body
    german = post_form(context, {**FORM, "phone": "+39 312 345 6789"})["body"]
    assert (
        "aus Belgien, Deutschland, Frankreich, Niederlande, Österreich, Schweiz, Vereinigte Staaten und "
        "Vereinigtes Königreich annehmen. Diese Nummer ist aus Italien."
    ) in german
    assert ">IT<" not in german and " IT." not in german


def test_missing_consent_is_a_page_and_a_json_client_still_gets_json(context, outbox):
    answer = post_form(context, {k: v for k, v in FORM.items() if k != "consent"})
    assert answer["statusCode"] == 422 and 'data-field="consent"' in answer["body"]
    assert "Bitte kreuzen Sie an" in answer["body"]
    as_json = post_form(context, {k: v for k, v in FORM.items() if k != "consent"}, accept="application/json")
    assert as_json["statusCode"] == 422
    assert json.loads(as_json["body"])["error"]["code"] == "consent_required"


def test_a_referer_of_another_site_gets_no_back_link(context, outbox):
    answer = post_form(context, {**FORM, "phone": "030 12345678"}, referer="https://evil.example/form")
    assert "evil.example" not in answer["body"]
    assert 'id="back-hint"' in answer["body"]


def test_the_tenants_error_url_gets_a_303_with_the_code(context, outbox, clock):
    use_demo(clock, error_url="https://shop.example/sms/oops?from=sms")
    answer = post_form(context, {**FORM, "phone": "030 12345678"})
    assert answer["statusCode"] == 303
    assert (
        answer["headers"]["Location"] == "https://shop.example/sms/oops?from=sms&error=not_mobile&field=phone"
    )
    assert outbox.messages() == []


def test_an_error_url_with_a_fragment_gets_the_code_in_its_query(context, outbox, clock):
    # The query goes before the fragment: after it, the page's server never sees the code
    use_demo(clock, error_url="https://shop.example/sms/oops?from=sms#form")
    answer = post_form(context, {**FORM, "phone": "030 12345678"})
    assert answer["statusCode"] == 303
    location = answer["headers"]["Location"]
    assert location == "https://shop.example/sms/oops?from=sms&error=not_mobile&field=phone#form"
    use_demo(clock, error_url="https://shop.example/oops#")
    answer = post_form(context, {**FORM, "phone": "030 12345678"})
    assert answer["headers"]["Location"] == "https://shop.example/oops?error=not_mobile&field=phone#"


def test_a_rate_limited_form_post_keeps_its_status_and_retry_after(context, outbox, clock):
    answers = [post_form(context, {**FORM, "phone": f"0151 234567{n:02d}"}) for n in range(11)]
    assert [a["statusCode"] for a in answers[:10]] == [303] * 10
    limited = answers[-1]
    assert limited["statusCode"] == 429 and "Retry-After" in limited["headers"]
    assert 'data-code="rate_limited"' in limited["body"] and "Minuten erneut" in limited["body"]


def test_an_unknown_tenant_is_a_404_page(context):
    answer = post_form(context, FORM, tenant="nosuchshop")
    assert answer["statusCode"] == 404 and 'data-code="unknown_tenant"' in answer["body"]
    assert 'id="back"' not in answer["body"]


def test_nothing_of_the_form_is_echoed_unescaped(context, outbox):
    answer = post_form(
        context,
        {**FORM, "phone": "<script>alert(1)</script>", "source": "javascript:alert(1)"},
        referer="javascript:alert(1)",
    )
    assert answer["statusCode"] == 422
    assert "<script>" not in answer["body"] and "javascript:" not in answer["body"]


def get_check_page(context: Any, language: str) -> str:
    from functions.signup.app import handler

    event = load_event(
        "signup-form.json", requestContext={"http": {"method": "GET", "path": "/v1/demo/signup"}}
    )
    event["headers"]["accept-language"] = language
    body: str = handler(event, context)["body"]
    return body


def test_the_check_your_phone_page_says_how_long_the_link_works_and_that_a_reply_confirms(context, clock):
    german = get_check_page(context, "de-DE")
    assert "Der Link gilt 48 Stunden." in german
    assert "Sie können stattdessen auch mit JA auf die SMS antworten." in german
    english = get_check_page(context, "en")
    assert "The link works for 48 hours." in english and "reply YES" in english
    # A tenant that does not take replies says nothing of them; a week's link says days
    use_demo(clock, double_opt_in={"token_ttl_hours": 168, "confirm_by_reply": False})
    page = get_check_page(context, "en")
    assert "The link works for 7 days." in page and "reply" not in page


def test_the_check_your_phone_page_of_an_unknown_tenant_or_during_an_outage_is_a_page(context, monkeypatch):
    """The page a browser lands on after its form post: a person reads it, so its failures
    are pages too (a JSON client still gets JSON)."""
    from functions.signup.app import handler
    from smsconsent import store, tenants

    event = load_event(
        "signup-form.json", requestContext={"http": {"method": "GET", "path": "/v1/nosuchshop/signup"}}
    )
    event["pathParameters"] = {"tenant": "nosuchshop"}
    answer = handler(event, context)
    assert answer["statusCode"] == 404 and answer["headers"]["Content-Type"].startswith("text/html")
    assert 'data-code="unknown_tenant"' in answer["body"]

    def outage(tenant_id: str) -> None:
        raise store.StoreUnavailable("throttled")

    monkeypatch.setattr(tenants, "get", outage)
    event["pathParameters"] = {"tenant": "demo"}
    answer = handler(event, context)
    assert answer["statusCode"] == 503 and answer["headers"]["Retry-After"]
    assert 'data-code="service_unavailable"' in answer["body"]
    event["headers"]["accept"] = "application/json"
    answer = handler(event, context)
    assert answer["statusCode"] == 503 and answer["headers"]["Content-Type"] == "application/json"
