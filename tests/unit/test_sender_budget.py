"""A provider that does not answer must not outlast the function: the send gives up in
time for the SMS to be queued (the public functions time out after 10 s)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from smsconsent.sender import SendError, SmsMessage
from smsconsent.sender.aws import EndUserMessagingSender

FUNCTION_TIMEOUT_SECONDS = 10


@pytest.fixture
def silent_endpoint() -> Iterator[str]:
    """A TCP endpoint that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    for connection in held:
        connection.close()
    server.close()


@pytest.mark.slow
def test_a_provider_that_never_answers_is_given_up_on_well_inside_the_function_timeout(
    silent_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given AWS End User Messaging behind an endpoint that never answers
    monkeypatch.setenv("AWS_ENDPOINT_URL_PINPOINT_SMS_VOICE_V2", silent_endpoint)
    sender = EndUserMessagingSender()
    message = SmsMessage(to="+4915112345678", body="Demo Shop: confirm", tenant="demo", kind="confirmation")
    # When an SMS is sent
    started = time.monotonic()
    with pytest.raises(SendError) as failed:
        sender.send(message)
    took = time.monotonic() - started
    # Then it fails as retryable (so deliver() queues it) with time to spare for queueing
    assert failed.value.retryable
    assert took < FUNCTION_TIMEOUT_SECONDS - 3, took  # (was 24 s before the budget)
