"""support.dump_table, read from moto's memory, answers what a Scan through the API answers,
and keeps its copy: the "a refused request changes nothing" checks of the fuzz tests
compare two dumps."""

from __future__ import annotations

import boto3
import pytest

from tests.fixtures.aws import TABLE
from tests.fixtures.journeys import sign_up
from tests.hostile.support import dump_table, scan_table

pytestmark = pytest.mark.usefixtures("aws")

EVERY_TYPE = {
    "pk": {"S": "TEST#types"},
    "sk": {"S": "ITEM"},
    "n": {"N": "12.5"},
    "b": {"B": b"\x00\xffbytes"},
    "yes": {"BOOL": True},
    "nothing": {"NULL": True},
    "m": {"M": {"a": {"S": "x"}, "deep": {"M": {"l": {"L": [{"N": "1"}, {"S": "two"}]}}}}},
    "l": {"L": [{"M": {"k": {"S": "v"}}}, {"BOOL": False}]},
    "ss": {"SS": ["a", "b"]},
    "ns": {"NS": ["1", "2"]},
}


def test_the_dump_is_what_a_scan_answers(context, outbox) -> None:
    sign_up(context, outbox, confirm=True)
    sign_up(context, outbox, phone="+4915112345679")
    boto3.client("dynamodb").put_item(TableName=TABLE, Item=EVERY_TYPE)
    dumped, scanned = dump_table(), scan_table()
    assert len(dumped) > 5
    assert dumped.keys() == scanned.keys()
    for key, item in scanned.items():
        if key == ("TEST#types", "ITEM"):
            for name in ("ss", "ns"):  # sets: any order
                assert sorted(dumped[key].pop(name).popitem()[1]) == sorted(item.pop(name).popitem()[1])
        assert dumped[key] == item, key


def test_a_dump_keeps_its_copy_when_an_item_changes_in_place() -> None:
    client = boto3.client("dynamodb")
    client.put_item(TableName=TABLE, Item=EVERY_TYPE)
    before = dump_table()
    client.update_item(
        TableName=TABLE,
        Key={"pk": EVERY_TYPE["pk"], "sk": EVERY_TYPE["sk"]},
        UpdateExpression="SET m.deep.l[0] = :v, l[0].k = :v ADD n :one",
        ExpressionAttributeValues={":v": {"S": "changed"}, ":one": {"N": "1"}},
    )
    after = dump_table()
    item_before, item_after = before[("TEST#types", "ITEM")], after[("TEST#types", "ITEM")]
    assert item_before["m"]["M"]["deep"]["M"]["l"]["L"][0] == {"N": "1"}
    assert item_before["l"]["L"][0] == {"M": {"k": {"S": "v"}}}
    assert item_before["n"] == {"N": "12.5"}
    assert item_after["m"]["M"]["deep"]["M"]["l"]["L"][0] == {"S": "changed"}
    assert item_after["l"]["L"][0] == {"M": {"k": {"S": "changed"}}}
    assert item_after["n"] == {"N": "13.5"}
