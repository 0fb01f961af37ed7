"""The cost meter (``bench.costs``) on hand-made requests against moto: each request's
units by DynamoDB's rules, whatever moto's constant ``ConsumedCapacity`` says; and the
pre-send check of N recipients reading at most N read request units."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from bench.costs import Meter, TableShape, Usage, _import_rows
from tests.fixtures.aws import TABLE, table_definition
from tests.fixtures.events import load_event

pytestmark = pytest.mark.usefixtures("aws")


@pytest.fixture
def meter() -> Iterator[Meter]:
    definition, _ = table_definition()
    with Meter(TableShape.of(definition)).metering() as metering:
        metering.take()
        yield metering


def _spent(meter: Meter) -> Usage:
    usage, _ = meter.take()
    return usage


def _item(pk: str, sk: str, size: int = 0, **more: str) -> dict[str, Any]:
    item = {"pk": {"S": pk}, "sk": {"S": sk}, **{k: {"S": v} for k, v in more.items()}}
    if size:
        item["pad"] = {"S": "x" * size}
    return item


def test_writes_cost_by_size_with_their_index_entries(meter: Meter) -> None:
    dynamodb = boto3.client("dynamodb")
    dynamodb.put_item(TableName=TABLE, Item=_item("T#1", "A"))
    usage = _spent(meter)
    assert (usage.wru, dict(usage.index_wru), usage.rru) == (1, {}, 0)

    # 1,500 bytes: two units; in the due-index (projection ALL) the same again
    due = {"due_bucket": "due#2026-11-22", "due_at": "2026-11-22T10:00:00Z"}
    dynamodb.put_item(TableName=TABLE, Item=_item("T#2", "A", 1500, **due))
    usage = _spent(meter)
    assert (usage.wru, dict(usage.index_wru)) == (2, {"due-index": 2})

    # moving the due time moves the index entry: a delete and a put
    dynamodb.update_item(
        TableName=TABLE,
        Key={"pk": {"S": "T#2"}, "sk": {"S": "A"}},
        UpdateExpression="SET due_at = :d",
        ExpressionAttributeValues={":d": {"S": "2026-11-23T10:00:00Z"}},
    )
    usage = _spent(meter)
    assert (usage.wru, dict(usage.index_wru)) == (2, {"due-index": 4})

    # a transaction writes each item twice (prepare and commit); a ConditionCheck too
    dynamodb.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": TABLE, "Item": _item("T#3", "A")}},
            {"Put": {"TableName": TABLE, "Item": _item("T#3", "B", 1100)}},
            {
                "ConditionCheck": {
                    "TableName": TABLE,
                    "Key": {"pk": {"S": "T#1"}, "sk": {"S": "A"}},
                    "ConditionExpression": "attribute_exists(pk)",
                }
            },
        ]
    )
    usage = _spent(meter)
    assert usage.wru == 2 * 1 + 2 * 2 + 2 * 1
    assert meter.take()[1] == []  # taken with the usage: the changes went with it

    # a condition that fails still costs the write (the item as it is)
    with pytest.raises(ClientError):
        dynamodb.put_item(
            TableName=TABLE, Item=_item("T#1", "A"), ConditionExpression="attribute_not_exists(pk)"
        )
    usage = _spent(meter)
    assert (usage.wru, usage.failed_conditions, dict(usage.index_wru)) == (1, 1, {})

    # deleting an item costs its size, and takes its index entry out
    dynamodb.delete_item(TableName=TABLE, Key={"pk": {"S": "T#2"}, "sk": {"S": "A"}})
    usage = _spent(meter)
    assert (usage.wru, dict(usage.index_wru)) == (2, {"due-index": 2})


def test_reads_cost_by_size_and_consistency(meter: Meter) -> None:
    dynamodb = boto3.client("dynamodb")
    with meter.unmetered():
        dynamodb.put_item(TableName=TABLE, Item=_item("R#1", "A", 5000))
        for sk in "BCD":
            dynamodb.put_item(TableName=TABLE, Item=_item("R#2", sk, 1500))
    key = {"pk": {"S": "R#1"}, "sk": {"S": "A"}}
    dynamodb.get_item(TableName=TABLE, Key=key, ConsistentRead=True, ProjectionExpression="pk")
    assert _spent(meter).rru == 2  # 5 KB: two 4 KB blocks, whatever is projected
    dynamodb.get_item(TableName=TABLE, Key=key)
    assert _spent(meter).rru == 1  # eventually consistent: half
    dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "R#9"}, "sk": {"S": "A"}}, ConsistentRead=True)
    assert _spent(meter).rru == 1  # a missing item still costs the minimum

    keys = [key, {"pk": {"S": "R#2"}, "sk": {"S": "B"}}, {"pk": {"S": "R#9"}, "sk": {"S": "A"}}]
    dynamodb.batch_get_item(RequestItems={TABLE: {"Keys": keys, "ConsistentRead": True}})
    assert _spent(meter).rru == 2 + 1 + 1  # item by item

    # a Query pays for what it evaluated (3 x 1.5 KB: two blocks), before the filter
    answer = dynamodb.query(
        TableName=TABLE,
        KeyConditionExpression="pk = :p",
        FilterExpression="attribute_exists(nothing_has_this)",
        ExpressionAttributeValues={":p": {"S": "R#2"}},
        ConsistentRead=True,
    )
    assert answer["Items"] == []
    assert _spent(meter).rru == 2
    dynamodb.query(
        TableName=TABLE, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "R#0"}}
    )
    assert _spent(meter).rru == 0.5  # an empty page: the minimum, eventually consistent


def test_other_services_are_counted_by_their_billing_unit(meter: Meter) -> None:
    sqs = boto3.client("sqs")
    with meter.unmetered():
        url = sqs.create_queue(QueueName="costs-test")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="x" * 70_000)  # two 64 KB chunks
    usage = _spent(meter)
    assert usage.billed["sqs"] == 2
    assert usage.requests["sqs:SendMessage"] == 1


def _import(n: int) -> list[str]:
    from smsconsent import clock, importing, store, tenants

    tenant = tenants.get("demo")
    assert tenant is not None
    rows = _import_rows(n, 0)
    import_id = store.new_import_id()
    chunks = importing.chunks_of(tenant.id, import_id, "0" * 64, rows)
    store.create_import(tenant.id, import_id, "0" * 64, "api", len(rows), len(chunks), clock.now())
    for chunk in chunks:
        assert importing.run_chunk(tenant, chunk) is not None
    return [row["phone"] for row in rows]


@pytest.mark.parametrize("record", [False, True])
def test_presend_reads_at_most_one_unit_per_recipient(meter: Meter, context: Any, record: bool) -> None:
    """Items under 4 KB, read strongly consistent: one RRU each, known or not."""
    from functions.presend.app import handler

    with meter.unmetered():
        known = _import(150)
    recipients = known + [f"+49170{i:08d}" for i in range(100)]
    event = load_event("presend-http.json")
    event["body"] = json.dumps(
        {
            "recipients": recipients,
            "category": "marketing",
            "campaign": "costs",
            "send_at": "2026-11-24T15:00:00Z",
            "record": record,
        }
    )
    meter.take()
    answer = handler(event, context)
    assert answer["statusCode"] == 200
    usage = _spent(meter)
    assert usage.requests["dynamodb:BatchGetItem"] == 3  # three pages, read side by side
    assert 0 < usage.rru <= len(recipients)
    if record:
        assert json.loads(answer["body"])["summary"]["allowed"] == 150
        # One per subject, and the campaign's sends for insights: one ADD, after a refused
        # first try when the campaign is new that day (it is admitted, then added to).
        assert usage.requests["dynamodb:UpdateItem"] - 150 in (1, 2)
