"""Sending rules by country and US state (SPEC): the shipped data, the US state from the
area code, every shipped rule at its edges (the minute before and after each window, a
holiday, a leap day, DST in Paris and New York), ``retry_at`` allowed by every rule and
minimal (Hypothesis), the pre-send answer naming the rule, and the tenant's waiver."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from phonenumbers import geocoder

from smsconsent import phone, presend, sending_rules, tenants
from smsconsent.clock import iso
from smsconsent.presend import rules
from smsconsent.store.batch import Snapshot
from smsconsent.tenants import Tenant, TenantError
from tests.fixtures.logs import function_logs
from tools import gen_us_area_codes

ROOT = Path(__file__).resolve().parents[2]
PARIS, NEW_YORK, CHICAGO = ZoneInfo("Europe/Paris"), ZoneInfo("America/New_York"), ZoneInfo("America/Chicago")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")

FR = "+33612345678"
DE = "+4915112345678"
NYC = "+12125550123"
MIAMI = "+13055550123"  # Florida, Eastern time
PENSACOLA = "+18504321234"  # Florida, Central time: the number's own zone
OKC = "+14055550123"
BALTIMORE = "+13015550123"
JACKSON = "+16015550123"  # Mississippi
SEATTLE = "+12065550123"
BOISE_OR_LA = "+12086547886"  # Idaho: Mountain and Pacific time
TORONTO = "+14165550123"
CHECKED = date(2026, 12, 3)


@pytest.fixture(autouse=True)
def _pepper(pepper: Any) -> None:
    """Every test runs with the unit tests' v1 pepper."""


def at(local: str, zone: ZoneInfo) -> datetime:
    """A wall-clock time in ``zone`` as a UTC moment."""
    return datetime.fromisoformat(local).replace(tzinfo=zone).astimezone(UTC)


def z(moment: str) -> datetime:
    return datetime.fromisoformat(moment.replace("Z", "+00:00"))


def held(number: str, *, quiet: tuple[str, str] | None = None, cap: tuple[int, int] | None = None,
         waived: frozenset[str] = frozenset()) -> rules.RuleSet:  # fmt: skip
    region = phone.normalise(number).region
    state = phone.us_state(number) if region == "US" else None
    return rules.ruleset(region, state, quiet, cap, waived)


def only(rule_id: str, number: str) -> rules.RuleSet:
    """The recipient's rules with every other shipped rule waived."""
    return held(number, waived=sending_rules.rule_ids() - {rule_id})


# ---- the shipped data ----------------------------------------------------------------------


def test_the_pack_covers_the_countries_and_states_asked_for_each_rule_with_its_source() -> None:
    pack = sending_rules.pack()
    assert {"FR", "DE", "AT", "CH", "NL", "BE", "GB", "US", "US-FL", "US-OK", "US-MD"} <= set(pack)
    for where in pack.values():
        if not where.rules:
            assert where.no_rule and where.checked == CHECKED, where.code
        for rule in where.rules:
            assert rule.id.startswith(where.code + ":")
            assert len(rule.source) > 40 and rule.url and rule.url.startswith("https://"), rule.id
            assert rule.checked == CHECKED, rule.id
    assert {"FR:hours", "FR:sunday", "FR:holiday", "US:hours", "US-FL:hours", "US-FL:3-per-24h"} <= set(
        sending_rules.rule_ids()
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"id": "FR-hours"}, "must be 'FR:<name>'"),
        ({"kind": "curfew"}, "kind must be one of"),
        ({"start": "8:00"}, "different HH:MM"),
        ({"source": ""}, "names its source"),
        ({"checked": "yesterday"}, "'checked' must be a date"),
        ({"colour": "blue"}, "unknown keys"),
    ],
)
def test_broken_shipped_data_is_refused_naming_the_rule(change: dict[str, Any], message: str) -> None:
    doc = json.loads(sending_rules.DATA.read_text(encoding="utf-8"))
    doc["jurisdictions"]["FR"]["rules"][0].update(change)
    with pytest.raises(sending_rules.RulePackError, match=message):
        sending_rules.parse(doc)


# ---- the US state from the area code -------------------------------------------------------


def test_the_committed_area_code_table_is_what_phonenumbers_data_gives_now() -> None:
    assert gen_us_area_codes.main(["--check"]) == 0, "run: .venv/bin/python -m tools.gen_us_area_codes"


def test_every_area_code_of_the_table_is_in_its_state_by_the_geocoder() -> None:
    codes = phone._us_area_codes()
    assert len(codes) > 300 and set(codes.values()) >= {"FL", "OK", "MD", "MS", "WA", "NY", "CA", "DC"}
    names = {v: k for k, v in gen_us_area_codes.STATES.items()}
    for code, state in codes.items():
        number = next(
            n
            for n in (phonenumbers.parse(f"+1{code}{line}") for line in ("2345678", "5550100", "7654321"))
            if phonenumbers.is_valid_number(n)
        )
        assert phonenumbers.region_code_for_number(number) == "US", code
        where = geocoder.description_for_number(number, "en")
        assert where.endswith(f", {state}") or where in (names[state], "Washington State"), (code, where)


def test_the_state_of_a_number_and_of_none() -> None:
    assert [phone.us_state(n) for n in (MIAMI, PENSACOLA, OKC, BALTIMORE, JACKSON, SEATTLE, NYC)] == [
        "FL", "FL", "OK", "MD", "MS", "WA", "NY",
    ]  # fmt: skip
    assert phone.us_state(TORONTO) is None and phone.us_state("+18005550123") is None
    assert phone.us_state(FR) is None
    # A Florida number in Central time is judged in Central time
    assert phone.time_zones(PENSACOLA) == ("America/Chicago",)


# ---- every shipped rule at its edges --------------------------------------------------------

# (rule, number, wall time in the zone, zone, refused?)
EDGES: list[tuple[str, str, str, ZoneInfo, bool]] = [
    # France: 08:00 to 20:00 (a Tuesday), in winter and in summer time
    ("FR:hours", FR, "2026-11-24T07:59", PARIS, True),
    ("FR:hours", FR, "2026-11-24T08:00", PARIS, False),
    ("FR:hours", FR, "2026-11-24T19:59", PARIS, False),
    ("FR:hours", FR, "2026-11-24T20:00", PARIS, True),
    ("FR:hours", FR, "2026-07-07T07:59", PARIS, True),
    ("FR:hours", FR, "2026-07-07T20:00", PARIS, True),
    # Sundays: the whole local day
    ("FR:sunday", FR, "2026-11-28T23:59", PARIS, False),
    ("FR:sunday", FR, "2026-11-29T00:00", PARIS, True),
    ("FR:sunday", FR, "2026-11-29T23:59", PARIS, True),
    ("FR:sunday", FR, "2026-11-30T00:00", PARIS, False),
    # Public holidays: 14 July, Easter Monday, and Alsace-Moselle's Good Friday and 26 December
    ("FR:holiday", FR, "2026-07-13T23:59", PARIS, False),
    ("FR:holiday", FR, "2026-07-14T00:00", PARIS, True),
    ("FR:holiday", FR, "2026-07-14T23:59", PARIS, True),
    ("FR:holiday", FR, "2026-07-15T00:00", PARIS, False),
    ("FR:holiday", FR, "2026-04-06T10:00", PARIS, True),
    ("FR:holiday", FR, "2026-04-03T10:00", PARIS, True),
    ("FR:holiday", FR, "2026-12-26T10:00", PARIS, True),
    ("FR:holiday", FR, "2028-02-29T10:00", PARIS, False),  # a leap day is a working day
    # The TCPA: 08:00 to 21:00 at the number, both sides of New York's DST changes
    ("US:hours", NYC, "2026-03-08T07:59", NEW_YORK, True),
    ("US:hours", NYC, "2026-03-08T08:00", NEW_YORK, False),
    ("US:hours", NYC, "2026-11-01T07:59", NEW_YORK, True),
    ("US:hours", NYC, "2026-11-01T08:00", NEW_YORK, False),
    ("US:hours", NYC, "2026-11-01T20:59", NEW_YORK, False),
    ("US:hours", NYC, "2026-11-01T21:00", NEW_YORK, True),
    ("US:hours", PENSACOLA, "2026-11-24T20:59", CHICAGO, False),
    ("US:hours", PENSACOLA, "2026-11-24T21:00", CHICAGO, True),
    # Florida, Oklahoma, Maryland, Washington: 08:00 to 20:00
    ("US-FL:hours", MIAMI, "2026-11-24T07:59", NEW_YORK, True),
    ("US-FL:hours", MIAMI, "2026-11-24T08:00", NEW_YORK, False),
    ("US-FL:hours", MIAMI, "2026-11-24T19:59", NEW_YORK, False),
    ("US-FL:hours", MIAMI, "2026-11-24T20:00", NEW_YORK, True),
    ("US-FL:hours", PENSACOLA, "2026-11-24T19:59", CHICAGO, False),
    ("US-FL:hours", PENSACOLA, "2026-11-24T20:00", CHICAGO, True),
    ("US-FL:hours", MIAMI, "2026-03-08T07:59", NEW_YORK, True),
    ("US-FL:hours", MIAMI, "2026-03-08T08:00", NEW_YORK, False),
    ("US-OK:hours", OKC, "2026-11-24T07:59", CHICAGO, True),
    ("US-OK:hours", OKC, "2026-11-24T08:00", CHICAGO, False),
    ("US-OK:hours", OKC, "2026-11-24T19:59", CHICAGO, False),
    ("US-OK:hours", OKC, "2026-11-24T20:00", CHICAGO, True),
    ("US-MD:hours", BALTIMORE, "2026-11-24T07:59", NEW_YORK, True),
    ("US-MD:hours", BALTIMORE, "2026-11-24T08:00", NEW_YORK, False),
    ("US-MD:hours", BALTIMORE, "2026-11-24T19:59", NEW_YORK, False),
    ("US-MD:hours", BALTIMORE, "2026-11-24T20:00", NEW_YORK, True),
    ("US-WA:hours", SEATTLE, "2026-11-24T07:59", LOS_ANGELES, True),
    ("US-WA:hours", SEATTLE, "2026-11-24T08:00", LOS_ANGELES, False),
    ("US-WA:hours", SEATTLE, "2026-11-24T19:59", LOS_ANGELES, False),
    ("US-WA:hours", SEATTLE, "2026-11-24T20:00", LOS_ANGELES, True),
    # Mississippi: 08:00 to 20:00 local, and 08:00 to 20:00 Central Standard Time as written
    ("US-MS:hours", JACKSON, "2026-07-07T07:59", CHICAGO, True),
    ("US-MS:hours", JACKSON, "2026-07-07T08:00", CHICAGO, False),
    ("US-MS:hours", JACKSON, "2026-07-07T19:59", CHICAGO, False),
    ("US-MS:hours", JACKSON, "2026-07-07T20:00", CHICAGO, True),
    ("US-MS:hours-cst", JACKSON, "2026-07-07T08:59", CHICAGO, True),  # 07:59 CST
    ("US-MS:hours-cst", JACKSON, "2026-07-07T09:00", CHICAGO, False),
    ("US-MS:hours-cst", JACKSON, "2026-07-07T20:59", CHICAGO, False),  # 19:59 CST
    ("US-MS:hours-cst", JACKSON, "2026-07-07T21:00", CHICAGO, True),
    ("US-MS:hours-cst", JACKSON, "2026-11-24T07:59", CHICAGO, True),  # in winter CST is local time
    ("US-MS:hours-cst", JACKSON, "2026-11-24T08:00", CHICAGO, False),
    ("US-MS:sunday", JACKSON, "2026-11-28T23:59", CHICAGO, False),
    ("US-MS:sunday", JACKSON, "2026-11-29T00:00", CHICAGO, True),
    ("US-MS:sunday", JACKSON, "2026-11-30T00:00", CHICAGO, False),
]


@pytest.mark.parametrize(("rule_id", "number", "local", "zone", "refused"), EDGES)
def test_every_shipped_rule_at_its_edges(
    rule_id: str, number: str, local: str, zone: ZoneInfo, refused: bool
) -> None:
    found = only(rule_id, number).refusal(phone.time_zones(number), at(local, zone))
    assert found == (rule_id if refused else None)


# (cap, number, recorded sends, send_at, refused?, retry_at)
CAP_EDGES = [
    ("US-FL:3-per-24h", MIAMI, ["2026-11-23T15:00:01Z", "2026-11-24T01:00:00Z", "2026-11-24T14:00:00Z"],
     "2026-11-24T15:00:00Z", True, "2026-11-24T15:00:01Z"),
    ("US-FL:3-per-24h", MIAMI, ["2026-11-23T15:00:00Z", "2026-11-24T01:00:00Z", "2026-11-24T14:00:00Z"],
     "2026-11-24T15:00:00Z", False, None),  # exactly 24 hours ago has left the window
    # A send scheduled ahead counts too: 3 within 24 hours of this one
    ("US-OK:3-per-24h", OKC, ["2026-11-24T16:00:00Z", "2026-11-24T17:00:00Z", "2026-11-24T18:00:00Z"],
     "2026-11-24T15:00:00Z", True, "2026-11-25T16:00:00Z"),
    ("US-OK:3-per-24h", OKC, ["2026-11-24T16:00:00Z", "2026-11-24T17:00:00Z", "2026-11-25T15:00:00Z"],
     "2026-11-24T15:00:00Z", False, None),  # the third is exactly 24 hours ahead
    ("US-MD:3-per-24h", BALTIMORE, ["2026-11-24T13:00:00Z", "2026-11-24T14:00:00Z"],
     "2026-11-24T15:00:00Z", False, None),
    ("US-MD:3-per-24h", BALTIMORE, ["2026-11-24T13:00:00Z", "2026-11-24T14:00:00Z", "2026-11-24T14:30:00Z"],
     "2026-11-24T15:00:00Z", True, "2026-11-25T13:00:00Z"),
    # Across a leap day: the window of 28 February reaches into 29 February
    ("US-FL:3-per-24h", MIAMI, ["2028-02-28T16:00:00Z", "2028-02-28T17:00:00Z", "2028-02-28T18:00:00Z"],
     "2028-02-29T15:00:00Z", True, "2028-02-29T16:00:00Z"),
]  # fmt: skip


@pytest.mark.parametrize(("rule_id", "number", "sends", "send_at", "refused", "retry"), CAP_EDGES)
def test_every_shipped_cap_at_its_edges(
    rule_id: str, number: str, sends: list[str], send_at: str, refused: bool, retry: str | None
) -> None:
    found = only(rule_id, number).settle(phone.time_zones(number), z(send_at), [z(s) for s in sends])
    assert found == (("frequency_cap", rule_id, z(retry)) if refused else None)


def test_the_edge_tables_cover_every_shipped_rule() -> None:
    refusing = {e[0] for e in EDGES if e[4]} | {e[0] for e in CAP_EDGES if e[4]}
    allowing = {e[0] for e in EDGES if not e[4]} | {e[0] for e in CAP_EDGES if not e[4]}
    assert refusing == allowing == set(sending_rules.rule_ids())


# ---- retry_at: the next moment every rule allows ----------------------------------------------

# (number, tenant quiet hours, send_at, rule that refused, retry_at)
RETRIES = [
    # Saturday 20:30 in Paris (19:30 UTC): Sunday is closed, Monday 08:00
    (FR, None, "2026-11-21T19:30:00Z", "FR:hours", "2026-11-23T07:00:00Z"),
    # ... Tuesday when Monday is a holiday (Easter Monday; Pentecost Monday)
    (FR, None, "2026-04-04T19:30:00Z", "FR:hours", "2026-04-07T06:00:00Z"),
    (FR, None, "2026-05-23T18:30:00Z", "FR:hours", "2026-05-26T06:00:00Z"),
    # Good Friday (Alsace-Moselle), then Saturday morning
    (FR, None, "2026-04-03T08:00:00Z", "FR:holiday", "2026-04-04T06:00:00Z"),
    # Sunday morning, and Sunday night (the day rule is named first)
    (FR, None, "2026-11-29T09:00:00Z", "FR:sunday", "2026-11-30T07:00:00Z"),
    (FR, None, "2026-11-29T21:00:00Z", "FR:sunday", "2026-11-30T07:00:00Z"),
    # Paris into summer time on Sunday 29 March 2026: Monday 08:00 CEST is 06:00 UTC
    (FR, None, "2026-03-28T19:30:00Z", "FR:hours", "2026-03-30T06:00:00Z"),
    # ... and back on Sunday 25 October: Monday 08:00 CET is 07:00 UTC
    (FR, None, "2026-10-24T18:00:00Z", "FR:hours", "2026-10-26T07:00:00Z"),
    # 24-25 December: Friday is Christmas, Saturday 26 December (Alsace-Moselle), Sunday: Monday
    (FR, None, "2026-12-24T19:00:00Z", "FR:hours", "2026-12-28T07:00:00Z"),
    # Saturday 27 February 2027 at 20:30 runs over the end of February to Monday 1 March;
    # in 2028 Tuesday 29 February is a day like another
    (FR, None, "2027-02-27T19:30:00Z", "FR:hours", "2027-03-01T07:00:00Z"),
    (FR, None, "2028-02-28T19:30:00Z", "FR:hours", "2028-02-29T07:00:00Z"),
    # The tenant's quiet hours are stricter than the law's in the morning (08:30 in Paris)
    (FR, ("20:00", "09:30"), "2026-11-24T07:30:00Z", "tenant:quiet_hours", "2026-11-24T08:30:00Z"),
    # New York: spring forward on 8 March 2026 and back on 1 November
    (NYC, None, "2026-03-08T06:30:00Z", "US:hours", "2026-03-08T12:00:00Z"),
    (NYC, None, "2026-11-01T05:30:00Z", "US:hours", "2026-11-01T13:00:00Z"),
    # Florida's evening ends at 20:00, the TCPA's at 21:00
    (MIAMI, None, "2026-11-25T01:30:00Z", "US-FL:hours", "2026-11-25T13:00:00Z"),
    (PENSACOLA, None, "2026-11-25T02:30:00Z", "US-FL:hours", "2026-11-25T14:00:00Z"),
    # Mississippi in summer: 08:00 CDT is 07:00 CST, so 09:00 CDT (14:00 UTC)
    (JACKSON, None, "2026-07-07T12:30:00Z", "US-MS:hours", "2026-07-07T14:00:00Z"),
    (JACKSON, None, "2026-07-05T15:00:00Z", "US-MS:sunday", "2026-07-06T14:00:00Z"),
    # Germany has no statutory window: only the tenant's quiet hours
    (DE, ("21:00", "08:00"), "2026-11-24T21:00:00Z", "tenant:quiet_hours", "2026-11-25T07:00:00Z"),
]


@pytest.mark.parametrize(("number", "quiet", "send_at", "rule_id", "retry"), RETRIES)
def test_retry_at_is_the_next_moment_every_rule_allows(
    number: str, quiet: tuple[str, str] | None, send_at: str, rule_id: str, retry: str
) -> None:
    found = held(number, quiet=quiet).settle(phone.time_zones(number), z(send_at), [])
    assert found == ("quiet_hours", rule_id, z(retry))


def test_caps_and_hours_push_each_other_on() -> None:
    # Three sends in Florida's last 24 hours; the first leaves the window at 22:00 (after
    # 20:00), so 08:00 the next morning, where a send scheduled ahead fills the window again
    sends = ["2026-11-24T03:00:00Z", "2026-11-24T14:00:00Z", "2026-11-24T15:00:00Z", "2026-11-25T13:30:00Z"]
    found = held(MIAMI, cap=(10, 7)).settle(phone.time_zones(MIAMI), z("2026-11-24T16:00:00Z"), map(z, sends))
    assert found == ("frequency_cap", "US-FL:3-per-24h", z("2026-11-25T14:00:00Z"))
    # The tenant's own cap, stricter than Florida's, is named when it refuses first
    two = map(z, sends[1:3])
    found = held(MIAMI, cap=(2, 7)).settle(phone.time_zones(MIAMI), z("2026-11-24T16:00:00Z"), two)
    assert found == ("frequency_cap", "tenant:frequency_cap", z("2026-12-01T14:00:00Z"))


NUMBERS = [FR, DE, NYC, MIAMI, PENSACOLA, OKC, BALTIMORE, JACKSON, SEATTLE, BOISE_OR_LA]
QUIETS = [None, ("21:00", "08:00"), ("22:30", "07:15"), ("12:00", "13:00"), ("01:00", "02:30")]
START = datetime(2024, 1, 1, tzinfo=UTC)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    number=st.sampled_from(NUMBERS),
    quiet=st.sampled_from(QUIETS),
    cap=st.none() | st.tuples(st.integers(1, 3), st.integers(1, 7)),
    minute=st.integers(0, 6 * 366 * 24 * 60),
    second=st.integers(0, 59),
    offsets=st.lists(st.integers(-3 * 24 * 60, 3 * 24 * 60), max_size=5),
    waive=st.sets(st.sampled_from(sorted(sending_rules.rule_ids())), max_size=2),
)
def test_retry_at_is_allowed_by_every_rule_and_minimal(
    number: str,
    quiet: tuple[str, str] | None,
    cap: tuple[int, int] | None,
    minute: int,
    second: int,
    offsets: list[int],
    waive: set[str],
) -> None:
    """Granularity: a minute (every rule's boundary is a whole local minute, a send's window
    ends to the second): no whole minute between ``send_at`` and ``retry_at``, nor the
    second before ``retry_at``, is allowed."""
    ruleset = held(number, quiet=quiet, cap=cap, waived=frozenset(waive))
    zones = phone.time_zones(number)
    send_at = START + timedelta(minutes=minute, seconds=second)
    sends = sorted(send_at.replace(second=0) + timedelta(minutes=m) for m in offsets)

    def refused(moment: datetime) -> str | None:
        return ruleset.cap_refusal(sends, moment) or ruleset.refusal(zones, moment)

    found = ruleset.settle(zones, send_at, sends)
    if found is None:
        assert refused(send_at) is None
        return
    reason, rule_id, retry = found
    assert refused(send_at) == rule_id
    assert reason == ("frequency_cap" if ruleset.cap_refusal(sends, send_at) else "quiet_hours")
    assert retry is not None and retry > send_at
    assert refused(retry) is None
    assert refused(retry - timedelta(seconds=1)) is not None
    moment = send_at.replace(second=0) + timedelta(minutes=1)
    while moment < retry:
        assert refused(moment) is not None, f"{moment} is allowed, before {retry}"
        moment += timedelta(minutes=1)


# ---- the pre-send answer ---------------------------------------------------------------------


def snap(e164: str, sends: Sequence[str] = (), **extra: Any) -> Snapshot:
    since = "2026-06-01T09:00:00Z"
    return Snapshot(
        pk="",
        version=3,
        consents_json=json.dumps(
            {"sms:marketing": {"state": "active", "since": since, "confirmed_at": since}}
        ),
        language="en",
        region=phone.normalise(e164).region,
        optout_code="Code1234abcd",
        last_contact_at=None,
        sends=list(sends),
        last_campaign=None,
        **extra,
    )


def decide(
    tenant: Tenant, number: str, send_at: str, sends: Sequence[str] = (), **fields: Any
) -> presend.Outcome:
    now = z(send_at) - timedelta(hours=1)
    req = presend.parse_request(tenant, {"recipients": [number], "send_at": send_at, **fields}, now)
    ctx = presend._Context(tenant, req, now)
    return presend.decide(ctx, number, phone.normalise(number).region, snap(number, sends))


def tenant_with(demo_doc: dict[str, Any], **changes: Any) -> Tenant:
    doc = copy.deepcopy(demo_doc)
    doc.update(changes)
    return Tenant.from_dict(doc)


def test_the_answer_names_the_rule_and_retry_at(demo: Tenant, demo_doc: dict[str, Any]) -> None:
    # A Sunday afternoon in Paris
    outcome = decide(demo, FR, "2026-11-29T14:00:00Z")
    assert (outcome.allowed, outcome.reason, outcome.rule, outcome.retry_at) == (
        False, "quiet_hours", "FR:sunday", "2026-11-30T07:00:00Z",
    )  # fmt: skip
    # 20:30 in Miami: Florida's hours, not yet the TCPA's nor the tenant's (21:00)
    outcome = decide(demo, MIAMI, "2026-11-25T01:30:00Z")
    assert (outcome.reason, outcome.rule, outcome.retry_at) == (
        "quiet_hours", "US-FL:hours", "2026-11-25T13:00:00Z",
    )  # fmt: skip
    # 22:00 in Berlin: the tenant's quiet hours
    outcome = decide(demo, DE, "2026-11-24T21:00:00Z")
    assert (outcome.reason, outcome.rule) == ("quiet_hours", "tenant:quiet_hours")
    # A fourth send within 24 hours in Florida: the state's cap is named before the tenant's
    # (3 per 7 days, which refuses it too)
    three = ["2026-11-24T13:00:00Z", "2026-11-24T14:00:00Z", "2026-11-24T15:00:00Z"]
    outcome = decide(demo, MIAMI, "2026-11-24T16:00:00Z", three)
    assert (outcome.reason, outcome.rule) == ("frequency_cap", "US-FL:3-per-24h")
    # With a looser tenant cap, Florida's alone decides, and when it is free again
    loose = tenant_with(demo_doc, frequency_cap={"max": 10, "days": 7})
    outcome = decide(loose, MIAMI, "2026-11-24T16:00:00Z", three)
    assert (outcome.reason, outcome.rule, outcome.retry_at) == (
        "frequency_cap", "US-FL:3-per-24h", "2026-11-25T13:00:00Z",
    )  # fmt: skip
    # The same sends in New York: no state cap, the tenant's 10 per 7 days allows it
    assert decide(loose, NYC, "2026-11-24T16:00:00Z", three).reason == "ok"


def test_transactional_messages_are_not_held_by_marketing_rules(demo: Tenant) -> None:
    three = ["2026-11-29T11:00:00Z", "2026-11-29T12:00:00Z", "2026-11-29T13:00:00Z"]
    for number in (FR, MIAMI):
        outcome = decide(demo, number, "2026-11-29T14:00:00Z", three, category="transactional")
        assert (outcome.allowed, outcome.reason, outcome.rule) == (True, "ok", None)


def test_record_keeps_the_sends_the_longest_cap_of_the_recipient_needs(demo_doc: dict[str, Any]) -> None:
    no_cap = tenant_with(demo_doc, frequency_cap=None)
    sends = ["2026-11-22T12:00:00Z", "2026-11-24T08:00:00Z"]
    # Florida's 24 hours: the send of two days ago goes, this morning's stays
    outcome = decide(no_cap, MIAMI, "2026-11-24T16:00:00Z", sends, record=True, campaign="c")
    assert outcome.contact is not None
    assert outcome.contact.sends == ["2026-11-24T08:00:00Z", "2026-11-24T16:00:00Z"]
    # No cap applies in New York: only this send (what tells a retried request apart)
    outcome = decide(no_cap, NYC, "2026-11-24T16:00:00Z", sends, record=True, campaign="c")
    assert outcome.contact is not None and outcome.contact.sends == ["2026-11-24T16:00:00Z"]
    # The tenant's 7 days are longer than Florida's day: both kept
    outcome = decide(tenant_with(demo_doc), MIAMI, "2026-11-24T16:00:00Z", sends, record=True, campaign="c")
    assert outcome.contact is not None and outcome.contact.sends == [*sends, "2026-11-24T16:00:00Z"]


# ---- loosening needs the tenant's explicit, logged setting ----------------------------------


def test_a_tenant_waives_a_shipped_rule_only_by_its_id(demo_doc: dict[str, Any]) -> None:
    waiving = tenant_with(demo_doc, sending_rules={"waive": ["FR:sunday", "FR:holiday"]})
    assert waiving.waived_rules == {"FR:sunday", "FR:holiday"}
    # Sunday afternoon in Paris is allowed; the hours still hold
    assert decide(waiving, FR, "2026-11-29T14:00:00Z").reason == "ok"
    assert decide(waiving, FR, "2026-11-29T19:30:00Z").rule == "FR:hours"
    # A tenant cannot loosen the law with its own wider hours: both hold
    late = tenant_with(demo_doc, quiet_hours={"start": "23:00", "end": "06:00"})
    assert decide(late, FR, "2026-11-24T20:30:00Z").rule == "FR:hours"
    for bad, field in (
        ({"waive": ["FR:sundays"]}, "sending_rules.waive[0]"),
        ({"waive": [7]}, "sending_rules.waive[0]"),
        ({"waive": "FR:sunday"}, "sending_rules.waive"),
        ({"wave": ["FR:sunday"]}, "sending_rules.wave"),
    ):
        with pytest.raises(TenantError) as refused:
            tenant_with(demo_doc, sending_rules=bad)
        assert refused.value.path == field
    with pytest.raises(TenantError, match="did you mean 'FR:sunday'"):
        tenant_with(demo_doc, sending_rules={"waive": ["FR:sundays"]})


def test_a_waiver_is_logged_once_per_tenant_load_not_per_recipient(
    demo_doc: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from smsconsent import store

    doc = {**demo_doc, "sending_rules": {"waive": ["US-FL:3-per-24h"]}}
    monkeypatch.setattr(store, "get_tenant_doc", lambda tenant_id: doc)
    tenants.clear_cache()
    try:
        with function_logs() as stream:
            tenant = tenants.get("demo")
            assert tenant is not None and tenants.get("demo") is tenant  # the second from the cache
            for _ in range(3):
                decide(tenant, MIAMI, "2026-11-24T16:00:00Z")
    finally:
        tenants.clear_cache()
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [(line["message"], line["waived_rules"]) for line in lines] == [
        ("tenant waives shipped sending rules", ["US-FL:3-per-24h"])
    ]


# ---- holidays stay out of every cold start -------------------------------------------------


def test_the_holidays_library_is_imported_only_when_a_holiday_rule_is_checked() -> None:
    code = (
        "import sys; from smsconsent import phone; from smsconsent.presend import rules; "
        "from datetime import datetime, UTC; "
        "de = rules.ruleset('DE', None, ('21:00', '08:00')); us = rules.ruleset('US', 'FL'); "
        "de.refusal(('Europe/Berlin',), datetime(2026, 11, 29, 12, tzinfo=UTC)); "
        "us.refusal(('America/New_York',), datetime(2026, 11, 29, 12, tzinfo=UTC)); "
        "before = 'holidays' in sys.modules; "
        "rules.ruleset('FR', None).refusal(('Europe/Paris',), datetime(2026, 11, 29, 12, tzinfo=UTC)); "
        "print(before, 'holidays' in sys.modules)"
    )
    run = subprocess.run(  # noqa: S603 - this interpreter, a fixed snippet
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT / "layers/smsconsent"), "PATH": ""},
    )
    assert run.stdout.split() == ["False", "True"]


def test_retry_at_is_iso_utc_in_the_answer(demo: Tenant) -> None:
    outcome = decide(demo, FR, "2026-11-21T19:30:00Z")
    assert outcome.retry_at == iso(at("2026-11-23T08:00", PARIS)) == "2026-11-23T07:00:00Z"


def test_the_docs_table_lists_every_shipped_rule() -> None:
    page = (ROOT / "docs/sending-rules.md").read_text(encoding="utf-8")
    listed = {m.group(1) for line in page.splitlines() if (m := re.match(r"^\| `([A-Z][^`]*)` \|", line))}
    assert listed == set(sending_rules.rule_ids())


def test_openapi_describes_every_rule_a_check_can_name() -> None:
    import yaml

    doc = yaml.safe_load((ROOT / "openapi.yaml").read_text(encoding="utf-8"))
    result = doc["components"]["schemas"]["CheckResult"]
    assert "rule" in result["properties"] and "rule" not in result["required"]
    pattern = re.compile(result["properties"]["rule"]["pattern"])
    for rule_id in sending_rules.rule_ids() | {rules.TENANT_QUIET_HOURS, rules.TENANT_FREQUENCY_CAP}:
        assert pattern.match(rule_id), rule_id


@pytest.mark.slow
@pytest.mark.perf
def test_the_rules_add_little_to_the_pre_send_cpu(capsys: pytest.CaptureFixture[str]) -> None:
    """``make bench`` holds the goal (rules on within 1.10x of rules off); the bound here is
    looser, room for a noisy machine shared with other work, on the best of three rounds."""
    from bench.presend_cpu import side_by_side

    figures = side_by_side(10_000, rounds=3)
    with capsys.disabled():
        print(f"\npresend CPU per recipient, sending rules on and off: {figures}")
    assert figures["summary_rules_on"] == figures["summary_rules_off"] == {"allowed": 10_000, "denied": 0}
    assert figures["cold_ratio_on_to_off"] <= 1.5
    assert figures["warm_ratio_on_to_off"] <= 1.5
