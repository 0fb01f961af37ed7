"""The local stack over real HTTP: routing from template.yaml, the signup and confirmation
journey through the real handlers, refusals, and the local-only routes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from local.stack import LocalStack
from tests.fixtures.journeys import JSON_ACCEPT, PHONE, call, link_in, move_clock, outbox, signup

ROOT = Path(__file__).resolve().parents[2]
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
pytestmark = pytest.mark.usefixtures("fresh")


def status_of(stack: LocalStack, method: str, path: str) -> tuple[int, str]:
    answer = call(stack, method, path, headers=JSON_ACCEPT)
    return answer.status, answer.json()["status"]


# ---- basics and routing ------------------------------------------------------------------------


def test_health(stack: LocalStack) -> None:
    answer = call(stack, "GET", "/_local/health")
    assert (answer.status, answer.json()) == (200, {"status": "ok"})


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/nope"),
        ("GET", "/v1/demo"),  # a prefix of a route is no route
        ("DELETE", "/c/abcdefghijklmnopqrstuvwx"),  # a path with a route, but not this method
        ("GET", "/c/abcdefghijklmnopqrstuvwx/"),  # a trailing slash is another path
        ("GET", "/c/abcdefghijklmnopqrstuvwx/more"),  # {token} is one segment
        ("POST", "/v1//signup"),  # {tenant} is never empty
    ],
)
def test_no_route_is_a_404_like_api_gateway(stack: LocalStack, method: str, path: str) -> None:
    answer = call(stack, method, path)
    assert answer.status == 404
    assert answer.json() == {"message": "Not Found"}


def test_path_parameters_reach_the_handler_url_decoded(stack: LocalStack) -> None:
    # Given /v1/%64emo/signup ("%64" is "d"), When it is preflighted,
    # Then the handler got tenant "demo" (an unknown tenant would be a 404).
    assert call(stack, "OPTIONS", "/v1/%64emo/signup").status == 204
    answer = call(stack, "OPTIONS", "/v1/no-such-tenant/signup")
    assert answer.status == 404
    assert answer.json()["error"]["code"] == "unknown_tenant"


def test_head_of_the_confirmation_page_sends_headers_only(stack: LocalStack) -> None:
    signup(stack)
    path = link_in(stack, outbox(stack)[0])
    answer = call(stack, "HEAD", path)
    assert answer.status == 200
    assert answer.headers["Content-Type"].startswith("text/html")
    assert answer.body == b""
    assert status_of(stack, "GET", path) == (200, "pending")


# ---- the journey ------------------------------------------------------------------------------


def test_signup_confirm_journey(stack: LocalStack) -> None:
    # Given a JSON signup with consent and age confirmed
    answer = signup(stack)
    assert answer.status == 202
    assert answer.json()["status"] == "pending"

    # Then exactly one confirmation SMS went to the number, with a link to this stack
    messages = outbox(stack)
    assert len(messages) == 1
    assert messages[0]["to"] == PHONE
    assert messages[0]["kind"] == "confirmation"
    assert messages[0]["tenant"] == "demo"
    path = link_in(stack, messages[0])

    # When the link is opened (twice), Then a page with a POST button shows, nothing changes
    for _ in range(2):
        page = call(stack, "GET", path, headers={"Accept": BROWSER_ACCEPT})
        assert page.status == 200
        assert page.headers["Content-Type"].startswith("text/html")
        assert re.search(r'<form[^>]*method="post"', page.text)
        assert "<button" in page.text
        assert status_of(stack, "GET", path) == (200, "pending")

    # When the button posts, Then it is confirmed; a second post says so
    assert status_of(stack, "POST", path) == (200, "confirmed")
    assert status_of(stack, "POST", path) == (200, "already_confirmed")
    assert status_of(stack, "GET", path) == (200, "already_confirmed")
    confirmed_page = call(stack, "POST", path, headers={"Accept": BROWSER_ACCEPT})
    assert confirmed_page.status == 200
    assert 'data-status="already_confirmed"' in confirmed_page.text

    # And signing up again while active sends nothing and answers the same
    assert signup(stack).json()["status"] == "pending"
    assert len(outbox(stack)) == 1


def test_unknown_token(stack: LocalStack) -> None:
    assert status_of(stack, "GET", "/c/AAAAAAAAAAAAAAAAAAAAAAAA") == (404, "unknown_token")
    assert status_of(stack, "POST", "/c/AAAAAAAAAAAAAAAAAAAAAAAA") == (404, "unknown_token")
    page = call(stack, "GET", "/c/AAAAAAAAAAAAAAAAAAAAAAAA", headers={"Accept": BROWSER_ACCEPT})
    assert page.status == 404
    assert page.headers["Content-Type"].startswith("text/html")


def test_browser_form_post_is_redirected_to_check_your_phone(stack: LocalStack) -> None:
    form = {"phone": "0151 12345678", "consent": "on", "age_confirmed": "on", "purposes": ["marketing"]}
    answer = call(
        stack,
        "POST",
        "/v1/demo/signup",
        form=form,
        headers={"Accept": BROWSER_ACCEPT, "Accept-Language": "en-GB,en;q=0.9"},
    )
    assert answer.status == 303
    location = answer.headers["Location"]
    assert location
    assert len(outbox(stack)) == 1
    assert outbox(stack)[0]["to"] == PHONE

    landing = call(stack, "GET", urllib.parse.urljoin("/v1/demo/signup", location))
    assert landing.status == 200
    assert landing.headers["Content-Type"].startswith("text/html")
    assert "Check your phone" in landing.text


def test_a_link_expires_after_48_hours(stack: LocalStack) -> None:
    signup(stack)
    path = link_in(stack, outbox(stack)[0])
    assert move_clock(stack, advance_seconds=49 * 3600).status == 200
    assert status_of(stack, "GET", path) == (410, "expired")
    assert status_of(stack, "POST", path) == (410, "expired")


def test_cooldown_then_a_new_link_replaces_the_old(stack: LocalStack) -> None:
    # Given a pending signup
    signup(stack)
    first = link_in(stack, outbox(stack)[0])

    # When the same number signs up again within 10 minutes, Then no second SMS
    move_clock(stack, advance_seconds=5 * 60)
    assert signup(stack).status == 202
    assert len(outbox(stack)) == 1

    # When it signs up after the cooldown, Then a new SMS with a new link
    move_clock(stack, advance_seconds=6 * 60)
    assert signup(stack).status == 202
    messages = outbox(stack)
    assert len(messages) == 2
    second = link_in(stack, messages[1])
    assert second != first

    # And the older link is expired (replaced), the newer one confirms
    assert status_of(stack, "GET", first) == (410, "expired")
    assert status_of(stack, "POST", first) == (410, "expired")
    assert status_of(stack, "POST", second) == (200, "confirmed")


# ---- refusals ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "code", "field"),
    [
        ({"phone": "12"}, "invalid_phone", "phone"),
        ({"phone": "+49 30 12345678"}, "not_mobile", "phone"),
        ({"phone": "+81 90 1234 5678"}, "country_not_allowed", "phone"),
        ({"consent": None}, "consent_required", "consent"),
        ({"consent": "no"}, "consent_required", "consent"),
        ({"age_confirmed": None}, "age_confirmation_required", "age_confirmed"),
        ({"purposes": ["marketing", "lottery"]}, "unknown_purpose", "purposes"),
        ({"consent_text": "no-such-text"}, "unknown_consent_text", "consent_text"),
    ],
)
def test_refusals(stack: LocalStack, changes: dict[str, Any], code: str, field: str) -> None:
    answer = signup(stack, **changes)
    assert answer.status == 422
    assert answer.json()["error"]["code"] == code
    assert answer.json()["error"]["field"] == field
    assert outbox(stack) == []


def test_unknown_tenant(stack: LocalStack) -> None:
    answer = call(
        stack, "POST", "/v1/nobody/signup", json_body={"phone": PHONE, "consent": True}, headers=JSON_ACCEPT
    )
    assert answer.status == 404
    assert answer.json()["error"]["code"] == "unknown_tenant"


def test_body_over_64_kib_is_413(stack: LocalStack) -> None:
    answer = signup(stack, source="x" * (65 * 1024))
    assert answer.status == 413
    assert "error" in answer.json()
    assert outbox(stack) == []


def test_body_over_api_gateway_limit_is_413_before_the_handler(stack: LocalStack) -> None:
    answer = call(
        stack,
        "POST",
        "/v1/demo/signup",
        data=b"x" * (10 * 1024 * 1024 + 1),
        headers={"Content-Type": "application/json"},
    )
    assert answer.status == 413
    assert answer.json() == {"message": "Request Entity Too Large"}


@pytest.mark.parametrize(
    ("method", "host"), [("POST", "evil.example"), ("PUT", "localhost"), ("GET", "127.0.0.1")]
)
def test_only_the_import_buckets_own_upload_is_read_past_api_gateways_limit(
    stack: LocalStack, method: str, host: str
) -> None:
    """The bucket route takes a file of 128 MB; a request it would refuse anyway (another
    method, or a page of another site through DNS rebinding) is not read that far into
    memory first: it is held to API Gateway's 10 MB as every other request."""
    answer = call(
        stack,
        method,
        "/_local/import-bucket/demo/big.csv",
        data=b"x" * (10 * 1024 * 1024 + 1),
        headers={"Host": host, "X-Requested-With": "t"},
    )
    assert answer.status == 413
    assert answer.json() == {"message": "Request Entity Too Large"}


def test_broken_json_is_400(stack: LocalStack) -> None:
    answer = call(
        stack,
        "POST",
        "/v1/demo/signup",
        data=b'{"phone": "+4915112345678", ',
        headers={"Content-Type": "application/json", **JSON_ACCEPT},
    )
    assert answer.status == 400
    assert answer.json()["error"]["code"] == "malformed_body"


def test_more_than_10_signups_from_one_ip_in_an_hour_are_rate_limited(stack: LocalStack) -> None:
    # Given a time early in an hour window, so all attempts count in one window
    move_clock(stack, now="2026-11-23T10:00:05Z")
    for i in range(10):
        assert signup(stack, phone=f"+49151123456{i:02d}").status == 202
    answer = signup(stack, phone="+4915112345699")
    assert answer.status == 429
    assert answer.json()["error"]["code"] == "rate_limited"
    retry_after = int(answer.headers["Retry-After"])
    assert 0 < retry_after <= 3600
    assert len(outbox(stack)) == 10


def test_a_filled_honeypot_gets_the_normal_answer_and_nothing_happens(stack: LocalStack) -> None:
    answer = signup(stack, website="http://spam.example")
    assert answer.status == 202
    assert answer.json()["status"] == "pending"
    assert outbox(stack) == []


# ---- local-only routes ------------------------------------------------------------------------


def _now(stack: LocalStack) -> datetime:
    return datetime.fromisoformat(call(stack, "GET", "/_local/clock").json()["now"].replace("Z", "+00:00"))


def test_clock_get_set_and_advance(stack: LocalStack) -> None:
    assert abs(_now(stack) - datetime.now(UTC)) < timedelta(seconds=5)

    answer = move_clock(stack, now="2030-01-02T03:04:05Z")
    assert answer.status == 200
    assert answer.json()["now"].startswith("2030-01-02T03:04:0")
    assert abs(_now(stack) - datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)) < timedelta(seconds=5)

    moved = move_clock(stack, advance_seconds=3600).json()["now"]
    assert moved.startswith("2030-01-02T04:04:0")
    assert move_clock(stack, advance_seconds=-7200).json()["now"].startswith("2030-01-02T02:04:0")

    # The functions read the same clock
    signup(stack)
    assert outbox(stack)[0]["sent_at"].startswith("2030-01-02T02:0")


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        (b"not json", "malformed_body", None),
        (b"[]", "malformed_body", None),
        (b"{}", "malformed_body", None),
        (b'{"now": "2030-01-01T00:00:00Z", "advance_seconds": 1}', "malformed_body", None),
        (b'{"now": "yesterday"}', "invalid_field", "now"),
        (b'{"now": 12}', "invalid_field", "now"),
        (b'{"advance_seconds": "60"}', "invalid_field", "advance_seconds"),
        (b'{"advance_seconds": true}', "invalid_field", "advance_seconds"),
        (b'{"advance_seconds": 1e300}', "invalid_field", "advance_seconds"),
        (b'{"advance_seconds": 3e11}', "invalid_field", "advance_seconds"),  # past year 9000
        (b'{"now": "1960-01-01T00:00:00Z"}', "invalid_field", "now"),
    ],
)
def test_clock_refuses_bad_input(stack: LocalStack, body: bytes, code: str, field: str | None) -> None:
    before = _now(stack)
    answer = call(stack, "POST", "/_local/clock", data=body, headers={"Content-Type": "application/json"})
    assert answer.status == 400
    error = answer.json()["error"]
    assert error["code"] == code
    assert error.get("field") == field
    assert abs(_now(stack) - before) < timedelta(seconds=5)


def _event(name: str, stack: LocalStack) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((ROOT / "events" / name).read_text())
    # The event's page origin is the default local URL; this stack runs on another port.
    if "origin" in event.get("headers", {}):
        event["headers"]["origin"] = stack.url
    return event


def test_invoke_with_an_event_file(stack: LocalStack) -> None:
    event = _event("signup-json.json", stack)
    answer = call(stack, "POST", "/_local/invoke/SignupFunction", json_body=event)
    assert answer.status == 200
    result = answer.json()
    assert result["statusCode"] == 202
    assert json.loads(result["body"])["status"] == "pending"
    assert [m["to"] for m in outbox(stack)] == [PHONE]


def test_invoke_by_folder_name(stack: LocalStack) -> None:
    event = _event("confirm-get.json", stack)
    answer = call(stack, "POST", "/_local/invoke/confirm", json_body=event)
    assert answer.status == 200
    assert answer.json()["statusCode"] == 404  # the event's token is not in this table


def test_invoke_presend_through_the_tenants_alias(stack: LocalStack) -> None:
    # As in AWS, a direct pre-send invocation names the alias of its tenant: Function:tenant-<id>.
    event = _event("presend-direct.json", stack)
    for name in ("PresendFunction:tenant-demo", "presend:tenant-demo"):
        answer = call(stack, "POST", f"/_local/invoke/{name}", json_body=event)
        assert answer.status == 200
        assert answer.json()["summary"]["allowed"] + answer.json()["summary"]["denied"] == 5
    for name in ("PresendFunction", "PresendFunction:tenant-other", "PresendFunction:$LATEST"):
        error = call(stack, "POST", f"/_local/invoke/{name}", json_body=event).json()["error"]
        assert (error["code"], error["status"], error["field"]) == ("tenant_not_bound", 403, "tenant")
    answer = call(stack, "POST", "/_local/invoke/PresendFunction:bad%20alias!", json_body=event)
    assert answer.status == 400
    assert answer.json()["error"]["field"] == "function"


def test_invoke_refuses_unknown_functions_and_non_json(stack: LocalStack) -> None:
    answer = call(stack, "POST", "/_local/invoke/NoSuchFunction", json_body={})
    assert answer.status == 404
    assert answer.json()["error"]["code"] == "unknown_function"
    answer = call(
        stack, "POST", "/_local/invoke/signup", data=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert answer.status == 400
    assert answer.json()["error"]["code"] == "malformed_body"


def test_reset_wipes_data_outbox_and_clock(stack: LocalStack) -> None:
    # Given a pending signup at a moved clock
    move_clock(stack, now="2031-05-05T12:00:00Z")
    signup(stack)
    path = link_in(stack, outbox(stack)[0])

    # When the stack is reset
    assert call(stack, "POST", "/_local/reset", data=b"", headers={"X-Requested-With": "tests"}).status == 200

    # Then the outbox is empty, the link unknown, the clock real, the tenant still there
    assert outbox(stack) == []
    assert status_of(stack, "GET", path) == (404, "unknown_token")
    assert abs(_now(stack) - datetime.now(UTC)) < timedelta(seconds=5)
    assert signup(stack).status == 202
    assert len(outbox(stack)) == 1


def test_outbox_as_html_links_urls_and_escapes_the_rest(stack: LocalStack) -> None:
    from smsconsent.sender.base import SmsMessage
    from smsconsent.sender.outbox import OUTBOX

    signup(stack)
    path = link_in(stack, outbox(stack)[0])
    OUTBOX.send(
        SmsMessage(
            to="+4915100000000",
            body='<script>alert(1)</script> see https://x.example/?a=1&b="2"',
            tenant="demo",
            kind="help",
        )
    )

    page = call(stack, "GET", "/_local/outbox", headers={"Accept": BROWSER_ACCEPT})
    assert page.status == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert f'<a href="{stack.url}{path}">' in page.text
    assert "<script>" not in page.text
    assert "&lt;script&gt;" in page.text
    assert '<a href="https://x.example/?a=1&amp;b=">' in page.text

    # JSON stays the default, oldest first, with exactly the documented keys
    messages = outbox(stack)
    assert [m["kind"] for m in messages] == ["confirmation", "help"]
    assert set(messages[0]) == {"to", "body", "tenant", "kind", "sent_at"}


def test_demo_form(stack: LocalStack) -> None:
    page = call(stack, "GET", "/", headers={"Accept": BROWSER_ACCEPT, "Accept-Language": "en"})
    assert page.status == 200
    html = page.text
    assert 'action="/v1/demo/signup"' in html
    assert 'method="post"' in html
    for name in ("phone", "consent", "age_confirmed", "website", "consent_text", "source"):
        assert f'name="{name}"' in html
    assert 'value="marketing"' in html and 'value="newsletter"' in html
    assert "Yes, I want to get offers and news from Demo Shop by SMS" in html
    assert re.search(r'name="website"[^>]*tabindex="-1"[^>]*autocomplete="off"', html)
    assert 'value="signup-sms:1"' in html
    assert 'href="/_local/outbox"' in html
    german = call(stack, "GET", "/", headers={"Accept-Language": "de-DE"}).text
    assert "Ja, ich möchte Angebote" in german


@pytest.mark.parametrize(
    ("handler", "status", "body"),
    [
        (lambda event, context: 1 / 0, 500, {"message": "Internal Server Error"}),
        (lambda event, context: {"statusCode": "nope"}, 500, {"message": "Internal Server Error"}),
        (lambda event, context: {"route": event["routeKey"]}, 200, {"route": "POST /v1/{tenant}/signup"}),
    ],
)
def test_a_failing_or_odd_function_is_answered_like_api_gateway(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch, handler: Any, status: int, body: Any
) -> None:
    stack.handler(stack.functions["SignupFunction"])  # imported, then replaced for this test
    monkeypatch.setitem(stack._handlers, "SignupFunction", handler)
    answer = signup(stack)
    assert (answer.status, answer.json()) == (status, body)


def test_a_lone_surrogate_in_a_text_field_is_no_500(stack: LocalStack) -> None:
    body = b'{"phone": "+4915112345678", "consent": true, "age_confirmed": true, "source": "\\ud800"}'
    answer = call(
        stack,
        "POST",
        "/v1/demo/signup",
        data=body,
        headers={"Content-Type": "application/json", **JSON_ACCEPT},
    )
    assert answer.status < 500


def test_a_twilio_stop_signed_over_the_local_url_wins_over_the_link(stack: LocalStack) -> None:
    # Given a pending signup
    signup(stack)
    path = link_in(stack, outbox(stack)[0])

    # When Twilio posts STOP, signed over the URL it called (the request URL: the demo
    # tenant configures none), Then the local event lets the function rebuild that URL
    url = stack.url + "/v1/demo/inbound/twilio"
    sid = "SM" + "0" * 32  # Twilio's shape: SM and 32 hex digits
    params = {"AccountSid": "AC0", "Body": "STOP", "From": PHONE, "MessageSid": sid, "To": "+4915790000000"}
    signed = url + "".join(key + params[key] for key in sorted(params))
    signature = base64.b64encode(hmac.new(b"demo-twilio-auth-token", signed.encode(), hashlib.sha1).digest())
    answer = call(
        stack,
        "POST",
        "/v1/demo/inbound/twilio",
        form=params,
        headers={"X-Twilio-Signature": signature.decode()},
    )
    assert answer.status == 200
    assert "<Response>" in answer.text

    # Then STOP wins: the link no longer confirms
    assert status_of(stack, "POST", path) == (409, "opted_out")

    # And a wrong signature changes nothing and gets 403
    answer = call(
        stack, "POST", "/v1/demo/inbound/twilio", form=params, headers={"X-Twilio-Signature": "bad"}
    )
    assert answer.status == 403


# ---- only this machine's pages may drive the local-only and private routes ------------------

_LOCAL_AND_PRIVATE = [
    ("GET", "/", None),
    ("GET", "/_local/outbox", None),
    ("POST", "/_local/reset", {}),
    ("POST", "/_local/clock", {"advance_seconds": 3600}),
    ("GET", f"/v1/demo/subjects/{urllib.parse.quote(PHONE)}", None),
    ("POST", "/v1/demo/check", {"recipients": [PHONE]}),
]


@pytest.mark.parametrize(("method", "path", "body"), _LOCAL_AND_PRIVATE)
@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:3000", "192.168.1.20:3000", "127.0.0.1.evil.example"]
)
def test_a_foreign_host_is_refused_on_local_and_private_routes(
    stack: LocalStack, method: str, path: str, body: Any, host: str
) -> None:
    # Given a pending signup (DNS rebinding: a page of evil.example resolving to 127.0.0.1)
    assert signup(stack).status == 202
    before = _now(stack)
    answer = call(stack, method, path, json_body=body, headers={"Host": host})
    # Then the stack answers 421 with a JSON error naming the host, and does nothing
    assert answer.status == 421
    assert answer.json()["error"]["code"] == "host_not_allowed"
    assert answer.json()["error"]["field"] == "host"
    assert len(outbox(stack)) == 1
    assert abs(_now(stack) - before) < timedelta(seconds=5)


@pytest.mark.parametrize(
    "host",
    ["localhost", "localhost:3000", "LocalHost:80", "127.0.0.1", "127.8.9.10:3000", "[::1]:3000", "[::1]"],
)
def test_loopback_hosts_are_served(stack: LocalStack, host: str) -> None:
    assert call(stack, "GET", "/_local/outbox", headers={"Host": host}).status == 200
    assert (
        call(stack, "POST", "/_local/clock", json_body={"advance_seconds": 1}, headers={"Host": host}).status
        == 200
    )


@pytest.mark.parametrize(
    ("method", "path", "headers"),
    [
        ("POST", "/_local/reset", {}),
        ("POST", "/_local/reset", {"Content-Type": "text/plain"}),
        ("POST", "/_local/reset", {"Content-Type": "application/x-www-form-urlencoded"}),
        ("POST", "/_local/invoke/ExpiryFunction", {"Content-Type": "multipart/form-data; boundary=x"}),
        ("POST", "/v1/demo/check", {"Content-Type": "text/plain"}),
        ("POST", f"/v1/demo/subjects/{urllib.parse.quote(PHONE)}/optout", {"Content-Type": "text/plain"}),
        ("DELETE", f"/v1/demo/subjects/{urllib.parse.quote(PHONE)}", {}),
    ],
)
def test_a_request_a_cross_site_form_could_send_is_refused(
    stack: LocalStack, method: str, path: str, headers: dict[str, str]
) -> None:
    # Given a pending signup (CSRF: a page elsewhere posting a form or a no-cors fetch)
    assert signup(stack).status == 202
    answer = call(stack, method, path, data=b"{}" if method == "POST" else None, headers=headers)
    # Then it is refused, saying what to send, and nothing changes
    assert answer.status == 403
    error = answer.json()["error"]
    assert error["code"] == "cross_site_request" and error["field"] == "content-type"
    assert "X-Requested-With" in error["message"]
    assert len(outbox(stack)) == 1
    assert (
        call(stack, "GET", f"/v1/demo/subjects/{urllib.parse.quote(PHONE)}", headers=JSON_ACCEPT).status
        == 200
    )


def test_a_custom_header_or_json_lets_scripts_and_tools_through(stack: LocalStack) -> None:
    assert call(stack, "POST", "/_local/reset", data=b"", headers={"X-Requested-With": "curl"}).status == 200
    assert signup(stack).status == 202
    erase = call(
        stack,
        "DELETE",
        f"/v1/demo/subjects/{urllib.parse.quote(PHONE)}",
        headers={**JSON_ACCEPT, "X-Requested-With": "x"},
    )
    assert erase.status == 200


def test_public_routes_take_any_host_and_form_posts_as_before(stack: LocalStack) -> None:
    # A website's form (through a tunnel's host name, say) still signs up.
    answer = call(
        stack,
        "POST",
        "/v1/demo/signup",
        form={"phone": PHONE, "consent": "yes", "age_confirmed": "yes"},
        headers={"Host": "tunnel.example.net", **JSON_ACCEPT},
    )
    assert answer.status == 202
    assert len(outbox(stack)) == 1


def test_a_signup_is_answered_before_it_is_processed_and_its_sms_follows(stack: LocalStack) -> None:
    # Given the stack's SignupQueue worker paused
    assert stack.signup_queue is not None
    stack.signup_queue.stop()
    try:
        # When a signup arrives; Then it is answered at once and nothing is sent yet
        assert signup(stack).status == 202
        assert call(stack, "GET", "/_local/outbox").json()["messages"] == []
    finally:
        stack.signup_queue.start()
    # Then the worker processes it: the confirmation SMS is in the outbox, once
    [message] = outbox(stack)
    assert message["to"] == PHONE and message["kind"] == "confirmation"
    assert call(stack, "POST", link_in(stack, message), headers=JSON_ACCEPT).json() == {"status": "confirmed"}
    assert stack.signup_queue.dead == []
