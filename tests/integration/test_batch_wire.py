"""The pre-send reader's BatchGetItem on the wire, against a fake DynamoDB on loopback that
records every request and answers from a script (with DynamoDB's ``x-amz-crc32``). A page
goes first the short way (``store.batch._Wire``: orjson's body, signed by ``SigV4Auth``):
each signature is recomputed with botocore's ``SigV4Auth`` from the request as received,
Content-Length counts its UTF-8 bytes; anything but a clean answer (throttling, a 500, a
dropped connection, a bad checksum, a body that is no JSON object) sends the page again
through botocore, whose retries send the same request again (each try signed again);
unprocessed keys go back as DynamoDB answered them."""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

TABLE = "sms-consent-wire"
REGION = "eu-central-1"
JSON_1_0 = "application/x-amz-json-1.0"
# Tenants with letters outside ASCII: orjson writes them as UTF-8, json.dumps as \u escapes.
PKS = [f"SUBJ#{tenant}#t1.{i:064x}" for i, tenant in enumerate(["demo", "bäckerei", "東京"])]


@dataclass
class Received:
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes


@dataclass
class FakeDynamo:
    """Answers each request with the next step of ``script``: (status, JSON body), (status,
    raw body bytes), "drop" (the connection closed without an answer), or "bad checksum" (the
    next step's answer with a wrong ``x-amz-crc32``)."""

    script: list[tuple[int, Any] | str] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)


def _handler(fake: FakeDynamo) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            fake.received.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            step = fake.script.pop(0)
            if step == "drop":
                self.close_connection = True
                return
            checksum_off = step == "bad checksum"
            if checksum_off:
                step = fake.script.pop(0)
            assert not isinstance(step, str)
            status, answer = step
            data = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", JSON_1_0)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("x-amz-crc32", str(zlib.crc32(data) + checksum_off))
            self.send_header("x-amzn-RequestId", f"req-{len(fake.received)}")
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_: Any) -> None:
            pass

    return Handler


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeDynamo]:
    """The pre-send reader pointed at a fake DynamoDB on loopback; retries do not wait."""
    from botocore.retries.standard import ExponentialBackoff

    from smsconsent import settings
    from smsconsent.store import batch

    fake = FakeDynamo()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("DYNAMODB_ENDPOINT", f"http://127.0.0.1:{server.server_address[1]}")
    monkeypatch.setenv("TABLE_NAME", TABLE)
    monkeypatch.setattr(batch, "sleep", lambda seconds: None)
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0)
    settings.reset()
    batch.reset()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        monkeypatch.undo()
        settings.reset()
        batch.reset()


def _signature_holds(received: Received, endpoint: str, credentials: Any) -> bool:
    """SigV4 recomputed by botocore's ``SigV4Auth`` from the request as received (the
    headers it says it signed, the body that arrived): True when it is the one sent."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    found = re.fullmatch(
        r"AWS4-HMAC-SHA256 Credential=[^/]+/\d{8}/([^/]+)/([^/]+)/aws4_request, "
        r"SignedHeaders=([^,]+), Signature=([0-9a-f]{64})",
        received.headers["authorization"],
    )
    assert found is not None, received.headers["authorization"]
    region, service, names, signature = found.groups()
    request = AWSRequest(
        method="POST",
        url=endpoint + received.path,
        data=received.body,
        headers={name: received.headers[name] for name in names.split(";")},
    )
    request.context["timestamp"] = received.headers["x-amz-date"]
    auth = SigV4Auth(credentials, service, region)
    canonical = auth.canonical_request(request)
    # The payload's hash is the last line of the canonical request: the body is signed.
    assert canonical.rsplit("\n", 1)[1] == hashlib.sha256(received.body).hexdigest()
    return bool(auth.signature(auth.string_to_sign(request, canonical), request) == signature)


def _item(pk: str) -> dict[str, Any]:
    return {
        "pk": {"S": pk},
        "version": {"N": "3"},
        "consents": {"S": "{}"},
        "zones": {"S": "x|Europe/Berlin"},
    }


def _keys(pks: list[str]) -> list[dict[str, Any]]:
    return [{"pk": {"S": pk}, "sk": {"S": "SUBJECT"}} for pk in pks]


def _answer(pks: list[str], left: list[str] | None = None) -> tuple[int, dict[str, Any]]:
    from smsconsent.store import batch

    unprocessed = {}
    if left:
        unprocessed = {
            TABLE: {
                "Keys": _keys(left),
                "ConsistentRead": True,
                "ProjectionExpression": batch._PROJECTION,
                "ExpressionAttributeNames": batch._NAMES,
            }
        }
    return 200, {"Responses": {TABLE: [_item(pk) for pk in pks]}, "UnprocessedKeys": unprocessed}


def _signed_and_said(sent: list[Received]) -> None:
    """Every request says its length in bytes, is a BatchGetItem, and is signed over the
    body that arrived: recomputed, each signature is the one sent."""
    from smsconsent import aws
    from smsconsent.store import batch

    credentials = aws.session().get_credentials().get_frozen_credentials()
    endpoint = batch.client().meta.endpoint_url
    for request in sent:
        assert int(request.headers["content-length"]) == len(request.body)
        assert request.headers["x-amz-target"] == "DynamoDB_20120810.BatchGetItem"
        assert request.headers["content-type"] == JSON_1_0
        assert _signature_holds(request, endpoint, credentials)


THROTTLED = {"__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException"}


def test_the_body_sent_is_the_body_signed_through_retries_and_unprocessed_keys(fake: FakeDynamo) -> None:
    from botocore.serialize import JSONSerializer

    from smsconsent.store import batch

    dynamodb = batch.client()
    # Given DynamoDB throttling the short way's request, then failing botocore's, dropping
    # the connection, then leaving two keys unprocessed (those outside ASCII), then
    # answering them
    failed = {"__type": "com.amazonaws.dynamodb.v20120810#InternalServerError", "message": "x"}
    fake.script = [
        (400, THROTTLED),
        (500, failed),
        "drop",
        _answer(PKS[:1], left=PKS[1:]),
        _answer(PKS[1:]),
    ]
    # When the three subjects are read
    found = batch.read(PKS)
    # Then all three are found, each with what its item keeps
    assert sorted(found) == sorted(PKS) and {s.version for s in found.values()} == {3}
    assert {s.zones for s in found.values()} == {"x|Europe/Berlin"}
    # And five requests went: the short way's, botocore's three tries of the same bytes,
    # then the unprocessed keys as DynamoDB gave them back, the short way again
    sent = fake.received
    assert len(sent) == 5 and fake.script == []
    assert sent[1].body == sent[2].body == sent[3].body
    model = dynamodb.meta.service_model.operation_model("BatchGetItem")
    first = {TABLE: {**_answer([], left=PKS)[1]["UnprocessedKeys"][TABLE]}}
    theirs = JSONSerializer().serialize_to_request({"RequestItems": first}, model)
    assert json.loads(sent[0].body) == json.loads(sent[1].body) == json.loads(theirs["body"])
    assert json.loads(sent[4].body) == {"RequestItems": _answer([], left=PKS[1:])[1]["UnprocessedKeys"]}
    # UTF-8 as it is on the short way (more bytes than characters), \u escapes in botocore's
    assert "bäckerei".encode() in sent[0].body and len(sent[0].body) > len(sent[0].body.decode())
    assert "bäckerei".encode() not in sent[1].body
    _signed_and_said(sent)
    attempts = [re.search(r"attempt=(\d+)", r.headers.get("amz-sdk-request", "")) for r in sent]
    assert [int(a.group(1)) if a else None for a in attempts] == [None, 1, 2, 3, None]
    # And the check has teeth: one byte changed, the signature no longer holds
    credentials = batch.aws.session().get_credentials().get_frozen_credentials()
    changed = Received(sent[0].path, sent[0].headers, sent[0].body.replace(b"demo", b"demO"))
    assert not _signature_holds(changed, dynamodb.meta.endpoint_url, credentials)


def test_a_page_still_throttled_after_botocore_s_retries_is_store_unavailable(fake: FakeDynamo) -> None:
    # Given DynamoDB throttling every try
    from smsconsent.store import batch
    from smsconsent.store.errors import StoreUnavailable

    fake.script = [(400, THROTTLED)] * 4
    # When a page is read, Then the short way's try and botocore's three (four in all, as
    # botocore alone made) end in StoreUnavailable (never a 500)
    with pytest.raises(StoreUnavailable, match="ProvisionedThroughputExceededException"):
        batch.read(PKS)
    assert len(fake.received) == 4 and len({r.body for r in fake.received[1:]}) == 1


def test_credentials_that_cannot_be_refreshed_give_store_unavailable_not_a_500(
    fake: FakeDynamo, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given credentials whose refresh fails (a restored snapshot's expired ones, say)
    from botocore.exceptions import CredentialRetrievalError

    from smsconsent.store import batch
    from smsconsent.store.errors import StoreUnavailable

    def failing() -> Any:
        raise CredentialRetrievalError(provider="container-role", error_msg="refused")

    _, wire = batch._reader()
    assert wire is not None
    monkeypatch.setattr(wire._credentials, "get_frozen_credentials", failing)
    monkeypatch.setattr(batch.client()._request_signer._credentials, "get_frozen_credentials", failing)
    # When a page is read, Then nothing is sent and the read is StoreUnavailable (a 503)
    with pytest.raises(StoreUnavailable, match="CredentialRetrievalError"):
        batch.read(PKS)
    assert fake.received == []


@pytest.mark.parametrize(
    "answer",
    [
        ["bad checksum", _answer(PKS)],
        [(200, b'{"Responses": ')],
        [(200, b"[]")],
        [(200, b"")],
        [(200, {"UnprocessedKeys": {}})],
        [(200, {"Responses": [], "UnprocessedKeys": {}})],
    ],
    ids=["bad checksum", "cut short", "no object", "empty", "no Responses", "Responses no object"],
)
def test_an_answer_the_short_way_cannot_trust_is_asked_again_through_botocore(
    fake: FakeDynamo, answer: list[Any]
) -> None:
    # Given a first answer that is damaged, then DynamoDB's clean answer
    from smsconsent.store import batch

    fake.script = [*answer, _answer(PKS)]
    # When the page is read, Then botocore asked again (its first try) and all is found
    assert sorted(batch.read(PKS)) == sorted(PKS)
    assert len(fake.received) == 2 and fake.script == []
    assert "attempt=1" in fake.received[1].headers["amz-sdk-request"]
    _signed_and_said(fake.received)


def test_the_checksum_of_a_clean_answer_is_accepted(fake: FakeDynamo) -> None:
    from smsconsent.store import batch

    fake.script = [_answer(PKS)]
    assert sorted(batch.read(PKS)) == sorted(PKS) and len(fake.received) == 1


def test_without_the_http_session_or_credentials_the_wire_needs_pages_go_through_botocore(
    fake: FakeDynamo, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a botocore whose clients keep their HTTP session elsewhere
    from smsconsent.store import batch

    made = batch.aws.client

    def elsewhere(*args: Any, **kwargs: Any) -> Any:
        client = made(*args, **kwargs)
        monkeypatch.setattr(client, "_endpoint", type("Endpoint", (), {"__getattr__": lambda *_: None})())
        return client

    monkeypatch.setattr(batch.aws, "client", elsewhere)
    batch.reset()
    # When the reader is made, Then it has no short way
    assert batch._reader()[1] is None
    # And with no credentials yet either, no short way
    monkeypatch.setattr(batch.aws, "client", made)
    monkeypatch.setattr(batch.aws.session(), "get_credentials", lambda: None)
    batch.reset()
    assert batch._reader()[1] is None


@pytest.mark.parametrize("app_id", [None, "shop checkout/2"])
def test_the_user_agent_is_botocore_s_with_the_reader_s_mark_and_the_app_id(
    fake: FakeDynamo, monkeypatch: pytest.MonkeyPatch, app_id: str | None
) -> None:
    # Given an application id configured for the SDK (or none)
    from smsconsent.store import batch

    if app_id:
        monkeypatch.setenv("AWS_SDK_UA_APP_ID", app_id)
    else:
        monkeypatch.delenv("AWS_SDK_UA_APP_ID", raising=False)
    batch.reset()
    fake.script = [(200, {"Responses": {TABLE: []}, "UnprocessedKeys": {}})]
    # When a page is read
    batch.read(PKS)
    # Then the fixed header names botocore, the reader, and the app id made header-safe
    agent = fake.received[0].headers["user-agent"]
    assert agent.startswith("Botocore/") and " md/smsconsent#presend" in agent
    assert (" app/shop-checkout-2" in agent) == bool(app_id) and agent.count("app/") == bool(app_id)


def test_an_endpoint_with_a_path_is_asked_at_that_path_both_ways(
    fake: FakeDynamo, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given DynamoDB behind a proxy's path (a custom endpoint), throttling the first try
    from smsconsent import aws, settings
    from smsconsent.store import batch

    host = batch.client().meta.endpoint_url
    monkeypatch.setenv("DYNAMODB_ENDPOINT", f"{host}/dynamodb")
    settings.reset()
    batch.reset()
    fake.script = [(400, THROTTLED), _answer(PKS)]
    # When a page is read
    assert sorted(batch.read(PKS)) == sorted(PKS)
    # Then the short way and botocore both asked at that path, as botocore joins it, signed
    assert [r.path for r in fake.received] == ["/dynamodb", "/dynamodb"]
    credentials = aws.session().get_credentials().get_frozen_credentials()
    assert all(_signature_holds(r, host, credentials) for r in fake.received)


def test_in_lambda_the_invocation_s_trace_goes_with_the_request_as_botocore_sends_it(
    fake: FakeDynamo, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an invocation of a Lambda function with an X-Ray trace
    from smsconsent.store import batch

    trace = "Root=1-67891233-abcdef012345678912345678;Parent=53995c3f42cd8ad8;Sampled=1"
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "presend")
    monkeypatch.setenv("_X_AMZN_TRACE_ID", trace)
    fake.script = [(400, THROTTLED), _answer(PKS)]
    # When a page is read the short way, then through botocore
    batch.read(PKS)
    # Then both requests carry the trace, the same way
    assert [r.headers.get("x-amzn-trace-id") for r in fake.received] == [trace, trace]


def _keys_of(count: int) -> list[str]:
    return [f"SUBJ#demo#v1.{i:064x}" for i in range(count)]


def test_pages_not_yet_sent_are_not_sent_once_one_fails(
    fake: FakeDynamo, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a DynamoDB that answers each page slowly and fails the first
    from smsconsent.store import batch

    asked: list[int] = []
    lock = threading.Lock()

    def slow(dynamodb: Any, request_items: dict[str, Any]) -> dict[str, Any]:
        with lock:
            asked.append(len(asked))
            first = len(asked) == 1
        time.sleep(0.02)
        if first:
            raise batch.StoreUnavailable("throttled")
        return {"Responses": {TABLE: []}, "UnprocessedKeys": {}}

    monkeypatch.setattr(batch, "_reader", lambda: (object(), None))
    monkeypatch.setattr(batch, "_through_botocore", slow)
    # When 100 pages are read
    with pytest.raises(batch.StoreUnavailable):
        list(batch.read_pages(_keys_of(10_000)))
    time.sleep(0.2)
    # Then only the pages already under way were sent: the queued ones were dropped
    assert len(asked) <= 2 * batch.WORKERS


def test_anything_a_page_raises_reaches_the_reader_it_never_waits_for_ever(
    fake: FakeDynamo, monkeypatch: pytest.MonkeyPatch
) -> None:
    from smsconsent.store import batch

    class Stopped(BaseException):
        pass

    def stopped(dynamodb: Any, request_items: dict[str, Any]) -> dict[str, Any]:
        raise Stopped

    monkeypatch.setattr(batch, "_reader", lambda: (object(), None))
    monkeypatch.setattr(batch, "_through_botocore", stopped)
    raised: list[BaseException] = []

    def read() -> None:
        try:
            list(batch.read_pages(_keys_of(150)))  # two pages, through the pool
        except BaseException as exc:  # what the reader raised
            raised.append(exc)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout=10)
    assert not reader.is_alive() and [type(e) for e in raised] == [Stopped]


def test_an_answer_with_keys_left_and_no_responses_is_taken_as_it_is(fake: FakeDynamo) -> None:
    # Given DynamoDB leaving the whole page unprocessed, then answering it
    from smsconsent.store import batch

    left = _answer([], left=PKS)[1]
    del left["Responses"]
    fake.script = [(200, left), _answer(PKS)]
    # Then the page is asked again the short way: no request through botocore between
    assert sorted(batch.read(PKS)) == sorted(PKS)
    assert len(fake.received) == 2 and all("amz-sdk-request" not in r.headers for r in fake.received)
