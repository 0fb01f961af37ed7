"""The stack's functions reach the embedded moto without a socket (``local/moto_inprocess``):
the same answers and errors botocore reads off the wire, and nothing else is intercepted."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local.stack import TABLE_NAME, LocalStack


@pytest.fixture
def no_sockets(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Any TCP connection the test's own thread makes while inside is recorded and refused.
    (The stack's stream poller keeps reading the table's stream over its own socket on
    another thread: counted, it made these tests fail now and then.)"""
    import urllib3.util.connection

    tried: list[Any] = []
    test_thread = threading.get_ident()

    def refusing(real: Any) -> Any:
        def refuse(address: Any, *args: Any, **kwargs: Any) -> Any:
            if threading.get_ident() != test_thread:
                return real(address, *args, **kwargs)
            tried.append(address)
            raise OSError("no sockets in this test")

        return refuse

    monkeypatch.setattr(socket, "create_connection", refusing(socket.create_connection))
    # what botocore uses
    monkeypatch.setattr(
        urllib3.util.connection, "create_connection", refusing(urllib3.util.connection.create_connection)
    )
    yield tried


def _client(stack: LocalStack, service: str) -> Any:
    from smsconsent import aws

    return aws.client(service, endpoint_url=stack.dynamodb_endpoint)


def test_dynamodb_answers_and_errors_come_back_without_a_socket(
    stack: LocalStack, fresh: None, no_sockets: list[Any]
) -> None:
    dynamodb = _client(stack, "dynamodb")
    key = {"pk": {"S": "TEST#inprocess"}, "sk": {"S": "A"}}
    dynamodb.put_item(TableName=TABLE_NAME, Item={**key, "n": {"N": "1"}})
    assert dynamodb.get_item(TableName=TABLE_NAME, Key=key, ConsistentRead=True)["Item"]["n"] == {"N": "1"}
    with pytest.raises(ClientError) as refused:
        dynamodb.put_item(TableName=TABLE_NAME, Item=key, ConditionExpression="attribute_not_exists(pk)")
    assert refused.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert no_sockets == []


def test_s3_paths_bodies_and_queries_come_back_without_a_socket(
    stack: LocalStack, fresh: None, no_sockets: list[Any]
) -> None:
    s3 = _client(stack, "s3")
    assert stack.import_bucket is not None
    name = "demo/inprocess test+1.csv"  # a space and a plus: the raw path must survive
    s3.put_object(Bucket=stack.import_bucket, Key=name, Body=b"phone\n+4915112345678\n")
    listed = s3.list_objects_v2(Bucket=stack.import_bucket, Prefix="demo/inprocess")
    assert [o["Key"] for o in listed["Contents"]] == [name]
    assert s3.get_object(Bucket=stack.import_bucket, Key=name)["Body"].read() == b"phone\n+4915112345678\n"
    s3.delete_object(Bucket=stack.import_bucket, Key=name)
    with pytest.raises(ClientError) as missing:
        s3.get_object(Bucket=stack.import_bucket, Key=name)
    assert missing.value.response["Error"]["Code"] == "NoSuchKey"
    assert no_sockets == []


def test_other_endpoints_are_not_intercepted(stack: LocalStack, no_sockets: list[Any]) -> None:
    """A client of any other address still connects (here: refused, so it is seen)."""
    from botocore.config import Config

    from smsconsent import aws

    elsewhere = aws.client(
        "dynamodb",
        endpoint_url="http://127.0.0.1:9",  # discard port on loopback; never reached
        config=Config(retries={"max_attempts": 0}, connect_timeout=1),
    )
    with pytest.raises(Exception):  # noqa: B017 - botocore wraps the refusal in its own error
        elsewhere.list_tables()
    assert no_sockets, "a request to another endpoint was answered by the embedded moto"


def test_an_answer_body_reads_as_a_stream_does(stack: LocalStack, fresh: None, no_sockets: list[Any]) -> None:
    """botocore's StreamingBody over the answer: a read of n bytes gives n, chunks come in
    order, tell() counts, and close() works (the import planner reads a bounded part, then
    closes), as over a socket."""
    s3 = _client(stack, "s3")
    assert stack.import_bucket is not None
    s3.put_object(Bucket=stack.import_bucket, Key="demo/stream.csv", Body=b"0123456789" * 3)
    body = s3.get_object(Bucket=stack.import_bucket, Key="demo/stream.csv")["Body"]
    assert body.read(4) == b"0123" and body.tell() == 4
    assert b"".join(body.iter_chunks(7)) == b"456789" + b"0123456789" * 2
    assert body.read() == b""
    body.close()
    again = s3.get_object(Bucket=stack.import_bucket, Key="demo/stream.csv")["Body"]
    assert [len(c) for c in again.iter_chunks(8)] == [8, 8, 8, 6]
    s3.delete_object(Bucket=stack.import_bucket, Key="demo/stream.csv")
    assert no_sockets == []


@pytest.mark.parametrize(
    "key", ["demo/a%2Fb.csv", "demo/ünïcode ä+b.csv", "demo/a?b=c#d.csv", "demo/a//b.csv"]
)
def test_odd_keys_and_head_requests_come_back_as_over_a_socket(
    stack: LocalStack, fresh: None, no_sockets: list[Any], key: str
) -> None:
    s3 = _client(stack, "s3")
    assert stack.import_bucket is not None
    s3.put_object(Bucket=stack.import_bucket, Key=key, Body=b"abc")
    assert s3.head_object(Bucket=stack.import_bucket, Key=key)["ContentLength"] == 3
    listed = s3.list_objects_v2(Bucket=stack.import_bucket, Prefix=key)["Contents"]
    assert [o["Key"] for o in listed] == [key]
    s3.delete_object(Bucket=stack.import_bucket, Key=key)
    with pytest.raises(ClientError) as missing:
        s3.head_object(Bucket=stack.import_bucket, Key=key)
    assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert no_sockets == []


def test_the_stacks_aws_calls_never_leave_this_machine(stack: LocalStack, no_sockets: list[Any]) -> None:
    """A call the embedded moto does not answer (a tenant's secret kept in SSM, say) would
    go to AWS itself, with the stack's fake credentials: it is refused before it is sent,
    at once (no retries), saying why."""
    from smsconsent import aws

    ssm = aws.client("ssm")  # no local endpoint: ssm.<region>.amazonaws.com
    with pytest.raises(Exception, match="only this machine") as refused:
        ssm.get_parameter(Name="/sms-consent/demo/twilio", WithDecryption=True)
    assert "amazonaws.com" in str(refused.value)
    assert no_sockets == []
