"""The pre-send reader's BatchGetItem on the wire, against a fake DynamoDB on loopback that
records every request and answers from a script: the body ``store.batch`` encodes with
orjson (``_EncodedBatchGet``) is the one SigV4 signs (each signature recomputed with
botocore's ``SigV4Auth`` from the request as received), Content-Length counts its UTF-8
bytes, botocore's retries (throttling, a 500, a dropped connection) send it again byte for
byte (each try signed again), unprocessed keys go back as DynamoDB answered them; and the same
holds where the wrapper is skipped (a botocore whose DynamoDB serialiser is another)."""

from __future__ import annotations

import hashlib
import json
import re
import threading
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
    """Answers each request with the next step of ``script``: (status, JSON body), or
    "drop" (the connection closed without an answer)."""

    script: list[tuple[int, dict[str, Any]] | str] = field(default_factory=list)
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
            assert not isinstance(step, str)
            status, answer = step
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", JSON_1_0)
            self.send_header("Content-Length", str(len(data)))
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


@pytest.mark.parametrize("encoded", [True, False], ids=["orjson", "botocore"])
def test_the_body_sent_is_the_body_signed_through_retries_and_unprocessed_keys(
    fake: FakeDynamo, monkeypatch: pytest.MonkeyPatch, encoded: bool
) -> None:
    from botocore.serialize import JSONSerializer

    from smsconsent.store import batch

    if not encoded:
        # Given a botocore whose DynamoDB serialiser is not JSONSerializer itself: skipped
        monkeypatch.setattr(batch, "JSONSerializer", type("Other", (JSONSerializer,), {}))
    dynamodb = batch.client()
    assert isinstance(dynamodb._serializer, batch._EncodedBatchGet) is encoded
    # And DynamoDB throttling, failing, dropping the connection, then leaving two keys
    # unprocessed (those outside ASCII), then answering them
    throttled = {"__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException"}
    failed = {"__type": "com.amazonaws.dynamodb.v20120810#InternalServerError", "message": "x"}
    left = {
        TABLE: {
            "Keys": _keys(PKS[1:]),
            "ConsistentRead": True,
            "ProjectionExpression": batch._PROJECTION,
            "ExpressionAttributeNames": batch._NAMES,
        }
    }
    fake.script = [
        (400, throttled),
        (500, failed),
        "drop",
        (200, {"Responses": {TABLE: [_item(PKS[0])]}, "UnprocessedKeys": left}),
        (200, {"Responses": {TABLE: [_item(pk) for pk in PKS[1:]]}, "UnprocessedKeys": {}}),
    ]
    # When the three subjects are read
    found = batch.read(PKS)
    # Then all three are found, each with what its item keeps
    assert sorted(found) == sorted(PKS) and {s.version for s in found.values()} == {3}
    assert {s.zones for s in found.values()} == {"x|Europe/Berlin"}
    # And five requests went: the first four (botocore's retries) the same bytes, the
    # fifth the unprocessed keys as DynamoDB gave them back
    sent = fake.received
    assert len(sent) == 5 and fake.script == []
    assert sent[0].body == sent[1].body == sent[2].body == sent[3].body
    model = dynamodb.meta.service_model.operation_model("BatchGetItem")
    first = {TABLE: {**left[TABLE], "Keys": _keys(PKS)}}
    theirs = JSONSerializer().serialize_to_request({"RequestItems": first}, model)
    assert json.loads(sent[0].body) == json.loads(theirs["body"])
    assert json.loads(sent[4].body) == {"RequestItems": left}
    if encoded:  # UTF-8 as it is: more bytes than characters
        assert "bäckerei".encode() in sent[0].body and len(sent[0].body) > len(sent[0].body.decode())
    # And every request says its length in bytes, is a BatchGetItem, and is signed over
    # the body that arrived: recomputed, each signature is the one sent
    credentials = dynamodb._request_signer._credentials.get_frozen_credentials()
    endpoint = dynamodb.meta.endpoint_url
    for request in sent:
        assert int(request.headers["content-length"]) == len(request.body)
        assert request.headers["x-amz-target"] == "DynamoDB_20120810.BatchGetItem"
        assert request.headers["content-type"] == JSON_1_0
        assert _signature_holds(request, endpoint, credentials)
    attempts = [re.search(r"attempt=(\d+)", r.headers["amz-sdk-request"]) for r in sent]
    assert [int(a.group(1)) for a in attempts if a] == [1, 2, 3, 4, 1]  # botocore's retries, then ours
    # And the check has teeth: one byte changed, the signature no longer holds
    changed = Received(sent[0].path, sent[0].headers, sent[0].body.replace(b"demo", b"demO"))
    assert not _signature_holds(changed, endpoint, credentials)


def test_a_page_still_throttled_after_botocore_s_retries_is_store_unavailable(fake: FakeDynamo) -> None:
    # Given DynamoDB throttling every try
    from smsconsent.store import batch
    from smsconsent.store.errors import StoreUnavailable

    throttled = {"__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException"}
    fake.script = [(400, throttled)] * 4
    # When a page is read, Then botocore's four tries end in StoreUnavailable (never a 500)
    with pytest.raises(StoreUnavailable, match="ProvisionedThroughputExceededException"):
        batch.read(PKS)
    assert len(fake.received) == 4 and len({r.body for r in fake.received}) == 1


def test_a_client_without_botocore_s_private_serialiser_is_left_as_it_is(
    fake: FakeDynamo, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a botocore whose clients keep their serialiser under another name
    from smsconsent.store import batch

    made = batch.aws.client

    def renamed(*args: Any, **kwargs: Any) -> Any:
        client = made(*args, **kwargs)
        client._other_serializer = client.__dict__.pop("_serializer")
        return client

    monkeypatch.setattr(batch.aws, "client", renamed)
    # When the pre-send reader makes its client, Then it does, unwrapped
    dynamodb = batch.client()
    assert "_serializer" not in vars(dynamodb) and not isinstance(
        dynamodb._other_serializer, batch._EncodedBatchGet
    )


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
