"""Signup handler on moto, fed events/: every answer in the SPEC's signup section."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.fixtures.events import load_event
from tests.fixtures.logs import function_logs

pytestmark = pytest.mark.usefixtures("aws")


def signup(context: Any, body: dict[str, Any] | str, **changes: Any) -> dict[str, Any]:
    from functions.signup.app import handler

    event = load_event("signup-json.json", **changes)
    event["body"] = body if isinstance(body, str) else json.dumps(body)
    return handler(event, context)


def good(phone: str = "+49 151 12345678", **extra: Any) -> dict[str, Any]:
    return {"phone": phone, "consent": True, "age_confirmed": True, **extra}


def error_of(answer: dict[str, Any]) -> tuple[int, str, str | None]:
    error = json.loads(answer["body"])["error"]
    return answer["statusCode"], error["code"], error.get("field")


def subject_of(phone: str) -> Any:
    from smsconsent import keys, store

    return store.load_subject("demo", keys.subject_hashes("demo", phone))


def test_json_signup_is_accepted_sends_one_sms_and_records_evidence(context, outbox):
    # Given the demo tenant; When a JSON signup arrives (events/signup-json.json)
    from functions.signup.app import handler

    answer = handler(load_event("signup-json.json"), context)
    # Then 202 pending, one confirmation SMS with a link, and the evidence of what was shown
    assert answer["statusCode"] == 202
    assert json.loads(answer["body"])["status"] == "pending"
    [sms] = outbox.messages()
    assert sms["to"] == "+4915112345678" and sms["kind"] == "confirmation"
    assert "Demo Shop" in sms["body"] and "STOP" in sms["body"] and "/c/" in sms["body"]
    assert "4915112345678" not in sms["body"].split("/c/")[1]  # the URL never holds the number
    subject = subject_of("+4915112345678")
    assert {k: r["state"] for k, r in subject.consents.items()} == {
        "sms:marketing": "pending",
        "sms:newsletter": "pending",
    }
    assert "4915112345678" not in subject.pk  # keyed by HMAC, never by the number
    from smsconsent import store

    [event] = store.evidence_of(subject.pk)
    assert event.type == "optin_requested"
    text = event.data["consent_text"]
    assert (text["id"], text["version"], text["language"]) == ("signup-sms", "1", "de")
    assert len(text["sha256"]) == 64
    assert event.data["purposes"] == ["marketing", "newsletter"]
    # The page URL's origin outside the personal part; the whole URL (a path or query can
    # hold the number or an e-mail) in it, erased with the IP and user agent.
    assert event.data["source"] == "https://shop.example"
    assert event.pii == {
        "ip": "203.0.113.10",
        "user_agent": load_event("signup-json.json")["headers"]["user-agent"],
        "source": "https://shop.example/newsletter#sms-form",
    }
    assert event.at == "2026-11-22T10:00:00Z"


def test_browser_form_post_is_redirected_and_sends_the_sms(context, outbox):
    from functions.signup.app import handler

    answer = handler(load_event("signup-form.json"), context)
    assert answer["statusCode"] == 303
    assert answer["headers"]["Location"] == "/v1/demo/signup"
    [sms] = outbox.messages()
    assert sms["to"] == "+4915123456789"
    # The page it lands on is the hosted "check your phone" page.
    page = handler(
        load_event("signup-form.json", requestContext={"http": {"method": "GET", "path": "/v1/demo/signup"}}),
        context,
    )
    assert page["statusCode"] == 200 and "<h1>" in page["body"]


def test_browser_form_post_goes_to_the_tenants_thank_you_page(context, clock):
    from smsconsent import store, tenants

    doc = json.loads(Path("local/tenants/demo.json").read_text())
    doc["thank_you_url"] = "https://shop.example/thanks"
    store.put_tenant_doc(doc, clock.now)
    tenants.clear_cache()
    from functions.signup.app import handler

    answer = handler(load_event("signup-form.json"), context)
    assert (answer["statusCode"], answer["headers"]["Location"]) == (303, "https://shop.example/thanks")


@pytest.mark.parametrize(
    ("name", "status", "code", "field"),
    [
        ("signup-refused-landline.json", 422, "not_mobile", "phone"),
        ("signup-refused-no-consent.json", 422, "consent_required", "consent"),
        ("signup-unknown-tenant.json", 404, "unknown_tenant", "tenant"),
    ],
)
def test_refusal_events(context, outbox, name, status, code, field):
    from functions.signup.app import handler

    assert error_of(handler(load_event(name), context)) == (status, code, field)
    assert outbox.messages() == []


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"consent": True, "age_confirmed": True}, "invalid_phone", "phone"),
        (good("not a number"), "invalid_phone", "phone"),
        (good("+49 151 1234"), "invalid_phone", "phone"),
        (good("+49 800 1234567"), "not_mobile", "phone"),
        (good("+81 90 1234 5678"), "country_not_allowed", "phone"),
        (
            {"phone": "+4915112345678", "consent": "false", "age_confirmed": True},
            "consent_required",
            "consent",
        ),
        ({"phone": "+4915112345678", "consent": True}, "age_confirmation_required", "age_confirmed"),
        (good(purposes=["marketing", "lottery"]), "unknown_purpose", "purposes"),
        (good(consent_text="other-text"), "unknown_consent_text", "consent_text"),
        (good(consent_text="signup-sms:9"), "unknown_consent_text", "consent_text"),
        (good(phone=["+4915112345678"]), "invalid_field", "phone"),
        (good(purposes=7), "invalid_field", "purposes"),
        (good(channel="fax"), "invalid_field", "channel"),
        (good(source="x" * 501), "invalid_field", "source"),
    ],
)
def test_every_refusal_is_422_with_its_field_and_writes_nothing(context, outbox, body, code, field):
    assert error_of(signup(context, body)) == (422, code, field)
    assert outbox.messages() == []
    assert subject_of("+4915112345678") is None


def test_hostile_bodies_get_clean_4xx(context):
    from functions.signup.app import handler

    cases = [
        ("", "application/json", 400, "malformed_body"),
        ("{", "application/json", 400, "malformed_body"),
        ("[1, 2]", "application/json", 400, "malformed_body"),
        ('"phone"', "application/json", 400, "malformed_body"),
        ("phone=1", "text/plain", 415, "unsupported_media_type"),
        ("x" * (64 * 1024 + 1), "application/json", 413, "body_too_large"),
    ]
    for body, content_type, status, code in cases:
        event = load_event("signup-json.json")
        event["headers"]["content-type"] = content_type
        event["body"] = body
        assert error_of(handler(event, context))[:2] == (status, code), body[:20]
    event = load_event(
        "signup-json.json", isBase64Encoded=True, body=base64.b64encode(b"\xff\xfe{}").decode()
    )
    assert error_of(handler(event, context))[:2] == (400, "malformed_body")
    event = load_event("signup-json.json", isBase64Encoded=True, body="not base64!")
    assert error_of(handler(event, context))[:2] == (400, "malformed_body")


def test_unicode_in_fields_is_kept_or_refused_cleanly(context, outbox):
    assert signup(context, good(source="Größe 🌍 ✓ 名字"))["statusCode"] == 202
    full_width = "+49 \uff11\uff15\uff11 \U0001f30d"
    assert error_of(signup(context, good(phone=full_width)))[:2] == (422, "invalid_phone")


def test_repeat_within_cooldown_sends_no_second_sms_and_answers_the_same(context, outbox, clock):
    first = signup(context, good())
    clock.advance(minutes=5)
    second = signup(context, good(purposes="newsletter"))
    assert first["statusCode"] == second["statusCode"] == 202
    assert first["body"] == second["body"]
    assert len(outbox.messages()) == 1
    # the open opt-in is not widened to a purpose its SMS never named
    subject = subject_of("+4915112345678")
    assert subject.pending["sms"]["purposes"] == ["marketing"]
    assert "sms:newsletter" not in subject.consents
    # after the cooldown, a new link names both
    clock.advance(minutes=6)
    signup(context, good(purposes="newsletter"))
    assert len(outbox.messages()) == 2
    assert subject_of("+4915112345678").pending["sms"]["purposes"] == ["marketing", "newsletter"]


def test_active_number_gets_the_same_answer_and_no_sms(context, outbox):
    from smsconsent import confirmation

    signup(context, good())
    token = outbox.messages()[0]["body"].split("/c/")[1].split()[0]
    assert confirmation.confirm(token, "203.0.113.1", "ua").status == "confirmed"
    answer = signup(context, good())
    assert answer["statusCode"] == 202 and json.loads(answer["body"])["status"] == "pending"
    assert len(outbox.messages()) == 1


def test_honeypot_gets_the_normal_answer_and_nothing_happens(context, outbox):
    answer = signup(context, good(website="http://spam.example"))
    assert answer["statusCode"] == 202
    assert outbox.messages() == []
    assert subject_of("+4915112345678") is None


def test_per_ip_budget_gives_429_with_retry_after(context, outbox):
    for i in range(10):
        assert signup(context, good(f"+49 151 1234 56{i:02d}"))["statusCode"] == 202
    answer = signup(context, good("+49 151 12345699"))
    assert error_of(answer)[:2] == (429, "rate_limited")
    assert 0 < int(answer["headers"]["Retry-After"]) <= 3600
    assert len(outbox.messages()) == 10


def test_per_number_budget_is_three_confirmation_sms_a_day(context, outbox, clock):
    for _ in range(3):
        assert signup(context, good())["statusCode"] == 202
        clock.advance(minutes=11)
    answer = signup(context, good())
    assert error_of(answer)[:2] == (429, "rate_limited")
    assert len(outbox.messages()) == 3


def test_provider_failure_gives_503_and_a_retry_sends(context, outbox, monkeypatch):
    from smsconsent.sender import SendError

    def refuse(message: Any) -> str:
        raise SendError("provider down")

    monkeypatch.setattr(outbox, "send", refuse)
    answer = signup(context, good())
    assert error_of(answer)[:2] == (503, "sms_unavailable")
    assert answer["headers"]["Retry-After"]
    monkeypatch.undo()
    assert signup(context, good())["statusCode"] == 202  # no cooldown: the first SMS never went out
    assert len(outbox.messages()) == 1


def test_cors_follows_the_tenants_origins(context):
    from functions.signup.app import handler

    preflight = handler(load_event("signup-preflight.json"), context)
    assert preflight["statusCode"] == 204
    assert preflight["headers"]["Access-Control-Allow-Origin"] == "http://127.0.0.1:3000"
    assert "POST" in preflight["headers"]["Access-Control-Allow-Methods"]
    foreign = load_event("signup-preflight.json")
    foreign["headers"]["origin"] = "https://evil.example"
    assert "Access-Control-Allow-Origin" not in handler(foreign, context)["headers"]
    answer = signup(
        context,
        good(),
        headers={**load_event("signup-json.json")["headers"], "origin": "https://evil.example"},
    )
    assert error_of(answer)[:2] == (403, "origin_not_allowed")


def test_logs_never_hold_the_number_or_the_token(context, outbox):
    # Given every log line of the function, formatted as Lambda would print it
    with function_logs() as stream:
        signup(context, good())
        signup(context, good("+49 30 12345678"))
    logs = stream.getvalue()
    token = outbox.messages()[0]["body"].split("/c/")[1].split()[0]
    # Then the lines are there, masked to the last three digits, with no token
    assert "confirmation SMS sent" in logs and "678" in logs
    for secret in ("4915112345678", "15112345678", "3012345678", token, quote(token)):
        assert secret not in logs


def test_typos_do_not_use_up_the_per_ip_budget(context, outbox):
    # Given ten refused signups (a mistyped number each) from one IP
    for i in range(10):
        assert error_of(signup(context, good(f"+49 151 12{i}")))[:2] == (422, "invalid_phone")
    # When the person gets the number right; Then it is accepted and the SMS goes out
    assert signup(context, good())["statusCode"] == 202
    assert len(outbox.messages()) == 1


def test_a_flood_of_refused_signups_from_one_ip_is_rate_limited(context, outbox, clock):
    from smsconsent import store, tenants

    doc = json.loads(Path("local/tenants/demo.json").read_text())
    doc["rate_limits"]["signups_per_ip_per_hour"] = 2
    store.put_tenant_doc(doc, clock.now)
    tenants.clear_cache()
    # Refused requests have their own, ten times larger budget per IP
    for _ in range(20):
        assert error_of(signup(context, good("not a number")))[:2] == (422, "invalid_phone")
    answer = signup(context, good("not a number"))
    assert error_of(answer)[:2] == (429, "rate_limited")
    assert 0 < int(answer["headers"]["Retry-After"]) <= 3600
    # and they never block a valid signup from the same IP
    assert signup(context, good())["statusCode"] == 202
    assert len(outbox.messages()) == 1
