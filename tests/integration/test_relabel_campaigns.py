"""tools/relabel_campaigns.py on moto: insights items written before campaign labels (their
sort key the campaign id as sent) are folded into their label's item, the answer adds up
the same, the raw ids are gone, other tenants are untouched, and a second run changes
nothing."""

from __future__ import annotations

from datetime import date
from typing import Any

import boto3
import pytest

from tests.fixtures.aws import TABLE

pytestmark = pytest.mark.usefixtures("aws")

DAY = "2026-11-22"


def _put(tenant: str, sk: str, **numbers: int) -> None:
    item: dict[str, Any] = {"pk": {"S": f"INSIGHTS#{tenant}"}, "sk": {"S": sk}}
    item |= {name: {"N": str(n)} for name, n in numbers.items()}
    boto3.client("dynamodb").put_item(TableName=TABLE, Item=item)


def _insights(tenant: str = "demo") -> dict[str, Any]:
    from smsconsent import insights
    from smsconsent.store import insights as insights_store

    day = date.fromisoformat(DAY)
    return insights.answer(day, day, insights_store.read(tenant, day, day))


def _sort_keys(tenant: str = "demo") -> list[str]:
    items = boto3.client("dynamodb").scan(TableName=TABLE)["Items"]
    return sorted(i["sk"]["S"] for i in items if i["pk"]["S"] == f"INSIGHTS#{tenant}")


def test_old_campaign_items_are_folded_into_their_labels() -> None:
    from tools.relabel_campaigns import main, relabel

    # Given a day written before labels: two ids naming people that share a label, one
    # whose label already has an item, one of nothing but invisible characters, a plain one
    _put("demo", DAY, optouts=3)
    _put("demo", f"{DAY}#N", n=6)
    _put("demo", f"{DAY}#C#reminder-+447700900123", sends=10, optouts=1)
    _put("demo", f"{DAY}#C#reminder-+447700900124", sends=5, optouts=1)
    _put("demo", f"{DAY}#C#winback-jane@example.com", sends=4, optouts=0)
    _put("demo", f"{DAY}#C#[email]", sends=1, optouts=1)
    _put("demo", f"{DAY}#C#\u200b", sends=2, optouts=0)
    _put("demo", f"{DAY}#C#spring", sends=7, optouts=0)
    _put("other", f"{DAY}#C#reminder-+447700900123", sends=1, optouts=0)
    before = _insights()
    client = boto3.client("dynamodb")
    # A dry run counts and changes nothing
    assert relabel(client, TABLE, ["demo"], dry_run=True) == {"campaign items": 6, "to relabel": 4}
    assert _insights() == before
    # When it runs
    assert main(["--table", TABLE, "--tenant", "demo"]) == 0
    # Then the same totals, under labels only; the day's campaigns counted once each
    after = _insights()
    by_name = {c["campaign"]: (c["sends"], c["optouts"]) for c in after["optouts"]["by_campaign"]}
    assert by_name == {"reminder-[number]": (15, 2), "[email]": (5, 1), None: (2, 0), "spring": (7, 0)}
    assert {k: v for k, v in after.items() if k != "optouts"} == {
        k: v for k, v in before.items() if k != "optouts"
    }
    assert _sort_keys() == sorted(
        [DAY, f"{DAY}#N", f"{DAY}#C#reminder-[number]", f"{DAY}#C#[email]", f"{DAY}#O", f"{DAY}#C#spring"]
    )
    (count,) = [i for i in client.scan(TableName=TABLE)["Items"] if i["sk"]["S"] == f"{DAY}#N"]
    assert count["n"]["N"] == "3"  # 6 items: two folded into existing labels, one into the others
    # And another tenant is untouched; a second run changes nothing more
    assert _sort_keys("other") == [f"{DAY}#C#reminder-+447700900123"]
    assert relabel(client, TABLE, ["demo"]) == {"campaign items": 3}
