"""The Twilio sender against a fake Twilio API on loopback: what its answers mean."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest

from smsconsent.sender import SendError, SmsMessage
from smsconsent.sender import twilio as twilio_sender

MESSAGE = SmsMessage(
    to="+4915112345678", body="Demo Shop: hi", tenant="demo", kind="help", origination_identity="+4930000"
)


class FakeTwilio(BaseHTTPRequestHandler):
    answer: tuple[int, dict[str, object]] = (201, {"sid": "SM123"})
    seen: list[dict[str, list[str]]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        FakeTwilio.seen.append(parse_qs(self.rfile.read(length).decode()))
        status, body = FakeTwilio.answer
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeTwilio)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setattr(
        twilio_sender, "API", f"http://127.0.0.1:{server.server_port}/Accounts/{{sid}}/Messages.json"
    )
    FakeTwilio.seen.clear()
    yield
    server.shutdown()


@pytest.mark.usefixtures("api")
def test_a_message_is_posted_with_basic_auth_and_returns_its_sid():
    FakeTwilio.answer = (201, {"sid": "SM123"})
    assert twilio_sender.TwilioSender("AC1", "token").send(MESSAGE) == "SM123"
    assert FakeTwilio.seen[0] == {"To": ["+4915112345678"], "Body": ["Demo Shop: hi"], "From": ["+4930000"]}


@pytest.mark.usefixtures("api")
@pytest.mark.parametrize(
    ("status", "code", "retryable", "opted_out"),
    [
        (400, 21610, False, True),
        (429, 20429, True, False),
        (503, None, True, False),
        (400, 21211, False, False),
    ],
)
def test_twilio_answers_are_classified(status, code, retryable, opted_out):
    FakeTwilio.answer = (status, {"code": code, "message": "x"})
    with pytest.raises(SendError) as raised:
        twilio_sender.TwilioSender("AC1", "token").send(MESSAGE)
    assert (raised.value.retryable, raised.value.opted_out) == (retryable, opted_out)


def test_an_unreachable_twilio_is_retryable(monkeypatch):
    monkeypatch.setattr(twilio_sender, "API", "http://127.0.0.1:9/Accounts/{sid}/Messages.json")
    with pytest.raises(SendError) as raised:
        twilio_sender.TwilioSender("AC1", "token").send(MESSAGE)
    assert raised.value.retryable and not raised.value.opted_out
