"""DynamoDB's size and request-unit rules as ``bench.costs`` applies them, checked against
items computed by hand and the worked examples of AWS's documentation ("DynamoDB item sizes
and formats", "Capacity unit consumption for reads/writes", "Global secondary indexes:
write capacity units")."""

from __future__ import annotations

import pytest

from bench.costs import Index, item_size, read_units, value_size, write_units


@pytest.mark.parametrize(
    ("item", "size"),
    [
        # name bytes + UTF-8 bytes of the string
        ({"pk": {"S": "abc"}}, 2 + 3),
        ({"name": {"S": "é"}}, 4 + 2),
        # name + 1 byte per two significant digits + 1: "12345" is 5 digits -> 3 + 1
        ({"n": {"N": "123.45"}}, 1 + 3 + 1),
        # leading and trailing zeros trimmed: one significant digit
        ({"n": {"N": "-0.00100"}}, 1 + 1 + 1),
        ({"n": {"N": "1000000"}}, 1 + 1 + 1),
        # binaries count their raw bytes, whether given as bytes or as base64 text
        ({"bin": {"B": b"\x00\x01\x02"}}, 3 + 3),
        ({"bin": {"B": "AAEC"}}, 3 + 3),
        # null and boolean: 1 byte
        ({"b": {"BOOL": True}, "z": {"NULL": True}}, (1 + 1) + (1 + 1)),
        # sets: the sum of their elements
        ({"ss": {"SS": ["a", "bc"]}}, 2 + 3),
        # a map: 3 bytes, plus per element its name, value and 1 byte
        ({"m": {"M": {"a": {"S": "xy"}}}}, 1 + 3 + (1 + 2 + 1)),
        # a list: 3 bytes, plus per element its value and 1 byte
        ({"l": {"L": [{"S": "a"}, {"N": "1"}]}}, 1 + 3 + (1 + 1) + (2 + 1)),
        ({"l": {"L": []}}, 1 + 3),
    ],
)
def test_item_size_by_hand(item: dict[str, dict[str, object]], size: int) -> None:
    assert item_size(item) == size


def test_a_subject_shaped_item() -> None:
    item = {
        "pk": {"S": "SUBJ#demo#b1." + "0" * 64},  # 2 + 77
        "sk": {"S": "SUBJECT"},  # 2 + 7
        "version": {"N": "12"},  # 7 + 2
        "consents": {"S": '{"sms:marketing":{"state":"active"}}'},  # 8 + 36
    }
    assert item_size(item) == 79 + 9 + 9 + 44
    assert item_size(None) == item_size({}) == 0


def test_an_unknown_type_is_refused() -> None:
    with pytest.raises(ValueError, match="not a DynamoDB attribute value"):
        value_size({"X": "1"})


def test_read_units_follow_the_documented_examples() -> None:
    # "reading a 3,500-byte item consumes the same throughput as reading a 4 KB item"
    assert read_units(3500, "strong") == 1
    # "a strongly consistent read request of an 8 KB item requires two read request units, an
    # eventually consistent read of an 8 KB item requires one read request unit, and a
    # transactional read of an 8 KB item requires four"
    assert read_units(8 * 1024, "strong") == 2
    assert read_units(8 * 1024, "eventual") == 1
    assert read_units(8 * 1024, "transactional") == 4
    # a Query "returns 10 items whose combined size is 40.8 KB. DynamoDB rounds the item size
    # for the operation to 44 KB"
    assert read_units(int(40.8 * 1024), "strong") == 11
    # "If you perform a read operation on an item that does not exist, DynamoDB still
    # consumes ... one read capacity unit ... 0.5 ... eventually consistent"
    assert read_units(0, "strong") == 1
    assert read_units(0, "eventual") == 0.5
    # BatchGetItem rounds each item: 1.5 KB and 6.5 KB "as 12 KB (4 KB + 8 KB)"
    assert read_units(1536, "strong") + read_units(6656, "strong") == 3


def test_write_units_follow_the_documented_examples() -> None:
    assert write_units(500) == 1  # "writing a 500-byte item consumes ... a 1 KB item"
    assert write_units(int(1.6 * 1024)) == 2  # "an item of 1.6 KB ... up to 2 KB"
    assert write_units(1024) == 1 and write_units(1025) == 2
    # BatchWriteItem of a 500 byte and a 3.5 KB item: "5 KB (1 KB + 4 KB)"
    assert write_units(500) + write_units(3584) == 5
    assert write_units(0) == 1  # deleting an item that is not there still costs one


SUBJECT = {
    "pk": {"S": "SUBJ#demo#x"},
    "sk": {"S": "SUBJECT"},
    "due_bucket": {"S": "due#2026-11-22"},
    "due_at": {"S": "2026-11-22T10:00:00Z"},
    "phone": {"S": "+4915112345678"},
    "consents": {"S": "{}"},
    "note": {"S": "n" * 1500},
}
KEYS = ("pk", "sk")
DUE = Index("due-index", ("due_bucket", "due_at"), "ALL")
OPTOUT = Index("sms-optout-index", ("sms_optout", "pk"), "INCLUDE", ("phone", "consents"))


def _with(**changes: object) -> dict[str, object]:
    item = dict(SUBJECT)
    for name, value in changes.items():
        if value is None:
            item.pop(name)
        else:
            item[name] = {"S": value}
    return item


def test_index_entries_project_what_the_template_says() -> None:
    assert DUE.entry(SUBJECT, KEYS) == SUBJECT
    assert OPTOUT.entry(SUBJECT, KEYS) is None  # no sms_optout: not in the sparse index
    entry = OPTOUT.entry(_with(sms_optout="demo"), KEYS)
    assert entry is not None
    assert set(entry) == {"pk", "sk", "sms_optout", "phone", "consents"}


def test_index_writes_follow_the_documented_cases() -> None:
    big = write_units(item_size(SUBJECT))
    assert big == 2  # the 1,500-byte note: the ALL projection carries it
    # a new item that defines the index key: one put
    assert DUE.write_units(None, SUBJECT, KEYS) == big
    # the index key changes: a delete and a put
    assert DUE.write_units(SUBJECT, _with(due_at="2026-11-23T10:00:00Z"), KEYS) == 2 * big
    # the index key is removed: one delete
    assert DUE.write_units(SUBJECT, _with(due_at=None), KEYS) == big
    # in the index neither before nor after: nothing
    assert OPTOUT.write_units(SUBJECT, _with(phone="+4915100000000"), KEYS) == 0
    # a projected attribute changes, the key does not: one write of the entry
    opted_out = _with(sms_optout="demo")
    assert OPTOUT.write_units(opted_out, {**opted_out, "phone": {"S": "+49151"}}, KEYS) == 1
    # an attribute the index does not project changes: no index write
    assert OPTOUT.write_units(opted_out, {**opted_out, "note": {"S": "other"}}, KEYS) == 0
    # the same change with the ALL projection is a write of the entry
    assert DUE.write_units(SUBJECT, _with(note="other"), KEYS) == big
