"""The pre-send reader's SigV4 (``store.sigv4``) against botocore's ``SigV4Auth``, the
reference: the same request at the same moment gets the same headers, byte for byte."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from botocore import auth as botocore_auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from smsconsent.store import sigv4

MOMENT = 1_796_000_000.0  # 2026-11-30T06:53:20Z
HEADERS = {
    "Content-Type": "application/x-amz-json-1.0",
    "X-Amz-Target": "DynamoDB_20120810.BatchGetItem",
    "User-Agent": "Botocore/1.43 md/smsconsent#presend",
}


def _botocore(
    url: str, region: str, headers: dict[str, str], body: bytes, credentials: Any
) -> dict[str, str]:
    request = AWSRequest("POST", url, headers=dict(headers), data=body)
    moment = datetime.datetime.fromtimestamp(MOMENT, datetime.UTC).replace(tzinfo=None)
    real = botocore_auth.get_current_datetime
    botocore_auth.get_current_datetime = lambda: moment
    try:
        botocore_auth.SigV4Auth(credentials, "dynamodb", region).add_auth(request)
    finally:
        botocore_auth.get_current_datetime = real
    return dict(request.headers.items())


def _ours(url: str, region: str, headers: dict[str, str], body: bytes, credentials: Any) -> dict[str, str]:
    signed = dict(headers)
    sigv4.Signer(url, "dynamodb", region).sign(signed, body, credentials.get_frozen_credentials(), now=MOMENT)
    return signed


@pytest.mark.parametrize(
    "url",
    [
        "https://dynamodb.eu-central-1.amazonaws.com/",
        "https://dynamodb.us-east-1.amazonaws.com:443/",
        "http://127.0.0.1:8000/",
        "http://127.0.0.1:80/",
        "http://[::1]:8000/",
        "http://localhost:4566/dynamodb",
        "https://vpce-1a2b3c.dynamodb.eu-west-1.vpce.amazonaws.com/a/./b/../c",
        "https://DynamoDB.EU-Central-1.amazonaws.com/",
    ],
)
@pytest.mark.parametrize("token", [None, "FwoGZXIvYXdzEJr//////////wEaDBpAVtNIZcz+token/=="])
def test_the_headers_are_botocore_s_for_the_same_request_at_the_same_moment(
    url: str, token: str | None
) -> None:
    credentials = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token)
    body = b'{"RequestItems": {"t": {"Keys": [{"pk": {"S": "SUBJ#demo#v1.ab"}}]}}}'
    headers = {
        **HEADERS,
        "X-Amzn-Trace-Id": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8",
    }
    for region in ("eu-central-1", "us-gov-west-1"):
        assert _ours(url, region, headers, body, credentials) == _botocore(
            url, region, headers, body, credentials
        )


def test_header_values_are_trimmed_and_their_spaces_folded_as_botocore_does() -> None:
    credentials = Credentials("AKIDEXAMPLE", "secret")
    headers = {**HEADERS, "X-Amz-Target": "  DynamoDB_20120810.BatchGetItem  ", "X-Custom": "a   b\tc"}
    url = "https://dynamodb.eu-central-1.amazonaws.com/"
    assert _ours(url, "eu-central-1", headers, b"{}", credentials) == _botocore(
        url, "eu-central-1", headers, b"{}", credentials
    )


def test_endpoints_it_does_not_sign_for_are_left_to_botocore() -> None:
    assert sigv4.signable("https://dynamodb.eu-central-1.amazonaws.com")
    assert sigv4.signable("http://[::1]:8000/dynamodb")
    assert not sigv4.signable("https://dynamodb.eu-central-1.amazonaws.com/?x=1")
    assert not sigv4.signable("https://user:pw@dynamodb.eu-central-1.amazonaws.com/")
    assert not sigv4.signable("ftp://dynamodb.eu-central-1.amazonaws.com/")
    assert not sigv4.signable("dynamodb.eu-central-1.amazonaws.com")
