"""Insights, the pure part: what each evidence event adds to its day, the buckets of
minutes to confirm and their median, the range asked for, and the answer folded from the
items one Query reads."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from smsconsent import errors, events, insights

T = "2026-11-22T10:00:00Z"


def _evidence(kind: str, data: dict[str, Any] | None = None, at: str = T) -> dict[str, Any]:
    return {"type": kind, "at": at, "seq": 1, "hash": "h" * 64, "data": data or {}}


def test_each_counted_evidence_adds_to_its_totals_and_the_rest_counts_nowhere() -> None:
    assert insights.count("demo", "k", _evidence("optin_requested")).counts == {"accepted": 1, "sms_sent": 1}
    assert insights.count("demo", "k", _evidence("optin_repeated")).counts == {"accepted": 1}
    assert insights.count("demo", "k", _evidence("consent_lapsed")).counts == {"lapsed": 1}
    assert insights.count("demo", "k", _evidence("optin_expired")).counts == {"expired": 1}
    assert insights.count("demo", "k", _evidence("erased")).counts == {"erased": 1}
    for kind in ("optin_restored", "consent_imported", "number_unreachable", "number_reachable"):
        assert insights.count("demo", "k", _evidence(kind)) is None


def test_the_id_and_day_are_the_consent_events_own() -> None:
    counted = insights.count("demo", "k", _evidence("optin_requested", at="2026-11-22T23:59:59Z"))
    assert counted is not None
    assert counted.event_id == events.event_id("demo", "k", "h" * 64)
    assert (counted.tenant, counted.day) == ("demo", "2026-11-22")


def test_an_optout_counts_by_via_keyword_reason_country_and_campaign() -> None:
    data = {"via": "sms_keyword", "keyword": "STOP", "country": "DE", "campaign": "winter", "consents": ["x"]}
    counted = insights.count("demo", "k", _evidence("optout", data))
    assert counted is not None
    assert counted.counts == {"optouts": 1, "via#sms_keyword": 1, "kw#STOP": 1, "why#keyword": 1, "cc#DE": 1}
    assert counted.campaign == "winter"
    # Without a country or campaign (older evidence): unknown, and no campaign
    bare = insights.count("demo", "k", _evidence("optout", {"via": "link"}))
    assert bare is not None and bare.counts["cc#unknown"] == 1 and bare.campaign is None
    # A campaign is kept to the pre-send check's 100 characters
    long = insights.count("demo", "k", _evidence("optout", {"campaign": "c" * 300}))
    assert long is not None and long.campaign == "c" * 100


@pytest.mark.parametrize(
    ("data", "why"),
    [
        ({"reason_code": "imported_opted_out", "via": "link"}, "imported_opted_out"),
        ({"via": "provider", "error_code": "21610"}, "provider"),
        ({"via": "provider_opt_out"}, "provider"),
        ({"via": "provider_list"}, "provider"),
        ({"via": "provider_keyword", "keyword": "STOP"}, "keyword"),
        ({"via": "sms_keyword", "keyword": None}, "plain_language"),
        ({"via": "link", "reason_given": True}, "reason_given"),
        ({"via": "privacy", "reason_given": False}, "no_reason"),
    ],
)
def test_the_reason_of_an_optout_comes_from_what_is_not_personal(data: dict[str, Any], why: str) -> None:
    assert insights.reason(data) == why


def test_minutes_to_confirm_land_in_their_bucket() -> None:
    confirmed = insights.count(
        "demo", "k", _evidence("optin_confirmed", {"issued_at": "2026-11-22T09:53:00Z"}, at=T)
    )
    assert confirmed is not None and confirmed.counts == {"confirmed": 1, "min#7": 1}
    # No issue time (older evidence), or one after the confirmation: counted, no minutes
    for issued in (None, "garbage", "2026-11-22T10:00:01Z"):
        found = insights.count("demo", "k", _evidence("optin_confirmed", {"issued_at": issued}))
        assert found is not None and found.counts == {"confirmed": 1}
    assert [insights.bucket(m) for m in (0, 0.9, 14.99, 15, 19.9, 61, 200, 1500, 99_999)] == [
        0,
        0,
        14,
        15,
        15,
        60,
        180,
        1440,
        30 * 1440,
    ]


def test_the_median_is_exact_in_whole_minutes_below_15_and_a_bucket_midpoint_above() -> None:
    assert insights.median_minutes({}) is None
    assert insights.median_minutes({3: 1}) == 3
    assert insights.median_minutes({2: 1, 4: 1}) == 3  # two middle ones: their mean
    assert insights.median_minutes({2: 2, 9: 1}) == 2
    assert insights.median_minutes({20: 1}) == 22.5  # [20, 25)
    assert insights.median_minutes({60: 3}) == 67.5  # [60, 75)
    assert insights.median_minutes({1440: 1}) == 2160  # [1 day, 2 days)
    assert insights.median_minutes({1: 5, 1440: 4}) == 1


def test_a_range_is_two_utc_days_at_most_400_apart() -> None:
    today = date(2026, 11, 22)
    assert insights.parse_range({}, today) == (date(2026, 10, 24), today)
    assert insights.parse_range({"from": "2026-01-01", "to": "2026-01-01"}, today) == (
        date(2026, 1, 1),
        date(2026, 1, 1),
    )
    assert insights.parse_range({"from": "2025-10-19", "to": "2026-11-22"}, today)[0] == date(2025, 10, 19)
    refusals = [
        ({"from": "2026-11-31"}, "from"),
        ({"to": "22.11.2026"}, "to"),
        ({"from": "2026-1-01"}, "from"),
        ({"from": "2026-11-23", "to": "2026-11-22"}, "from"),
        ({"from": "2025-10-18", "to": "2026-11-22"}, "to"),
        ({"form": "2026-11-01"}, "form"),
    ]
    for params, field in refusals:
        with pytest.raises(errors.Invalid) as caught:
            insights.parse_range(params, today)
        assert caught.value.field == field, params


def test_the_answer_adds_up_days_dimensions_and_campaigns_of_the_range() -> None:
    rows = [
        ("2026-11-01", {"accepted": 3, "sms_sent": 2, "confirmed": 1, "min#4": 1}),
        ("2026-11-01", {"optouts": 1, "via#link": 1}),
        ("2026-11-01#C#winter", {"sends": 100, "optouts": 1}),
        ("2026-11-01#N", {"n": 1}),
        ("2026-11-02", {"accepted": 1, "sms_sent": 1, "confirmed": 2, "min#20": 1, "min#2": 1, "optouts": 2}),
        ("2026-11-02", {"via#sms_keyword": 2, "kw#STOP": 2, "cc#DE": 2, "why#keyword": 2, "lapsed": 1}),
        ("2026-11-02#C#winter", {"optouts": 2}),
        ("2026-11-02#C#sale#1", {"sends": 10, "optouts": 0}),
        ("2026-11-02#O", {"sends": 5, "optouts": 1}),
        ("2026-11-03#C#quiet", {"sends": 0, "optouts": 0}),
        ("2026-12-01", {"accepted": 99}),  # outside the range: passed over
    ]
    found = insights.answer(date(2026, 11, 1), date(2026, 11, 3), rows)
    assert found["from"] == "2026-11-01" and found["to"] == "2026-11-03"
    assert found["signups"] == {
        "accepted": 4,
        "sms_sent": 3,
        "confirmed": 3,
        "confirm_rate": 1.0,
        "median_minutes_to_confirm": 4,
    }
    optouts = found["optouts"]
    assert optouts["total"] == 3
    assert optouts["by_via"] == {"sms_keyword": 2, "link": 1}
    assert list(optouts["by_via"]) == ["sms_keyword", "link"]  # most first
    assert optouts["by_keyword"] == {"STOP": 2} and optouts["by_country"] == {"DE": 2}
    assert optouts["by_reason"] == {"keyword": 2}
    assert optouts["by_campaign"] == [
        {"campaign": None, "sends": 5, "optouts": 1, "rate": 0.2},
        {"campaign": "winter", "sends": 100, "optouts": 3, "rate": 0.03},
        {"campaign": "sale#1", "sends": 10, "optouts": 0, "rate": 0.0},
    ]
    assert (found["lapsed"], found["expired"], found["erased"]) == (1, 0, 0)
    assert found["daily"] == [
        {"date": "2026-11-01", "signups": 3, "confirmed": 1, "optouts": 1},
        {"date": "2026-11-02", "signups": 1, "confirmed": 2, "optouts": 2},
        {"date": "2026-11-03", "signups": 0, "confirmed": 0, "optouts": 0},
    ]


def test_an_empty_range_answers_zeros_and_no_rates() -> None:
    found = insights.answer(date(2026, 11, 1), date(2026, 11, 1), [])
    assert found["signups"]["confirm_rate"] is None
    assert found["signups"]["median_minutes_to_confirm"] is None
    assert found["optouts"]["by_campaign"] == [] and found["optouts"]["by_via"] == {}
    assert found["daily"] == [{"date": "2026-11-01", "signups": 0, "confirmed": 0, "optouts": 0}]


def test_opt_outs_without_sends_have_no_rate_and_come_last() -> None:
    rows = [("2026-11-01#C#old", {"optouts": 4}), ("2026-11-01#C#new", {"sends": 10, "optouts": 1})]
    found = insights.answer(date(2026, 11, 1), date(2026, 11, 1), rows)["optouts"]["by_campaign"]
    assert [(c["campaign"], c["rate"]) for c in found] == [("new", 0.1), ("old", None)]


def test_the_alarm_threshold_needs_enough_sends_and_more_than_the_share() -> None:
    assert not insights.over_threshold(199, 100, 3, 200)  # too few sends to judge
    assert not insights.over_threshold(200, 6, 3, 200)  # exactly 3 %: not over
    assert insights.over_threshold(200, 7, 3, 200)
    assert insights.over_threshold(1000, 26, 2.5, 200)
    assert not insights.over_threshold(0, 5, 3, 0)


def test_folding_adds_counters_and_campaign_optouts() -> None:
    link = {"via": "link", "campaign": "w"}
    first = insights.count("demo", "a", _evidence("optout", {**link, "country": "DE"}))
    second = insights.count("demo", "b", _evidence("optout", {**link, "country": "AT"}))
    third = insights.count("demo", "c", _evidence("optin_requested"))
    assert first and second and third
    tally = insights.fold("demo", "2026-11-22", [first, second, third])
    assert tally.event_ids == [first.event_id, second.event_id, third.event_id]
    assert tally.counts["optouts"] == 2 and tally.counts["via#link"] == 2 and tally.counts["cc#AT"] == 1
    assert tally.counts["accepted"] == 1 and tally.campaigns == {"w": 2}


def test_a_label_or_campaign_that_is_not_utf8_is_kept_readable() -> None:
    # A lone surrogate cannot be stored (DynamoDB takes UTF-8): a record carrying one would
    # be handed back for a day, holding up its shard.
    counted = insights.count(
        "demo",
        "k",
        _evidence("optout", {"via": "link\ud800", "keyword": "ST\udfffOP", "campaign": "w\ud83d"}),
    )
    assert counted is not None
    assert "via#link?" in counted.counts and "kw#ST?OP" in counted.counts
    assert counted.campaign == "w?"
    for name in counted.counts:
        name.encode("utf-8")
