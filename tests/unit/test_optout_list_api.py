"""The opt-out list calls of ``list_sync`` on the real ``pinpoint-sms-voice-v2`` client, with
botocore's Stubber checking every request against the service model and answering with
responses and errors of the model's own shapes (moto has no such service). The local
stack's stand-in list is held to the same shapes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from local.optout_list import LocalOptOutLists
from smsconsent import list_sync

LIST = "marketing-optouts"
PHONE = "+4915112345678"
AT = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)


@pytest.fixture
def stub() -> Iterator[Stubber]:
    client = boto3.client(
        "pinpoint-sms-voice-v2",
        region_name="eu-central-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    with Stubber(client) as stubber:
        list_sync.set_local_client(client)
        yield stubber
        list_sync.set_local_client(None)
        stubber.assert_no_pending_responses()


def info(number: str = PHONE, at: datetime = AT, by_person: bool = True) -> dict[str, Any]:
    return {"OptedOutNumber": number, "OptedOutTimestamp": at, "EndUserOptedOut": by_person}


def error(stub: Stubber, method: str, code: str, expected: dict[str, Any], **fields: str) -> None:
    stub.add_client_error(
        method,
        service_error_code=code,
        service_message="refused",
        expected_params=expected,
        modeled_fields=fields,
    )


def test_one_number_is_asked_of_the_list(stub: Stubber) -> None:
    expected = {"OptOutListName": LIST, "OptedOutNumbers": [PHONE]}
    stub.add_response(
        "describe_opted_out_numbers", {"OptOutListName": LIST, "OptedOutNumbers": [info()]}, expected
    )
    assert list_sync.entry_of(LIST, PHONE) == list_sync.Entry(PHONE, AT, True)
    stub.add_response("describe_opted_out_numbers", {"OptOutListName": LIST, "OptedOutNumbers": []}, expected)
    assert list_sync.entry_of(LIST, PHONE) is None
    error(
        stub,
        "describe_opted_out_numbers",
        "ResourceNotFoundException",
        expected,
        ResourceType="opted-out-number",
    )
    assert list_sync.entry_of(LIST, PHONE) is None


def test_a_missing_list_is_a_setting_to_fix_not_an_empty_list(stub: Stubber) -> None:
    expected = {"OptOutListName": LIST, "OptedOutNumbers": [PHONE]}
    error(
        stub, "describe_opted_out_numbers", "ResourceNotFoundException", expected, ResourceType="opt-out-list"
    )
    with pytest.raises(list_sync.ListMissing):
        list_sync.entry_of(LIST, PHONE)
    error(
        stub,
        "put_opted_out_number",
        "ResourceNotFoundException",
        {"OptOutListName": LIST, "OptedOutNumber": PHONE},
    )
    with pytest.raises(list_sync.ListMissing):
        list_sync._put(LIST, PHONE)


def test_the_whole_list_is_paged_with_next_token(stub: Stubber) -> None:
    first = {"OptOutListName": LIST, "MaxResults": 100}
    stub.add_response(
        "describe_opted_out_numbers",
        {"OptOutListName": LIST, "OptedOutNumbers": [info("+4915100000001")], "NextToken": "page-2"},
        first,
    )
    stub.add_response(
        "describe_opted_out_numbers",
        {"OptOutListName": LIST, "OptedOutNumbers": [info("+4915100000002", by_person=False)]},
        {**first, "NextToken": "page-2"},
    )
    pages = list(list_sync._pages(LIST))
    assert [[(e.number, e.by_person) for e in page] for page in pages] == [
        [("+4915100000001", True)],
        [("+4915100000002", False)],
    ]


def test_put_answers_the_lists_time_or_none_when_refused(stub: Stubber) -> None:
    expected = {"OptOutListName": LIST, "OptedOutNumber": PHONE}
    stub.add_response(
        "put_opted_out_number",
        {
            "OptOutListArn": "arn:aws:sms-voice:eu-central-1:111122223333:opt-out-list/x",
            **info(by_person=False),
        },
        expected,
    )
    assert list_sync._put(LIST, PHONE) == AT
    error(stub, "put_opted_out_number", "ValidationException", expected, Reason="CANNOT_ADD_OPTED_OUT_NUMBER")
    assert list_sync._put(LIST, PHONE) is None
    error(stub, "put_opted_out_number", "ThrottlingException", expected)
    with pytest.raises(Exception, match="Throttling"):
        list_sync._put(LIST, PHONE)  # retried by the queue


@pytest.mark.parametrize(
    ("code", "fields", "answer"),
    [
        ("ConflictException", {"Reason": "DESTINATION_PHONE_NUMBER_OPTED_OUT"}, False),
        ("ValidationException", {"Reason": "PHONE_NUMBER_CANNOT_BE_OPTED_IN"}, False),
        ("ResourceNotFoundException", {"ResourceType": "opted-out-number"}, None),
    ],
)
def test_delete_refusals(stub: Stubber, code: str, fields: dict[str, str], answer: bool | None) -> None:
    error(stub, "delete_opted_out_number", code, {"OptOutListName": LIST, "OptedOutNumber": PHONE}, **fields)
    assert list_sync._delete(LIST, PHONE) is answer


def test_delete_taken(stub: Stubber) -> None:
    stub.add_response(
        "delete_opted_out_number",
        {"OptOutListName": LIST, **info()},
        {"OptOutListName": LIST, "OptedOutNumber": PHONE},
    )
    assert list_sync._delete(LIST, PHONE) is True


def test_the_local_stand_in_answers_in_the_services_shapes() -> None:
    """Every answer of the stand-in is validated against the model's output shape (the
    Stubber checks a response when it is added), and its refusals carry the codes the
    adapter reads."""
    now = [AT]
    local = LocalOptOutLists(lambda: now[0])
    checker = Stubber(boto3.client("pinpoint-sms-voice-v2", region_name="eu-central-1"))
    checker.add_response(
        "put_opted_out_number", local.put_opted_out_number(OptOutListName=LIST, OptedOutNumber=PHONE)
    )
    checker.add_response("describe_opted_out_numbers", local.describe_opted_out_numbers(OptOutListName=LIST))
    checker.add_response(
        "describe_opted_out_numbers",
        local.describe_opted_out_numbers(OptOutListName=LIST, OptedOutNumbers=[PHONE]),
    )
    checker.add_response(
        "delete_opted_out_number", local.delete_opted_out_number(OptOutListName=LIST, OptedOutNumber=PHONE)
    )
    list_sync.set_local_client(local)
    try:
        local.put_opted_out_number(OptOutListName=LIST, OptedOutNumber=PHONE)
        assert list_sync._delete(LIST, PHONE) is False  # within 30 days of the last delete
        now[0] = AT + timedelta(days=30)
        assert list_sync._delete(LIST, PHONE) is True
        assert list_sync._delete(LIST, PHONE) is None  # not on the list any more
    finally:
        list_sync.set_local_client(None)


def test_the_stand_in_pages_on_where_it_left_off_while_the_list_changes() -> None:
    """The reconciliation deletes entries of a page before it asks for the next: the next
    page starts after the last number shown, not at an offset that has moved (which would
    skip a number for the day)."""
    local = LocalOptOutLists(lambda: AT)
    numbers = ["+4915100000001", "+4915100000002", "+4915100000003", "+4915100000004"]
    for number in numbers:
        local.add_by_person(LIST, number)
    first = local.describe_opted_out_numbers(OptOutListName=LIST, MaxResults=2)
    assert [i["OptedOutNumber"] for i in first["OptedOutNumbers"]] == numbers[:2]
    local.delete_opted_out_number(OptOutListName=LIST, OptedOutNumber=numbers[0])
    second = local.describe_opted_out_numbers(OptOutListName=LIST, MaxResults=2, NextToken=first["NextToken"])
    assert [i["OptedOutNumber"] for i in second["OptedOutNumbers"]] == numbers[2:]
    assert "NextToken" not in second
