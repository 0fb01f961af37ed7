"""Insights on the local stack: the table's stream fed to the tally beside the publisher,
the private route, and the demo tenant's insights page at /_local/insights."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from typing import Any

import pytest
from twilio.request_validator import RequestValidator

from local.stack import LocalStack
from tests.fixtures.journeys import JSON_ACCEPT, PHONE, call, link_in, outbox, signup

pytestmark = pytest.mark.usefixtures("fresh")


def _stop(stack: LocalStack) -> None:
    url = stack.url + "/v1/demo/inbound/twilio"
    sid = "SM" + hashlib.md5(b"SM-insights").hexdigest()  # noqa: S324 (an id, not security)
    params = {"AccountSid": "AC0", "Body": "STOP", "From": PHONE, "MessageSid": sid, "To": "+4915790000000"}
    signature = RequestValidator("demo-twilio-auth-token").compute_signature(url, params)
    answer = call(
        stack, "POST", "/v1/demo/inbound/twilio", form=params, headers={"X-Twilio-Signature": signature}
    )
    assert answer.status == 200


def _today(stack: LocalStack) -> str:
    return str(call(stack, "GET", "/_local/clock").json()["now"][:10])


def test_a_journey_shows_in_the_demo_tenants_insights(stack: LocalStack) -> None:
    # Given a number that signs up, confirms, is sent a campaign and texts STOP
    assert signup(stack).status == 202
    assert call(stack, "POST", link_in(stack, outbox(stack)[-1]), headers=JSON_ACCEPT).status == 200
    today = _today(stack)
    tomorrow = (date.fromisoformat(today) + timedelta(days=1)).isoformat()
    check = {
        "recipients": [PHONE],
        "campaign": "local-winter",
        "record": True,
        "category": "marketing",
        "send_at": f"{tomorrow}T10:00:00Z",  # 11:00 in Berlin, outside the quiet hours
    }
    sent = call(stack, "POST", "/v1/demo/check", json_body=check)
    assert sent.status == 200 and sent.json()["results"][0]["reason"] == "ok"
    _stop(stack)
    assert stack.settle(timeout=10)
    # When the insights of today and tomorrow are read
    answer = call(stack, "GET", f"/v1/demo/insights?from={today}&to={tomorrow}", headers=JSON_ACCEPT)
    # Then each step is counted once, the send on its day
    assert answer.status == 200
    found: dict[str, Any] = answer.json()
    assert found["signups"]["accepted"] == 1 and found["signups"]["confirmed"] == 1
    assert found["optouts"]["by_via"] == {"sms_keyword": 1} and found["optouts"]["by_country"] == {"DE": 1}
    assert found["optouts"]["by_campaign"] == [
        {"campaign": "local-winter", "sends": 1, "optouts": 1, "rate": 1.0}
    ]
    assert found["daily"] == [
        {"date": today, "signups": 1, "confirmed": 1, "optouts": 1},
        {"date": tomorrow, "signups": 0, "confirmed": 0, "optouts": 0},
    ]


def test_the_insights_page_is_served_over_the_demo_tenants_route(stack: LocalStack) -> None:
    answer = call(stack, "GET", "/_local/insights", headers={"Accept": "text/html"})
    assert answer.status == 200 and answer.headers["Content-Type"].startswith("text/html")
    assert '<meta name="insights-source" content="/v1/demo/insights">' in answer.text
    assert "<h1>SMS consent insights</h1>" in answer.text
    # Nothing from elsewhere: no script, style or font URL in the page
    assert "src=" not in answer.text and "@import" not in answer.text and "url(" not in answer.text
    assert call(stack, "POST", "/_local/insights", json_body={}).status == 405
