"""How one tenant-day's events are cut into transactions (``store.insights.chunks``): each
fits DynamoDB's limits, whatever the events hold."""

from __future__ import annotations

from smsconsent import insights
from smsconsent.store import insights as insights_store


def _optout(n: int, campaign: str | None = None, country: str = "DE", keyword: str = "") -> insights.Counted:
    counts = {"optouts": 1, "via#link": 1, "why#no_reason": 1, f"cc#{country}": 1}
    if keyword:
        counts[f"kw#{keyword}"] = 1
    return insights.Counted(f"e{n}", "demo", "2026-11-22", counts, campaign)


def test_a_transaction_holds_at_most_100_items_markers_day_and_campaigns() -> None:
    plain = insights_store.chunks([_optout(n) for n in range(250)])
    assert [len(c) for c in plain] == [99, 99, 52]  # 99 markers and the day item
    each_its_campaign = insights_store.chunks([_optout(n, f"c{n}") for n in range(100)])
    for chunk in each_its_campaign:
        assert len(chunk) + 1 + len({c.campaign for c in chunk}) <= insights_store.TRANSACTION_ITEMS
    assert sum(len(c) for c in each_its_campaign) == 100


def test_a_transaction_adds_to_a_bounded_number_of_counters() -> None:
    # An update expression is at most 4 KB: every event of another country and keyword
    # (a tenant's own words) names two new counters
    chunks = insights_store.chunks([_optout(n, country=f"C{n}", keyword=f"K{n}") for n in range(99)])
    for chunk in chunks:
        names = {name for c in chunk for name in c.counts}
        assert len(names) <= insights_store.MAX_COUNTERS
    assert len(chunks) > 1 and sum(len(c) for c in chunks) == 99
