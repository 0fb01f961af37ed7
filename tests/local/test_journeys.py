"""Whole journeys over HTTP on the local stack: confirm, STOP over a signed Twilio webhook,
START, the privacy routes, and the retention job invoked after moving the clock."""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import quote

import pytest
from twilio.request_validator import RequestValidator

from local.stack import LocalStack
from tests.fixtures.journeys import JSON_ACCEPT, PHONE, call, link_in, move_clock, outbox, signup

pytestmark = pytest.mark.usefixtures("fresh")


def twilio(stack: LocalStack, body: str, sid: str) -> Any:
    """A signed Twilio webhook; ``sid`` is a label for a SID of Twilio's shape."""
    url = stack.url + "/v1/demo/inbound/twilio"
    sid = "SM" + hashlib.md5(sid.encode()).hexdigest()  # noqa: S324 (an id, not security)
    params = {"AccountSid": "AC0", "Body": body, "From": PHONE, "MessageSid": sid, "To": "+4915790000000"}
    signature = RequestValidator("demo-twilio-auth-token").compute_signature(url, params)
    return call(
        stack, "POST", "/v1/demo/inbound/twilio", form=params, headers={"X-Twilio-Signature": signature}
    )


def export(stack: LocalStack) -> dict[str, Any]:
    answer = call(stack, "GET", f"/v1/demo/subjects/{quote(PHONE)}", headers=JSON_ACCEPT)
    assert answer.status == 200
    found: dict[str, Any] = answer.json()
    return found


def states(stack: LocalStack) -> dict[str, str]:
    return {f"{c['channel']}:{c['purpose']}": c["state"] for c in export(stack)["consents"]}


def confirmed(stack: LocalStack) -> None:
    assert signup(stack).status == 202
    path = link_in(stack, outbox(stack)[-1])
    assert call(stack, "POST", path, headers=JSON_ACCEPT).json() == {"status": "confirmed"}


def test_stop_and_start_over_a_signed_twilio_webhook(stack: LocalStack) -> None:
    # Given a confirmed number
    confirmed(stack)
    # When it texts STOP; Then it is opted out at once, with its evidence, and TwiML answers
    answer = twilio(stack, "STOP", "SM-local-1")
    assert answer.status == 200 and "<Message>" in answer.text
    assert states(stack) == {"sms:marketing": "opted_out", "sms:newsletter": "opted_out"}
    held = export(stack)
    stop_event = next(e for e in held["evidence"] if e["type"] == "optout")
    assert stop_event["data"]["provider_message_id"] == "SM" + hashlib.md5(b"SM-local-1").hexdigest()  # noqa: S324
    assert held["chain"]["verified"] is True
    # When it texts START; Then what was active before the STOP is active again
    twilio(stack, "START", "SM-local-2")
    assert states(stack)["sms:marketing"] == "active"


def test_retention_job_invoked_after_moving_the_clock(stack: LocalStack) -> None:
    # Given a pending signup and a confirmed one
    assert signup(stack, phone="+4915112345600").status == 202
    confirmed(stack)
    # When the clock moves past the token lifetime and the job is invoked
    move_clock(stack, advance_seconds=49 * 3600)
    summary = call(stack, "POST", "/_local/invoke/expiry", json_body={}).json()
    # Then the pending signup is gone, the confirmed one stays
    assert summary["pending_expired"] == 1 and summary["deleted"] == 1
    assert states(stack)["sms:marketing"] == "active"
    # When 541 days pass without contact; Then the consent lapses
    move_clock(stack, advance_seconds=541 * 86400)
    summary = call(stack, "POST", "/_local/invoke/ExpiryFunction", json_body={}).json()
    assert summary["lapsed"] == 1
    assert states(stack)["sms:marketing"] == "lapsed"


def test_erasure_keeps_the_suppression_of_an_opted_out_number(stack: LocalStack) -> None:
    confirmed(stack)
    twilio(stack, "STOP", "SM-local-3")
    # X-Requested-With: the local stack's stand-in for IAM refuses what a cross-site page could send.
    answer = call(
        stack,
        "DELETE",
        f"/v1/demo/subjects/{quote(PHONE)}",
        headers={**JSON_ACCEPT, "X-Requested-With": "tests"},
    )
    erased = answer.json()
    assert {k: erased.pop(k) for k in ("erased", "held", "suppression_kept", "outcome")} == {
        "erased": True,
        "held": True,
        "suppression_kept": True,
        "outcome": "suppression_kept",
    }
    # what the answer adds in words: a sentence, and the marker and the evidence kept
    assert erased["summary"] and [k["what"] for k in erased["kept"]] == ["suppression_marker", "evidence"]
    held = export(stack)
    assert held["suppressed"] is True and held["subject"]["phone_stored"] is False
