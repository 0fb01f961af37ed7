"""local.moto_transactions: moto's TransactWriteItems backing up only the items it names,
on a table with a stream too: a transaction that fails leaves neither items nor stream
records behind, one that commits leaves both (what the outbox of consent events needs)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local import moto_transactions


@pytest.fixture
def table() -> Iterator[str]:
    with mock_aws():
        moto_transactions.install()
        client = boto3.client("dynamodb", region_name="eu-central-1")
        client.create_table(
            TableName="t",
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
        )
        client.put_item(TableName="t", Item={"pk": {"S": "kept"}, "v": {"N": "1"}})
        yield "t"


def _stream_records() -> list[dict[str, Any]]:
    streams = boto3.client("dynamodbstreams", region_name="eu-central-1")
    arn = boto3.client("dynamodb", region_name="eu-central-1").describe_table(TableName="t")["Table"][
        "LatestStreamArn"
    ]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")[
        "ShardIterator"
    ]
    return streams.get_records(ShardIterator=iterator)["Records"]


def test_a_failed_transaction_leaves_no_items_and_no_stream_records(table: str) -> None:
    client = boto3.client("dynamodb", region_name="eu-central-1")
    before = len(_stream_records())
    with pytest.raises(client.exceptions.TransactionCanceledException):
        client.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": table, "Item": {"pk": {"S": "new"}}}},
                {
                    "Update": {
                        "TableName": table,
                        "Key": {"pk": {"S": "kept"}},
                        "UpdateExpression": "SET v = :v",
                        "ExpressionAttributeValues": {":v": {"N": "2"}, ":one": {"N": "5"}},
                        "ConditionExpression": "v = :one",
                    }
                },
            ]
        )
    assert "Item" not in client.get_item(TableName=table, Key={"pk": {"S": "new"}})
    assert client.get_item(TableName=table, Key={"pk": {"S": "kept"}})["Item"]["v"] == {"N": "1"}
    assert len(_stream_records()) == before
    client.transact_write_items(TransactItems=[{"Put": {"TableName": table, "Item": {"pk": {"S": "new"}}}}])
    assert len(_stream_records()) == before + 1
