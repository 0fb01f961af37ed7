"""The pre-send check's decisions, pure: subjects come from a dict, nothing touches DynamoDB.

Every reason, input order and duplicates, transactional against marketing, purpose and
channel, footers, quiet hours across DST changes and midnight and over several zones, the
frequency cap, lapse and token expiry judged at send time, recording contact, races, and
request validation."""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from smsconsent import api, consent, keys, messages, phone, presend
from smsconsent.clock import iso
from smsconsent.errors import Refusal
from smsconsent.store import StoreUnavailable, subject_pk
from smsconsent.store.batch import Contact, Snapshot
from smsconsent.tenants import Tenant
from tests.fixtures.tenants import PEPPER_V1, PEPPER_V2

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)  # a Tuesday: 13:00 in Berlin, 07:00 in New York
DE = "+4915112345678"
DE2 = "+4915123456789"
FR = "+33612345678"
NYC = "+12125551234"
LA = "+14155552671"
BOISE_OR_LA = "+12086547886"  # its area code spans Mountain and Pacific time
AU = "+61412345678"  # Australian mobile: every Australian zone
BR = "+5511987654321"  # not an allowed country of the demo tenant


@pytest.fixture(autouse=True)
def _pepper(pepper: Any) -> None:
    """Every test runs with the unit tests' v1 pepper."""


class FakeStore:
    """Subjects by pk; records what was read and written. ``conflicts``: how many times
    a write of a pk loses its race (``changes``: what a loser then reads)."""

    def __init__(self) -> None:
        self.items: dict[str, Snapshot] = {}
        self.reads: list[list[str]] = []
        self.recorded: list[Contact] = []
        self.conflicts: dict[str, int] = {}
        self.changes: dict[str, Snapshot | None] = {}

    def put(self, e164: str, snap: Snapshot, version: str | None = None) -> Snapshot:
        snap.pk = subject_pk("demo", keys.subject_hash("demo", e164, version))
        self.items[snap.pk] = snap
        return snap

    def read_pages(self, pks: Sequence[str]) -> list[list[Snapshot]]:
        self.reads.append(list(pks))
        return [[self.items[pk] for pk in pks if pk in self.items]]

    def read_one(self, pk: str) -> Snapshot | None:
        return self.items.get(pk)

    def record(self, contacts: Sequence[Contact], now: datetime) -> list[bool]:
        done = []
        for contact in contacts:
            pk = contact.subject.pk
            if self.conflicts.get(pk):
                self.conflicts[pk] -= 1
                if pk in self.changes:
                    changed = self.changes[pk]
                    if changed is None:
                        self.items.pop(pk, None)
                    else:
                        changed.pk = pk
                        self.items[pk] = changed
                done.append(False)
                continue
            self.recorded.append(contact)
            done.append(True)
        return done


def record(state: str = "active", at: datetime = NOW - timedelta(days=30), **extra: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {"state": state, "since": iso(at)}
    if state == "active":
        rec["confirmed_at"] = iso(at)
    if state == "pending":
        rec.update(token="t" * 64, issued_at=iso(at))
    rec.update(extra)
    return rec


def snap(
    e164: str = DE,
    consents: dict[str, dict[str, Any]] | None = None,
    *,
    language: str | None = "de",
    code: str | None = "Code1234abcd",
    last_contact_at: str | None = None,
    sends: Sequence[str] = (),
    campaign: str | None = None,
    version: int | None = 3,
) -> Snapshot:
    return Snapshot(
        pk="",
        version=version,
        consents_json=json.dumps({"sms:marketing": record()} if consents is None else consents),
        language=language,
        region=phone.normalise(e164).region,
        optout_code=code,
        last_contact_at=last_contact_at,
        sends=list(sends),
        last_campaign=campaign,
    )


def run(tenant: Tenant, store: FakeStore, recipients: list[str], **fields: Any) -> dict[str, Any]:
    fields.setdefault("send_at", iso(NOW))
    req = presend.parse_request(tenant, {"recipients": recipients, **fields}, NOW)
    return presend.check(tenant, req, store)


def reasons(answer: dict[str, Any]) -> list[str]:
    return [r["reason"] for r in answer["results"]]


def tenant_with(demo_doc: dict[str, Any], **changes: Any) -> Tenant:
    doc = copy.deepcopy(demo_doc)
    doc.update(changes)
    return Tenant.from_dict(doc)


# ---- every reason, in input order ------------------------------------------------------------


def test_every_reason_in_input_order_with_a_summary(demo: Tenant) -> None:
    # Given one number for each outcome
    store = FakeStore()
    store.put(DE, snap(DE))
    store.put("+4915100000001", snap("+4915100000001", {"sms:newsletter": record()}))
    store.put(
        "+4915100000002",
        snap("+4915100000002", {"sms:marketing": record("pending", NOW - timedelta(hours=1))}),
    )
    store.put("+4915100000003", snap("+4915100000003", {"sms:marketing": record("opted_out")}))
    store.put("+4915100000004", snap("+4915100000004", {"sms:marketing": record("lapsed")}))
    store.put(LA, snap(LA, language="en"))
    three = [iso(NOW - timedelta(days=d)) for d in (5, 3, 1)]
    store.put("+4915100000005", snap("+4915100000005", sends=three))
    recipients = [
        DE,
        "12345",
        BR,
        DE2,
        "+4915100000001",
        "+4915100000002",
        "+4915100000003",
        "+4915100000004",
        LA,
        "+4915100000005",
    ]
    # When they are checked for marketing at 13:00 Berlin time (04:00 in Los Angeles)
    answer = run(demo, store, recipients)
    # Then each gets its reason, in the order asked
    assert reasons(answer) == [
        "ok",
        "invalid_phone",
        "country_not_allowed",
        "no_consent",
        "no_consent",
        "pending",
        "opted_out",
        "lapsed",
        "quiet_hours",
        "frequency_cap",
    ]
    assert [r["input"] for r in answer["results"]] == recipients
    assert answer["summary"] == {"allowed": 1, "denied": 9}
    first, invalid, foreign = answer["results"][:3]
    assert first == {
        "input": DE,
        "phone": DE,
        "allowed": True,
        "reason": "ok",
        "retry_at": None,
        "footer": "Abmelden: http://127.0.0.1:3000/o/Code1234abcd",
        "optout_url": "http://127.0.0.1:3000/o/Code1234abcd",
    }
    assert invalid["phone"] is None and invalid["footer"] is None and invalid["optout_url"] is None
    assert foreign["phone"] == BR and not foreign["allowed"]
    assert answer["results"][8]["retry_at"] == "2026-11-24T16:00:00Z"  # 08:00 in Los Angeles
    assert answer["results"][9]["retry_at"] == "2026-11-26T12:00:00Z"  # the oldest send leaves the window
    assert all(r["footer"] is None and r["optout_url"] is None for r in answer["results"] if not r["allowed"])


def test_any_common_format_is_one_subject_read_once(demo: Tenant) -> None:
    store = FakeStore()
    pk = store.put(DE, snap(DE)).pk
    recipients = [DE, "0151 12345678", "+49 (151) 1234-5678", DE, "0049 151 12345678"]
    answer = run(demo, store, recipients)
    assert reasons(answer) == ["ok"] * 5
    assert {r["phone"] for r in answer["results"]} == {DE}
    assert [r["input"] for r in answer["results"]] == recipients
    assert store.reads == [[pk]]  # one key, one read


def test_an_e164_looking_number_in_a_non_canonical_form_is_found_under_its_normal_form(demo: Tenant) -> None:
    store = FakeStore()
    store.put(DE, snap(DE))
    answer = run(demo, store, ["+49015112345678"])
    assert answer["results"][0]["phone"] == DE and answer["results"][0]["reason"] == "ok"
    assert len(store.reads) == 2  # as written, then as phonenumbers writes it


@pytest.mark.parametrize(
    ("recipients", "reason"),
    [
        (([DE, "+49015112345678"]), "ok"),  # the region of the number as written last: Germany's
        ((["+49015112345678", DE]), "country_not_allowed"),  # the one the subject keeps
    ],
)
def test_a_number_given_again_in_another_form_takes_the_region_of_its_last_input(
    demo: Tenant, recipients: list[str], reason: str
) -> None:
    # Given a subject that keeps another region than phonenumbers gives its number (an
    # older release's, or a damaged item), decided as it is read
    store = FakeStore()
    stored = store.put(DE, snap(DE))
    stored.region = "BR"
    # When the same number comes again in a form that is only normalised after the read
    answer = run(demo, store, recipients)
    # Then both inputs get the answer for the region of the last of them
    assert reasons(answer) == [reason, reason]
    assert {r["phone"] for r in answer["results"]} == {DE}


def test_a_subject_under_an_older_pepper_version_is_found(demo: Tenant, pepper: Any) -> None:
    # Given a subject stored before the pepper was rotated
    store = FakeStore()
    store.put(DE, snap(DE))
    pepper.use({"current": "v2", "v1": PEPPER_V1, "v2": PEPPER_V2})
    # When it is checked with v2 current
    answer = run(demo, store, [DE, DE2])
    # Then the current keys are read first, the older ones for what was not found
    assert reasons(answer) == ["ok", "no_consent"]
    assert [len(r) for r in store.reads] == [2, 2]
    assert all(pk.split("#")[2].startswith("v1.") for pk in store.reads[1])


# ---- transactional ----------------------------------------------------------------------------


def test_transactional_needs_no_consent_and_no_read(demo: Tenant) -> None:
    store = FakeStore()
    store.put(DE2, snap(DE2, {"sms:marketing": record("opted_out")}))
    answer = run(demo, store, [DE, DE2, LA, "12345", BR], category="transactional", purpose="orders")
    assert reasons(answer) == ["ok", "ok", "ok", "invalid_phone", "country_not_allowed"]
    # Not deferred by quiet hours (04:00 in Los Angeles), no footer, nothing read
    assert all(r["footer"] is None and r["optout_url"] is None for r in answer["results"])
    assert store.reads == []


def test_transactional_ignores_the_frequency_cap(demo: Tenant) -> None:
    store = FakeStore()
    store.put(DE, snap(DE, sends=[iso(NOW - timedelta(hours=h)) for h in (1, 2, 3, 4)]))
    assert reasons(run(demo, store, [DE], category="transactional")) == ["ok"]
    assert reasons(run(demo, store, [DE], category="marketing")) == ["frequency_cap"]


def test_transactional_is_denied_after_a_stop_when_the_stop_scope_is_all(demo_doc: dict[str, Any]) -> None:
    tenant = tenant_with(demo_doc, stop_scope="all")
    store = FakeStore()
    opted_out = {k: record("opted_out") for k in ("sms:marketing", "sms:newsletter", "sms:orders")}
    store.put(DE, snap(DE, opted_out))
    resigned = {"sms:orders": record("pending", NOW - timedelta(hours=1), prior=record("opted_out"))}
    store.put(DE2, snap(DE2, resigned))
    store.put(FR, snap(FR, {"sms:orders": record()}))
    answer = run(tenant, store, [DE, DE2, FR, LA], category="transactional", purpose="orders")
    assert reasons(answer) == ["opted_out", "opted_out", "ok", "ok"]


def test_the_category_follows_the_purpose_unless_given(demo: Tenant) -> None:
    req = presend.parse_request(demo, {"recipients": [DE], "purpose": "orders"}, NOW)
    assert req.category == "transactional"
    req = presend.parse_request(demo, {"recipients": [DE]}, NOW)
    assert (req.category, req.purpose, req.channel, req.record, req.send_at) == (
        "marketing",
        "marketing",
        "sms",
        False,
        NOW,
    )


# ---- purpose and channel ------------------------------------------------------------------------


def test_marketing_under_a_transactional_purpose_is_refused(demo: Tenant) -> None:
    # A STOP leaves the transactional "orders" purpose active: marketing must not ride on it
    with pytest.raises(Refusal) as refused:
        run(demo, FakeStore(), [DE], category="marketing", purpose="orders")
    error = api.answer_for(refused.value)
    assert (error.status, error.code, error.field) == (
        422,
        "invalid_field",
        "category",
    )
    # Transactional under any purpose stays allowed (the SPEC's default purpose is marketing)
    assert reasons(run(demo, FakeStore(), [DE], category="transactional", purpose="marketing")) == ["ok"]


def test_purpose_and_channel_are_honoured(demo: Tenant) -> None:
    store = FakeStore()
    store.put(DE, snap(DE, {"sms:newsletter": record(), "whatsapp:marketing": record()}))
    assert reasons(run(demo, store, [DE])) == ["no_consent"]
    assert reasons(run(demo, store, [DE], purpose="newsletter")) == ["ok"]
    assert reasons(run(demo, store, [DE], channel="whatsapp")) == ["ok"]
    assert reasons(run(demo, store, [DE], channel="whatsapp", purpose="newsletter")) == ["no_consent"]


def test_a_number_held_by_the_aws_opt_out_list_is_refused_for_sms_marketing_only(
    demo_doc: dict[str, Any],
) -> None:
    """``provider_opted_out`` is about AWS's SMS list and marketing: never WhatsApp, never
    transactional (even with every purpose in the STOP scope), never a tenant naming no list."""
    until = iso(NOW + timedelta(days=20))
    held = {"held": {"since": iso(NOW - timedelta(days=10)), "until": until, "why": "delete_limit"}}
    consents = {k: record() for k in ("sms:marketing", "whatsapp:marketing", "sms:orders")}
    tenant = tenant_with(demo_doc, stop_scope="all")
    store = FakeStore()
    store.put(DE, snap(DE, consents)).provider_list = json.dumps(held)
    answer = run(tenant, store, [DE])
    assert (answer["results"][0]["reason"], answer["results"][0]["retry_at"]) == ("provider_opted_out", until)
    assert reasons(run(tenant, store, [DE], channel="whatsapp")) == ["ok"]
    assert reasons(run(tenant, store, [DE], category="transactional", purpose="orders")) == ["ok"]
    # Past its time the hold waits for the daily run's delete: no time to give
    late = run(tenant, store, [DE], send_at=iso(NOW + timedelta(days=21)))
    assert (late["results"][0]["reason"], late["results"][0]["retry_at"]) == ("provider_opted_out", None)
    no_list = copy.deepcopy(demo_doc)
    no_list.pop("sms")
    assert reasons(run(Tenant.from_dict(no_list), store, [DE])) == ["ok"]


# ---- footers ---------------------------------------------------------------------------------------


def test_footer_is_the_shortcode_line_for_france_and_the_link_elsewhere(demo: Tenant) -> None:
    store = FakeStore()
    store.put(FR, snap(FR, language="en"))
    store.put("+33687654321", snap("+33687654321", language="de"))
    store.put(DE, snap(DE, language="en"))
    store.put(DE2, snap(DE2, language=None))
    answer = run(demo, store, [FR, "+33687654321", DE, DE2])
    assert [r["footer"] for r in answer["results"]] == [
        "Opt out: STOP to 36111",
        "Abmelden: STOP an 36111",
        "Opt out: http://127.0.0.1:3000/o/Code1234abcd",
        "Abmelden: http://127.0.0.1:3000/o/Code1234abcd",  # no language: the tenant's
    ]
    assert all(r["optout_url"] == "http://127.0.0.1:3000/o/Code1234abcd" for r in answer["results"])
    # WhatsApp has no shortcode: the link
    store.put(FR, snap(FR, {"whatsapp:marketing": record()}, language="en"))
    [whatsapp] = run(demo, store, [FR], channel="whatsapp")["results"]
    assert whatsapp["footer"] == "Opt out: http://127.0.0.1:3000/o/Code1234abcd"


def test_footer_language_is_the_subjects_when_the_tenant_speaks_it(demo_doc: dict[str, Any]) -> None:
    doc = copy.deepcopy(demo_doc)
    doc["languages"] = ["de", "en", "fr"]
    for purpose in doc["purposes"].values():
        purpose["description"]["fr"] = "offres"
    doc["consent_texts"]["signup-sms"]["versions"]["1"]["fr"] = "Oui"
    tenant = Tenant.from_dict(doc)
    store = FakeStore()
    store.put(FR, snap(FR, language="fr"))
    store.put(DE, snap(DE, language="fr-FR"))
    store.put(DE2, snap(DE2, language="it"))
    answer = run(tenant, store, [FR, DE, DE2])
    assert [r["footer"] for r in answer["results"]] == [
        "STOP au 36111",
        "Désinscription : http://127.0.0.1:3000/o/Code1234abcd",
        "Abmelden: http://127.0.0.1:3000/o/Code1234abcd",
    ]


def test_a_subject_without_an_optout_code_gets_the_reply_stop_line() -> None:
    assert messages.optout_footer("de") == "Abmelden: STOP antworten"
    assert messages.optout_footer("xx", url="https://x.example/o/1") == "Opt out: https://x.example/o/1"


def test_footers_fit_gsm7() -> None:
    for kind in ("shortcode", "url", "reply"):
        for lang in ("en", "de", "fr"):
            text = messages.optout_footer(lang, shortcode="36111" if kind == "shortcode" else None, url="u")
            assert messages.segments(text) == 1 and messages.segments(text + "é") == 1


# ---- quiet hours ----------------------------------------------------------------------------------


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def retry(zones: tuple[str, ...], moment: str, start: str = "21:00", end: str = "08:00") -> str | None:
    found = presend.next_allowed(zones, at(moment), start, end)
    return None if found is None else iso(found)


BERLIN = ("Europe/Berlin",)
NEW_YORK = ("America/New_York",)


@pytest.mark.parametrize(
    ("zones", "moment", "expected"),
    [
        # Berlin, the night into summer time (Sunday 29 March 2026): 08:00 CEST is 06:00 UTC
        (BERLIN, "2026-03-28T22:00:00Z", "2026-03-29T06:00:00Z"),
        (BERLIN, "2026-03-29T05:59:59Z", "2026-03-29T06:00:00Z"),
        (BERLIN, "2026-03-29T06:00:00Z", "2026-03-29T06:00:00Z"),
        (BERLIN, "2026-03-28T19:59:59Z", "2026-03-28T19:59:59Z"),  # 20:59:59 CET: still allowed
        (BERLIN, "2026-03-29T19:00:00Z", "2026-03-30T06:00:00Z"),  # 21:00 CEST
        # Berlin, the night back to winter time (Sunday 25 October 2026): 08:00 CET is 07:00 UTC
        (BERLIN, "2026-10-24T21:00:00Z", "2026-10-25T07:00:00Z"),
        (BERLIN, "2026-10-25T06:59:00Z", "2026-10-25T07:00:00Z"),
        (BERLIN, "2026-10-24T18:59:00Z", "2026-10-24T18:59:00Z"),  # 20:59 CEST
        (BERLIN, "2026-10-25T19:30:00Z", "2026-10-25T19:30:00Z"),  # 20:30 CET: allowed
        (BERLIN, "2026-10-25T20:00:00Z", "2026-10-26T07:00:00Z"),  # 21:00 CET
        # Across midnight
        (BERLIN, "2026-11-24T20:00:00Z", "2026-11-25T07:00:00Z"),
        (BERLIN, "2026-11-24T23:30:00Z", "2026-11-25T07:00:00Z"),
        # New York: into summer time on 8 March 2026, back on 1 November 2026
        (NEW_YORK, "2026-03-08T04:00:00Z", "2026-03-08T12:00:00Z"),
        (NEW_YORK, "2026-03-07T12:00:00Z", "2026-03-07T13:00:00Z"),
        (NEW_YORK, "2026-11-01T04:00:00Z", "2026-11-01T13:00:00Z"),
        (NEW_YORK, "2026-10-31T12:00:00Z", "2026-10-31T12:00:00Z"),
    ],
)
def test_quiet_hours_in_local_time_across_dst_changes_and_midnight(
    zones: tuple[str, ...], moment: str, expected: str
) -> None:
    assert retry(zones, moment) == expected


def test_quiet_hours_ending_inside_a_skipped_or_repeated_hour() -> None:
    # 02:30 does not exist in Berlin on 29 March 2026: allowed from the jump (03:00 CEST)
    assert retry(BERLIN, "2026-03-29T00:30:00Z", "01:00", "02:30") == "2026-03-29T01:00:00Z"
    # 02:30 happens twice on 25 October 2026: allowed from the first (00:30 UTC)
    assert retry(BERLIN, "2026-10-25T00:00:00Z", "01:00", "02:30") == "2026-10-25T00:30:00Z"
    # ... and after the clock went back to 02:00, quiet again until 02:30 comes round again
    assert retry(BERLIN, "2026-10-25T01:00:00Z", "01:00", "02:30") == "2026-10-25T01:30:00Z"


def test_several_zones_take_the_strictest() -> None:
    assert phone.time_zones(BOISE_OR_LA) == ("America/Boise", "America/Los_Angeles")
    zones = phone.time_zones(BOISE_OR_LA)
    # 08:30 in Boise, 07:30 in Los Angeles: wait for Los Angeles
    assert retry(zones, "2026-11-24T15:30:00Z") == "2026-11-24T16:00:00Z"
    # 21:30 in Boise, 20:30 in Los Angeles: quiet until Los Angeles wakes
    assert retry(zones, "2026-11-25T04:30:00Z") == "2026-11-25T16:00:00Z"
    assert retry(zones, "2026-11-25T03:59:00Z") == "2026-11-25T03:59:00Z"
    # Australia: from 08:00 on the Cocos Islands (UTC+6:30) to 21:00 in Sydney (UTC+11)
    australia = phone.time_zones(AU)
    assert {"Australia/Perth", "Australia/Sydney", "Indian/Cocos"} <= set(australia)
    assert retry(australia, "2026-11-24T00:00:00Z") == "2026-11-24T01:30:00Z"
    assert retry(australia, "2026-11-24T10:00:00Z") == "2026-11-25T01:30:00Z"
    # Allowed hours 11:00-12:00 never overlap in two zones an hour apart: no moment at all
    assert retry(zones, "2026-11-24T12:00:00Z", "12:00", "11:00") is None


def test_a_several_zone_number_in_a_check(demo_doc: dict[str, Any]) -> None:
    tenant = tenant_with(demo_doc, allowed_countries=["DE", "US", "AU"])
    store = FakeStore()
    store.put(BOISE_OR_LA, snap(BOISE_OR_LA, language="en"))
    store.put(AU, snap(AU, language="en"))
    answer = run(tenant, store, [BOISE_OR_LA, AU], send_at="2026-11-24T15:30:00Z")
    assert [(r["reason"], r["retry_at"]) for r in answer["results"]] == [
        ("quiet_hours", "2026-11-24T16:00:00Z"),
        ("quiet_hours", "2026-11-25T01:30:00Z"),
    ]


# ---- frequency cap -------------------------------------------------------------------------------


def test_frequency_cap_counts_a_rolling_window(demo: Tenant) -> None:
    store = FakeStore()

    def sends(*days: float) -> list[str]:
        return [iso(NOW - timedelta(days=d)) for d in days]

    store.put(DE, snap(DE, sends=sends(7, 5, 3)))  # exactly 7 days ago has left the window
    store.put(DE2, snap(DE2, sends=sends(8, 6.5, 2, 1)))
    store.put(FR, snap(FR, sends=sends(6, 3, 1), language="en"))
    answer = run(demo, store, [DE, DE2, FR])
    assert [(r["reason"], r["retry_at"]) for r in answer["results"]] == [
        ("ok", None),
        # The oldest send leaves at 00:00 UTC, 01:00 in Berlin: quiet until 08:00
        ("frequency_cap", "2026-11-25T07:00:00Z"),
        ("frequency_cap", iso(NOW + timedelta(days=1))),
    ]


def test_frequency_cap_retry_waits_for_the_morning_when_it_falls_in_quiet_hours(demo: Tenant) -> None:
    store = FakeStore()
    store.put(
        DE, snap(DE, sends=[iso(NOW - timedelta(days=6.5)), "2026-11-22T10:00:00Z", "2026-11-23T10:00:00Z"])
    )
    [result] = run(demo, store, [DE])["results"]
    # The oldest send leaves the window at 00:00 UTC (01:00 Berlin): allowed from 08:00 Berlin
    assert (result["reason"], result["retry_at"]) == ("frequency_cap", "2026-11-25T07:00:00Z")


def test_the_cap_holds_in_every_window_around_the_send_and_retry_is_the_first_free_moment() -> None:
    def days(*offsets: float) -> list[datetime]:
        return [NOW + timedelta(days=d) for d in offsets]

    week = timedelta(days=7)
    # Sends on both sides count: any 3 of them with this one inside 7 days fill a window
    assert presend.cap_free_at(days(2, 3, 4), NOW, 3, week) == NOW + timedelta(days=9)
    assert presend.cap_free_at(days(-3, 3), NOW, 2, week) == NOW + timedelta(days=4)
    # Exactly 7 days apart do not share a window (as "(t - 7 days, t]")
    assert presend.cap_free_at(days(-7, 7), NOW, 1, week) == NOW
    assert presend.cap_free_at(days(-6.5, 7), NOW, 1, week) == NOW + timedelta(days=14)
    # Far away in both directions, or fewer than the cap: allowed now
    assert presend.cap_free_at(days(-30, 30, 31), NOW, 2, week) == NOW
    assert presend.cap_free_at(days(1, 2), NOW, 3, week) == NOW
    # Two sends at this very second are two sends
    assert presend.cap_free_at([NOW, NOW], NOW, 2, week) == NOW + week


def test_a_send_scheduled_ahead_counts_toward_the_cap_of_an_earlier_one(demo: Tenant) -> None:
    store = FakeStore()
    ahead = [iso(NOW + timedelta(days=d)) for d in (1, 2, 3)]
    store.put(DE, snap(DE, sends=ahead))
    [result] = run(demo, store, [DE])["results"]
    # 4 sends within 7 days otherwise; free when the first scheduled one is a week behind
    assert (result["reason"], result["retry_at"]) == ("frequency_cap", iso(NOW + timedelta(days=8)))


# ---- lapse and expiry judged at send time --------------------------------------------------------


def test_an_active_record_whose_lapse_is_due_is_lapsed(demo: Tenant) -> None:
    store = FakeStore()
    days = demo.lapse_after_days
    store.put(DE, snap(DE, {"sms:marketing": record(at=NOW - timedelta(days=days))}))
    store.put(DE2, snap(DE2, {"sms:marketing": record(at=NOW - timedelta(days=days - 1))}))
    old = {"sms:marketing": record(at=NOW - timedelta(days=days + 100))}
    store.put(FR, snap(FR, old, last_contact_at=iso(NOW - timedelta(days=10))))
    answer = run(demo, store, [DE, DE2, FR])
    assert reasons(answer) == ["lapsed", "ok", "ok"]
    # The same rule as the retention job's
    for e164, lapsed in ((DE, True), (DE2, False), (FR, False)):
        subject = store.items[subject_pk("demo", keys.subject_hash("demo", e164))].as_subject("demo")
        assert (consent.lapse_at(subject, subject.consents["sms:marketing"], demo) <= NOW) is lapsed


def test_a_pending_record_past_its_token_falls_back_to_what_it_was(demo: Tenant) -> None:
    store = FakeStore()
    expired = NOW - timedelta(hours=demo.token_ttl_hours)
    fresh = NOW - timedelta(hours=1)
    store.put(DE, snap(DE, {"sms:marketing": record("pending", expired, prior=record("opted_out"))}))
    store.put(DE2, snap(DE2, {"sms:marketing": record("pending", expired)}))
    store.put(FR, snap(FR, {"sms:marketing": record("pending", fresh, prior=record("lapsed"))}))
    assert reasons(run(demo, store, [DE, DE2, FR])) == ["opted_out", "no_consent", "pending"]


# ---- record: true ------------------------------------------------------------------------------------


def test_record_builds_one_contact_per_allowed_marketing_subject(demo: Tenant) -> None:
    store = FakeStore()
    old = iso(NOW - timedelta(days=9))
    store.put(DE, snap(DE, sends=[old, iso(NOW - timedelta(days=2))], campaign="autumn"))
    store.put(DE2, snap(DE2, {"sms:marketing": record("opted_out")}))
    answer = run(demo, store, [DE, DE2, DE, "0151 12345678"], record=True, campaign="winter")
    assert reasons(answer) == ["ok", "opted_out", "ok", "ok"]
    [contact] = store.recorded
    assert contact.at == iso(NOW)
    assert contact.sends == [iso(NOW - timedelta(days=2)), iso(NOW)]  # the old send left the window
    assert contact.campaign == "winter"
    # The lapse clock moves with the contact: due when the consent would lapse from now
    assert contact.due == NOW + timedelta(days=demo.lapse_after_days)


def test_record_without_a_campaign_forgets_the_last_one_and_transactional_records_nothing(
    demo: Tenant,
) -> None:
    store = FakeStore()
    store.put(DE, snap(DE, campaign="autumn"))
    run(demo, store, [DE], record=True)
    assert [c.campaign for c in store.recorded] == [None]
    run(demo, store, [DE], record=True, category="transactional")
    assert len(store.recorded) == 1


def test_a_retried_record_with_the_same_send_at_counts_once(demo: Tenant) -> None:
    store = FakeStore()
    sends = [iso(NOW - timedelta(days=2)), iso(NOW - timedelta(days=1)), iso(NOW)]  # the last: this send
    store.put(DE, snap(DE, sends=sends, campaign="winter", last_contact_at=iso(NOW)))
    assert reasons(run(demo, store, [DE], record=True, campaign="winter")) == ["ok"]
    assert store.recorded == []
    # Another campaign at the same second is another send: the cap applies
    assert reasons(run(demo, store, [DE], record=True, campaign="other")) == ["frequency_cap"]


def test_a_lost_race_is_decided_again_on_fresh_state(demo: Tenant) -> None:
    store = FakeStore()
    stopped = store.put(DE, snap(DE)).pk
    kept = store.put(DE2, snap(DE2)).pk
    store.conflicts = {stopped: 1, kept: 1}
    store.changes = {stopped: snap(DE, {"sms:marketing": record("opted_out")}, version=4)}
    answer = run(demo, store, [DE, DE2], record=True)
    # The STOP that won the race wins the answer; the other is written on the second try
    assert reasons(answer) == ["opted_out", "ok"]
    assert [c.subject.pk for c in store.recorded] == [kept]


def test_a_subject_that_keeps_changing_makes_the_check_unavailable(demo: Tenant) -> None:
    store = FakeStore()
    store.conflicts = {store.put(DE, snap(DE)).pk: 99}
    with pytest.raises(StoreUnavailable):
        run(demo, store, [DE], record=True)


# ---- the request ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"recipients": []}, "invalid_field", "recipients"),
        ({"recipients": [DE] * 10_001}, "invalid_field", "recipients"),
        ({"recipients": DE}, "invalid_field", "recipients"),
        ({"recipients": [DE, 4915112345678]}, "invalid_field", "recipients"),
        ({"recipients": None}, "invalid_field", "recipients"),
        ({"category": "promo"}, "invalid_field", "category"),
        ({"category": ["marketing"]}, "invalid_field", "category"),
        ({"purpose": "lottery"}, "unknown_purpose", "purpose"),
        ({"purpose": 1}, "invalid_field", "purpose"),
        ({"channel": "fax"}, "invalid_field", "channel"),
        ({"campaign": ""}, "invalid_field", "campaign"),
        ({"campaign": "x" * 101}, "invalid_field", "campaign"),
        ({"campaign": 7}, "invalid_field", "campaign"),
        ({"send_at": "tomorrow"}, "invalid_field", "send_at"),
        ({"send_at": 1795356000}, "invalid_field", "send_at"),
        ({"send_at": "2031-01-01T00:00:00Z"}, "invalid_field", "send_at"),
        ({"send_at": "0001-01-01T00:00:00+01:00"}, "invalid_field", "send_at"),
        ({"record": "yes"}, "invalid_field", "record"),
    ],
)
def test_bad_requests_name_their_field(demo: Tenant, change: dict[str, Any], code: str, field: str) -> None:
    data = {"recipients": [DE], **change}
    with pytest.raises(Refusal) as caught:
        presend.parse_request(demo, data, NOW)
    error = api.answer_for(caught.value)
    assert (error.status, error.code, error.field) == (422, code, field)


def test_ten_thousand_recipients_and_a_naive_send_at_are_fine(demo: Tenant) -> None:
    req = presend.parse_request(
        demo,
        {"recipients": [DE] * 10_000, "send_at": "2026-11-24T12:00:00.123456", "campaign": "c" * 100},
        NOW,
    )
    assert len(req.recipients) == 10_000 and req.send_at == NOW


def test_the_answer_is_json(demo: Tenant) -> None:
    store = FakeStore()
    store.put(DE, snap(DE))
    answer = run(demo, store, [DE, "nonsense", LA])
    assert json.loads(json.dumps(answer)) == answer


# ---- CPU ----------------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.perf
def test_handler_cpu_per_recipient_at_ten_thousand(capsys: pytest.CaptureFixture[str]) -> None:
    """The goal is 25 µs per recipient (DynamoDB answered by a stub; ``make bench`` holds
    it). Measured 9-11 µs (4 December); the bound here is three times that, room for slow,
    noisy CI machines (this machine has measured one unchanged commit at twice its best), on
    the best of three runs. ``cold``: every number new to the container."""
    from bench.presend_cpu import measure

    runs = [measure(10_000) for _ in range(3)]
    figures = min(runs, key=lambda r: r["cold_us_per_recipient"])
    figures["warm_us_per_recipient"] = min(r["warm_us_per_recipient"] for r in runs)
    with capsys.disabled():
        print(f"\npresend CPU per recipient at 10,000: {figures}")
    assert figures["batch_get_requests"] == 100
    assert figures["summary"] == {"allowed": 10_000, "denied": 0}
    assert figures["warm_us_per_recipient"] <= 30
    assert figures["cold_us_per_recipient"] <= 30


def test_a_number_without_zones_is_judged_in_utc_and_a_missing_zone_database_is_an_error() -> None:
    assert retry((), "2026-11-24T07:00:00Z") == "2026-11-24T08:00:00Z"
    with pytest.raises(RuntimeError, match="tzdata"):
        retry(("Nowhere/Atlantis",), "2026-11-24T07:00:00Z")
    assert retry(("Nowhere/Atlantis", "Europe/Berlin"), "2026-11-24T06:00:00Z") == "2026-11-24T07:00:00Z"
