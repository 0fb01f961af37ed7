"""local.moto_queries (the tests' moto reads only the partition a Query names) answers every
Query as moto itself does: the same items, order, pages, counts and projections, also
from several threads at once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from tests.fixtures.aws import TABLE

pytestmark = pytest.mark.usefixtures("aws")

PARTITIONS = ["SUBJ#demo#a", "SUBJ#demo#b", "SUBJ#demo#c", "RATE#ip#1"]
DUE_BUCKETS = ["due#2026-11-22", "due#2026-11-23"]
QUERIES: list[dict[str, Any]] = [
    {},
    {"ScanIndexForward": False},
    {"KeyCondition": "begins_with(sk, :p)", "Values": {":p": {"S": "EV#"}}},
    {
        "KeyCondition": "sk BETWEEN :a AND :b",
        "Values": {":a": {"S": "EV#00000002"}, ":b": {"S": "EV#00000005"}},
    },
    {"KeyCondition": "sk > :a", "Values": {":a": {"S": "EV#00000003"}}, "ScanIndexForward": False},
    {"Limit": 2},
    {"Limit": 3, "ScanIndexForward": False},
    {"FilterExpression": "n >= :n", "Values": {":n": {"N": "3"}}},
    {"FilterExpression": "n >= :n", "Values": {":n": {"N": "3"}}, "Limit": 2},
    {"ProjectionExpression": "pk, sk"},
    {"Select": "COUNT"},
    {"ConsistentRead": True},
]


def _query(pk: str, spec: dict[str, Any], client: Any = None) -> list[dict[str, Any]]:
    """Every page of the Query (answers without their metadata); ``pk`` of the form
    ``due#...`` queries the due index."""
    client = client or boto3.client("dynamodb")
    spec = dict(spec)
    key = "pk"
    if pk.startswith("due#"):
        key, spec["IndexName"] = "due_bucket", "due-index"
        spec.pop("ConsistentRead", None)  # not on a global index
        if "KeyCondition" in spec:
            spec["KeyCondition"] = spec["KeyCondition"].replace("sk", "due_at")
    condition = f"{key} = :pk" + (f" AND {spec.pop('KeyCondition')}" if "KeyCondition" in spec else "")
    values = {":pk": {"S": pk}, **spec.pop("Values", {})}
    pages = []
    start: dict[str, Any] | None = None
    while True:
        extra = {"ExclusiveStartKey": start} if start else {}
        page = client.query(
            TableName=TABLE,
            KeyConditionExpression=condition,
            ExpressionAttributeValues=values,
            **spec,
            **extra,
        )
        page.pop("ResponseMetadata", None)
        pages.append(page)
        start = page.get("LastEvaluatedKey")
        if not start:
            return pages


@pytest.fixture
def items() -> Iterator[None]:
    client = boto3.client("dynamodb")
    for p, pk in enumerate(PARTITIONS):
        for i in range(7 - p):
            item = {"pk": {"S": pk}, "sk": {"S": f"EV#{i:08d}"}, "n": {"N": str(i)}, "p": {"N": str(p)}}
            client.put_item(TableName=TABLE, Item=item)
        subject = {"pk": {"S": pk}, "sk": {"S": "SUBJECT"}, "n": {"N": "9"}}
        if p < 3:  # the subjects with something due, in the due index
            subject |= {"due_bucket": {"S": DUE_BUCKETS[p % 2]}, "due_at": {"S": f"EV#{p:08d}"}}
        client.put_item(TableName=TABLE, Item=subject)
    yield


def test_every_query_answers_as_moto_s_own(items: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.dynamodb.models.table import Table

    assert getattr(Table.query, "_by_partition", False), "the aws fixture installs local.moto_queries"
    cases = [
        (pk, spec) for pk in [*PARTITIONS, *DUE_BUCKETS, "SUBJ#demo#none", "SUBJ", "due#"] for spec in QUERIES
    ]
    ours = [_query(pk, spec) for pk, spec in cases]
    monkeypatch.setattr(Table, "query", Table.query._real)
    theirs = [_query(pk, spec) for pk, spec in cases]
    assert ours == theirs
    assert any(len(pages) > 1 for pages in ours) and any(
        page.get("Count") for pages in ours for page in pages
    )


def test_two_queries_in_two_threads_at_once_each_read_their_own_partition(
    items: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first thread's Query is held where it reads the table's items until the second
    thread's Query has got there too (the race tests query moto from several threads)."""
    from moto.dynamodb.models.table import Table

    client = boto3.client("dynamodb")  # one client for both threads (making them is not thread-safe)
    first, second = PARTITIONS[0], PARTITIONS[1]
    expected = {pk: _query(pk, {}, client) for pk in (first, second)}
    first_in, second_in, first_done = threading.Event(), threading.Event(), threading.Event()
    real_all_items = Table.all_items

    def all_items(table: Any) -> Any:
        if threading.current_thread().name == "first":
            first_in.set()
            assert second_in.wait(10)
            try:
                return real_all_items(table)
            finally:
                first_done.set()
        second_in.set()
        assert first_done.wait(10)
        return real_all_items(table)

    monkeypatch.setattr(Table, "all_items", all_items)
    got: dict[str, Any] = {}

    def read(pk: str) -> None:
        got[pk] = _query(pk, {}, client)

    one = threading.Thread(target=read, args=(first,), name="first")
    one.start()
    assert first_in.wait(10)
    two = threading.Thread(target=read, args=(second,), name="second")
    two.start()
    one.join(20)
    two.join(20)
    assert got == expected
