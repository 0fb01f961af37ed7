"""Hostile campaign ids where they leave the erasable part: the insights items (sends and
the read back, under DynamoDB's key limits) and the consent events. Whatever a sender or an
old evidence item names as its campaign, the item keys and the event carry its label only,
stay in their tenant's partition, and nothing fails."""

from __future__ import annotations

import json
import re
import unicodedata
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.hostile.support import TRIED, fuzz, json_text, json_values

pytestmark = pytest.mark.usefixtures("aws")

DAY = date(2026, 11, 22)
_PEOPLE = st.sampled_from(
    [
        "jane@example.com",
        "+44 7700 900123",
        "(415) 555-2671",
        "0151/12345678",
        "\uff10\uff11\uff15\uff11\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18",
        "0770\u200b0900123",
    ]
)


@st.composite
def campaign_ids(draw: st.DrawFn) -> tuple[str, bool]:
    """Free text around an email address or a phone number (True), or anything at all."""
    if draw(st.booleans()):
        return str(draw(json_text)), False
    around = st.text(max_size=30)
    return draw(around) + draw(_PEOPLE) + draw(around), True


def _no_person(text: str) -> None:
    assert "jane" not in text, text
    digits = re.sub(r"\D", "", unicodedata.normalize("NFKC", text))
    for number in ("7700900123", "4155552671", "12345678"):
        assert number not in digits, text


def test_campaign_sends_are_kept_under_their_label_in_their_own_tenant(key_limits: Any) -> None:
    import boto3

    from smsconsent import campaigns, insights
    from smsconsent.store import insights as insights_store
    from tests.fixtures.aws import TABLE

    client = boto3.client("dynamodb")

    days = iter(DAY + timedelta(days=n) for n in range(100_000))

    @fuzz(60)
    @given(campaign_ids())
    def case(drawn: tuple[str, bool]) -> None:
        raw, personal = drawn
        TRIED["hypothesis campaign sends"] += 1
        # A day of its own: a day keeps MAX_CAMPAIGNS_PER_DAY campaigns, the rest go to the
        # others, and a deep run (HOSTILE_SCALE) would fill one
        day = next(days)
        insights_store.add_sends("demo", raw, day, 1)
        name = campaigns.label_of(raw)
        answer = insights.answer(day, day, insights_store.read("demo", day, day))
        named = {c["campaign"] for c in answer["optouts"]["by_campaign"]}
        assert name in named, (raw, name, named)  # None: the others
        other = insights.answer(day, day, insights_store.read("other", day, day))
        assert other["optouts"]["by_campaign"] == []
        if personal:
            _no_person(name or "")
            kept[day.isoformat()] = name

    kept: dict[str, str | None] = {}
    case()
    # Every campaign item, once at the end (a scan per example makes deep runs quadratic):
    # in the tenant's partition, and the personal ones kept under their label only
    for item in _scan(client, TABLE):
        if "#C#" in item["sk"]["S"]:
            assert item["pk"]["S"] == "INSIGHTS#demo"
            day, _, campaign = item["sk"]["S"].partition("#C#")
            if day in kept:
                _no_person(campaign)


def _scan(client: Any, table: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    start: dict[str, Any] | None = None
    while True:
        page = client.scan(TableName=table, **({"ExclusiveStartKey": start} if start else {}))
        items += page["Items"]
        start = page.get("LastEvaluatedKey")
        if not start:
            return items


def test_consent_events_carry_the_label_of_any_campaign() -> None:
    from smsconsent import campaigns, events

    @fuzz(200)
    @given(st.one_of(campaign_ids(), json_values.map(lambda v: (v, False))))
    def case(drawn: tuple[Any, bool]) -> None:
        raw, personal = drawn
        TRIED["hypothesis event campaign"] += 1
        evidence = {"type": "optout", "at": "2026-11-22T10:00:00Z", "seq": 1, "hash": "h" * 64}
        event = events.cloud_event("demo", "k", {**evidence, "data": {"campaign": raw}}, None)
        assert event is not None
        assert event["data"]["campaign"] == campaigns.label_of(raw)
        json.dumps(event, ensure_ascii=False).encode()  # sent as UTF-8
        if personal:
            _no_person(event["data"]["campaign"])

    case()
