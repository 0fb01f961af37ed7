"""tools/backfill_indexes.py on moto: subjects written before the tenant-index (and the
sms-optout-index) get the attributes those indexes are keyed by, with a conditional update
that never overwrites a concurrent change, and nothing else of any item changes."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from tests.fixtures.aws import TABLE
from tests.fixtures.events import load_event

pytestmark = pytest.mark.usefixtures("aws")

T0 = "2026-01-05T10:00:00Z"


def _key(first: str, n: int) -> str:
    return f"t1.{first}{n:063x}"


def old_subject(key: str, consents: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A subject item as written before the indexes: no ``tenant_shard``, no ``sms_optout``."""
    item = {
        "pk": {"S": f"SUBJ#demo#{key}"},
        "sk": {"S": "SUBJECT"},
        "tenant": {"S": "demo"},
        "phone": {"S": "+4915112340001"},
        "consents": {"S": json.dumps(consents)},
        "ev_seq": {"N": "1"},
        "ev_head": {"S": "h"},
        "created_at": {"S": T0},
        "updated_at": {"S": T0},
        "version": {"N": "3"},
    }
    item.update(extra)
    return item


def _items() -> dict[str, dict[str, Any]]:
    client = boto3.client("dynamodb")
    found: dict[str, dict[str, Any]] = {}
    for page in client.get_paginator("scan").paginate(TableName=TABLE):
        for item in page["Items"]:
            found[item["pk"]["S"] + "|" + item["sk"]["S"]] = item
    return found


def _exported(context: Any, **query: str) -> list[dict[str, Any]]:
    from functions.consents.app import handler

    event = load_event("consents-export.json")
    event["queryStringParameters"] = query or None
    answer = handler(event, context)
    assert answer["statusCode"] == 200, answer["body"]
    body = json.loads(answer["body"])
    assert body["cursor"] is None
    return list(body["items"])


@pytest.fixture
def old_items() -> dict[str, str]:
    client = boto3.client("dynamodb")
    keys = {
        "active": _key("1", 1),
        "stopped": _key("7", 2),
        "held": _key("a", 3),
        "whatsapp_out": _key("c", 4),
        "wrong": _key("f", 5),
    }
    items = [
        old_subject(keys["active"], {"sms:marketing": {"state": "active", "since": T0}}),
        old_subject(keys["stopped"], {"sms:marketing": {"state": "opted_out", "since": T0}}),
        old_subject(
            keys["held"],
            {"sms:marketing": {"state": "active", "since": T0}},
            provider_list={"S": json.dumps({"held": True})},
        ),
        old_subject(keys["whatsapp_out"], {"whatsapp:marketing": {"state": "opted_out", "since": T0}}),
        # Opted back in, but an index attribute of its opt-out was left behind.
        old_subject(
            keys["wrong"],
            {"sms:marketing": {"state": "active", "since": T0}},
            tenant_shard={"S": "demo#0"},
            sms_optout={"S": "demo#f"},
        ),
        # Not subjects: never touched.
        {
            "pk": {"S": f"SUBJ#demo#{keys['stopped']}"},
            "sk": {"S": "EV#00000001"},
            "seq": {"N": "1"},
            "type": {"S": "opted_out"},
        },
    ]
    for item in items:
        client.put_item(TableName=TABLE, Item=item)
    return keys


def test_subjects_written_before_the_indexes_are_exported_after_the_backfill(
    context, old_items, dynamo_calls
):
    from tools import backfill_indexes

    # The index does not hold them yet (but the one with a stray shard, in the wrong one).
    assert {i["key"] for i in _exported(context)} == {old_items["wrong"]}
    before = _items()
    client = boto3.client("dynamodb")
    counts = backfill_indexes.backfill(client, TABLE)
    assert counts["subjects"] == 5 and counts["updated"] == 5 and counts["raced"] == 0
    assert dynamo_calls.operations.get("Scan", 0) >= 1  # the migration's one Scan
    after = _items()
    assert set(after) == set(before)
    for name, key in old_items.items():
        item, was = after[f"SUBJ#demo#{key}|SUBJECT"], before[f"SUBJ#demo#{key}|SUBJECT"]
        assert item["tenant_shard"] == {"S": f"demo#{key[3]}"}, name
        optout = item.get("sms_optout", {}).get("S")
        assert optout == (f"demo#{key[3]}" if name in ("stopped", "held") else None), name
        rest = {k: v for k, v in item.items() if k not in ("tenant_shard", "sms_optout")}
        assert rest == {k: v for k, v in was.items() if k not in ("tenant_shard", "sms_optout")}, name
    evidence = f"SUBJ#demo#{old_items['stopped']}|EV#00000001"
    assert after[evidence] == before[evidence]
    # Now the export finds them, and the opt-out list reconciliation the opt-outs.
    assert {i["key"] for i in _exported(context)} == set(old_items.values())
    from smsconsent import store

    assert {o.pk.rsplit("#", 1)[1] for o in store.sms_optouts("demo")} == {
        old_items["stopped"],
        old_items["held"],
    }
    # Run again: nothing is left to change.
    again = backfill_indexes.backfill(client, TABLE)
    assert again["updated"] == 0 and again["unchanged"] == 5


def test_a_dry_run_counts_and_writes_nothing(old_items):
    from tools import backfill_indexes

    before = _items()
    counts = backfill_indexes.backfill(boto3.client("dynamodb"), TABLE, dry_run=True)
    assert counts["updated"] == 5
    assert _items() == before


class _ChangesFirst:
    """A client whose first conditional update finds the subject changed just before it
    (a STOP committed between the backfill's read and its write)."""

    def __init__(self, change: Any) -> None:
        self._client = boto3.client("dynamodb")
        self._change = change
        self.exceptions = self._client.exceptions

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def update_item(self, **kwargs: Any) -> Any:
        if self._change is not None:
            change, self._change = self._change, None
            change(kwargs["Key"]["pk"]["S"])
        return self._client.update_item(**kwargs)


def test_a_subject_changed_meanwhile_is_read_again_never_overwritten(old_items, clock):
    from smsconsent import store
    from tools import backfill_indexes

    def stop_meanwhile(pk: str) -> None:
        # An old writer (the code before the indexes) rewrites the subject whole: opted
        # out now, a newer version, still without the index attributes.
        item = old_subject(
            pk.removeprefix("SUBJ#demo#"), {"sms:marketing": {"state": "opted_out", "since": T0}}
        )
        item["version"] = {"N": "4"}
        boto3.client("dynamodb").put_item(TableName=TABLE, Item=item)

    counts = backfill_indexes.backfill(_ChangesFirst(stop_meanwhile), TABLE)
    assert counts["raced"] == 1 and counts["updated"] == 5
    first = sorted(old_items.values())[0]
    item = _items()[f"SUBJ#demo#{first}|SUBJECT"]
    # The STOP stands (not the consents the backfill first read), version untouched, and
    # its opt-out is in the sms-optout-index.
    assert json.loads(item["consents"]["S"])["sms:marketing"]["state"] == "opted_out"
    assert item["version"] == {"N": "4"}
    assert item["sms_optout"] == {"S": f"demo#{first[3]}"}
    loaded = store.load_subject("demo", [first])
    assert loaded is not None and loaded.version == 4


def test_a_subject_deleted_meanwhile_is_left_deleted(old_items):
    from tools import backfill_indexes

    def erase_meanwhile(pk: str) -> None:
        boto3.client("dynamodb").delete_item(TableName=TABLE, Key={"pk": {"S": pk}, "sk": {"S": "SUBJECT"}})

    counts = backfill_indexes.backfill(_ChangesFirst(erase_meanwhile), TABLE)
    assert counts["gone"] == 1 and counts["updated"] == 4
    first = sorted(old_items.values())[0]
    assert f"SUBJ#demo#{first}|SUBJECT" not in _items()


def test_the_command_names_its_table(monkeypatch, capsys, old_items):
    from tools import backfill_indexes

    monkeypatch.delenv("TABLE_NAME", raising=False)
    assert backfill_indexes.main([]) == 2
    assert backfill_indexes.main(["--table", TABLE, "--dry-run"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["table"] == TABLE and printed["updated"] == 5 and printed["dry_run"] is True
