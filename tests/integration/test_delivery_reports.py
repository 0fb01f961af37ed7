"""Delivery reports and provider status callbacks: a provider's "opted out" records an
opt-out with evidence, its "no such number" makes the pre-send check answer
``unreachable`` for marketing until the number signs up again or texts in, temporary
failures change nothing; each report is applied once; forged callbacks are refused."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.fixtures.events import load_event
from tests.fixtures.journeys import PHONE, inbound, sign_up, states, subject

pytestmark = pytest.mark.usefixtures("aws")

SEND_AT = "2026-11-22T13:00:00Z"  # 14:00 in Berlin: no quiet hours


def reports(context: Any, *items: dict[str, Any]) -> dict[str, Any]:
    from functions.reports.app import handler

    event = load_event("delivery-reports.json")
    event["body"] = json.dumps({"reports": list(items)})
    return handler(event, context)


def report(code: str, provider: str = "twilio", message_id: str = "m-1", **extra: Any) -> dict[str, Any]:
    return {
        "phone": PHONE,
        "provider": provider,
        "status": "failed",
        "error_code": code,
        "message_id": message_id,
    } | extra


def actions(answer: dict[str, Any]) -> list[str]:
    assert answer["statusCode"] == 200, answer["body"]
    return [r["action"] for r in json.loads(answer["body"])["results"]]


def presend(context: Any, category: str = "marketing") -> str:
    from functions.presend.app import handler

    event = load_event("presend-http.json")
    event["body"] = json.dumps({"recipients": [PHONE], "category": category, "send_at": SEND_AT})
    answer = handler(event, context)
    assert answer["statusCode"] == 200, answer["body"]
    return str(json.loads(answer["body"])["results"][0]["reason"])


def table() -> list[dict[str, Any]]:
    import boto3

    from smsconsent import settings

    return sorted(
        boto3.resource("dynamodb").Table(settings.get().table_name).scan()["Items"],
        key=lambda i: (i["pk"], i["sk"]),
    )


def _mapped() -> list[tuple[str, str, str]]:
    from smsconsent import delivery_codes

    return [(p, c, a) for p, codes in delivery_codes.CODES.items() for c, a in codes.items()]


@pytest.mark.parametrize(("provider", "code", "action"), _mapped())
def test_each_mapped_code_has_its_effect(
    context: Any, outbox: Any, provider: str, code: str, action: str
) -> None:
    # Given a confirmed subscriber
    sign_up(context, outbox, confirm=True)
    assert presend(context) == "ok"
    # When a sending system reports the provider's code for a message to them
    assert actions(reports(context, report(code, provider, campaign="autumn"))) == [action]
    events = [e for e in __import__("smsconsent").store.evidence_of(subject().pk)]
    last = events[-1]
    assert last.data["via"] == "provider" and last.data["provider"] == provider
    assert last.data["error_code"] == code and last.data["provider_message_id"] == "m-1"
    assert last.data["campaign"] == "autumn"
    if action == "opted_out":
        # Then the consent is withdrawn, as by a STOP, with the provider's evidence
        assert set(states().values()) == {"opted_out"}
        assert last.type == "optout"
        assert presend(context) == "opted_out"
    else:
        # Then marketing to the number is refused as unreachable; transactional is not
        assert last.type == "number_unreachable"
        assert presend(context) == "unreachable"
        assert presend(context, "transactional") == "ok"
        assert "opted_out" not in states().values()


@pytest.mark.parametrize(
    ("provider", "code"),
    [
        ("twilio", "30003"),
        ("twilio", "30004"),
        ("twilio", "30007"),
        ("telnyx", "40008"),
        ("aws", "TEXT_BLOCKED"),
        ("vonage", "9"),
        ("sinch", "402"),
        ("cm", "1"),
        ("twilio", None),
        ("twilio", "99999"),
    ],
)
def test_temporary_ambiguous_and_unknown_codes_change_nothing(
    context: Any, outbox: Any, provider: str, code: str | None
) -> None:
    sign_up(context, outbox, confirm=True)
    before = table()
    assert actions(reports(context, report(code, provider) if code else report("", provider))) == ["none"]
    assert table() == before
    assert presend(context) == "ok"


def test_a_delivered_report_changes_nothing(context: Any, outbox: Any) -> None:
    sign_up(context, outbox, confirm=True)
    before = table()
    delivered = {"phone": PHONE, "provider": "twilio", "status": "delivered", "error_code": "21610"}
    assert actions(reports(context, delivered)) == ["none"]
    assert table() == before


def test_a_replayed_report_changes_nothing_even_after_a_start(context: Any, outbox: Any, clock: Any) -> None:
    from tests.fixtures.journeys import twilio_event

    # Given a provider opt-out reported, then the person texts START
    sign_up(context, outbox, confirm=True)
    assert actions(reports(context, report("21610"))) == ["opted_out"]
    assert inbound(context, twilio_event("START", "start-after-report"))["statusCode"] == 200
    assert states()["sms:marketing"] == "active"
    evidence_before = len(__import__("smsconsent").store.evidence_of(subject().pk))
    # When the same report comes again (a sending system's retry)
    clock.advance(days=3)
    assert actions(reports(context, report("21610"))) == ["opted_out"]
    # Then nothing changed: the START stands
    assert states()["sms:marketing"] == "active"
    assert len(__import__("smsconsent").store.evidence_of(subject().pk)) == evidence_before


def test_an_opt_out_report_for_an_unknown_number_suppresses_it(context: Any, outbox: Any) -> None:
    assert actions(reports(context, report("21610"))) == ["opted_out"]
    assert set(states().values()) == {"opted_out"}
    # and a "no such number" for a number we hold nothing on records nothing
    other = report("21614", message_id="m-2") | {"phone": "+4915112345670"}
    before = table()
    assert actions(reports(context, other)) == ["none"]
    assert len(table()) == len(before) + 1  # the report's id only


def test_unreachable_ends_when_the_number_texts_in_or_signs_up_again(
    context: Any, outbox: Any, clock: Any
) -> None:
    from tests.fixtures.journeys import twilio_event

    sign_up(context, outbox, confirm=True)
    assert actions(reports(context, report("30005"))) == ["unreachable"]
    assert presend(context) == "unreachable"
    # A HELP from the number: it exists after all
    assert inbound(context, twilio_event("HELP", "help-from-dead"))["statusCode"] == 200
    assert presend(context) == "ok"
    assert __import__("smsconsent").store.evidence_of(subject().pk)[-1].type == "number_reachable"
    # Marked again, then a new signup clears it too
    assert actions(reports(context, report("30005", message_id="m-2"))) == ["unreachable"]
    clock.advance(hours=1)
    sign_up(context, outbox)
    assert subject().unreachable is None


@pytest.mark.parametrize(
    ("items", "field"),
    [
        ([], "reports"),
        ([{"phone": "+49", "provider": "twilio", "status": "failed", "message_id": "x"}], "reports[0].phone"),
        (
            [{"phone": PHONE, "provider": "nexmo", "status": "failed", "message_id": "x"}],
            "reports[0].provider",
        ),
        (
            [{"phone": PHONE, "provider": "twilio", "status": "bounced", "message_id": "x"}],
            "reports[0].status",
        ),
        (
            [{"phone": PHONE, "provider": "twilio", "status": "failed", "error_code": "21610"}],
            "reports[0].message_id",
        ),
        (
            [{"phone": PHONE, "provider": "twilio", "status": "failed", "message_id": "x", "sms": 1}],
            "reports[0].sms",
        ),
        (
            [{"phone": PHONE, "provider": "twilio", "status": "failed", "message_id": "x" * 201}],
            "reports[0].message_id",
        ),
        (["+4915112345678"], "reports[0]"),
    ],
)
def test_a_bad_report_refuses_the_whole_body_and_applies_none(
    context: Any, outbox: Any, items: list[Any], field: str
) -> None:
    sign_up(context, outbox, confirm=True)
    before = table()
    good = report("21610")
    answer = reports(context, good, *items) if items else reports(context)
    assert answer["statusCode"] == 422, answer["body"]
    error = json.loads(answer["body"])["error"]
    shifted = field.replace("reports[0]", "reports[1]") if items else field
    assert error["field"] == shifted
    assert table() == before


def test_more_than_1000_reports_are_refused(context: Any) -> None:
    answer = reports(context, *[report("30003", message_id=f"m{i}") for i in range(1001)])
    assert answer["statusCode"] == 422 and json.loads(answer["body"])["error"]["field"] == "reports"


def test_the_sample_event_applies_each_report(context: Any, outbox: Any) -> None:
    from functions.reports.app import handler

    sign_up(context, outbox, confirm=True)
    sign_up(context, outbox, phone="+4915112345679", confirm=True)
    answer = handler(load_event("delivery-reports.json"), context)
    assert actions(answer) == ["opted_out", "unreachable", "none", "none"]


# ---- status callbacks ----------------------------------------------------------------------


def status(context: Any, name: str) -> dict[str, Any]:
    return inbound(context, load_event(name))


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("status-twilio-opted-out.json", "opted_out"),
        ("status-telnyx-opted-out.json", "opted_out"),
        ("status-twilio-unknown-number.json", "unreachable"),
        ("status-telnyx-landline.json", "unreachable"),
        ("status-twilio-delivered.json", "ok"),
    ],
)
def test_signed_status_callbacks_are_applied(context: Any, outbox: Any, name: str, expected: str) -> None:
    sign_up(context, outbox, confirm=True)
    answer = status(context, name)
    assert answer["statusCode"] == 200, answer["body"]
    assert presend(context) == expected
    # A repeat of the callback changes nothing more
    before = table()
    assert status(context, name)["statusCode"] == 200
    assert table() == before


@pytest.mark.parametrize("name", ["status-twilio-forged.json", "status-telnyx-forged.json"])
def test_a_forged_status_callback_is_refused(context: Any, outbox: Any, name: str) -> None:
    sign_up(context, outbox, confirm=True)
    before = table()
    answer = status(context, name)
    assert answer["statusCode"] == 403
    assert json.loads(answer["body"])["error"]["code"] == "invalid_signature"
    assert table() == before


def test_a_status_callback_from_another_tenants_number_is_refused(context: Any, outbox: Any) -> None:
    import base64
    from urllib.parse import parse_qsl, urlencode

    from twilio.request_validator import RequestValidator

    sign_up(context, outbox, confirm=True)
    event = load_event("status-twilio-opted-out.json")
    params = dict(parse_qsl(base64.b64decode(event["body"]).decode()))
    params["From"] = "+4915799999999"  # not one of demo's numbers
    body = urlencode(params)
    url = "http://127.0.0.1:3000/v1/demo/status/twilio"
    event["body"] = base64.b64encode(body.encode()).decode()
    event["headers"]["x-twilio-signature"] = RequestValidator("demo-twilio-auth-token").compute_signature(
        url, params
    )
    before = table()
    answer = inbound(context, event)
    assert answer["statusCode"] == 403
    assert json.loads(answer["body"])["error"]["code"] == "unknown_recipient"
    assert table() == before


def test_status_callbacks_of_providers_without_them_are_unknown(context: Any) -> None:
    event = load_event("status-twilio-opted-out.json")
    event["pathParameters"]["provider"] = "plivo"
    answer = inbound(context, event)
    assert answer["statusCode"] == 404 and json.loads(answer["body"])["error"]["code"] == "unknown_provider"


def test_provider_opt_outs_and_dead_numbers_are_published(published: Any, context: Any, outbox: Any) -> None:
    sign_up(context, outbox, confirm=True)
    sign_up(context, outbox, phone="+4915112345679", confirm=True)
    reports(context, report("21610", campaign="autumn"))
    reports(context, report("TEXT_INVALID", "aws", "m-9") | {"phone": "+4915112345679"})
    events = [e for e in published.events() if e["type"] in ("consent.opted_out", "number.unreachable")]
    assert [e["type"] for e in events] == ["consent.opted_out", "number.unreachable"]
    assert events[0]["data"]["via"] == "provider" and events[0]["data"]["campaign"] == "autumn"
    assert events[0]["data"]["provider"] == "twilio"
    assert events[1]["data"]["phone"] == "+4915112345679" and events[1]["data"]["provider"] == "aws"


def test_a_telnyx_status_on_the_profiles_one_webhook_url_is_applied_too(context: Any, outbox: Any) -> None:
    # A Telnyx messaging profile sends its delivery events to the same URL as inbound SMS
    sign_up(context, outbox, confirm=True)
    event = load_event("status-telnyx-opted-out.json")
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/v1/demo/inbound/telnyx"
    event["routeKey"] = event["requestContext"]["routeKey"] = "POST /v1/{tenant}/inbound/{provider}"
    assert inbound(context, event)["statusCode"] == 200
    assert presend(context) == "opted_out"
