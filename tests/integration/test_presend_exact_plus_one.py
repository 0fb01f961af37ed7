"""The pre-send check answers as the frozen oracle where the exact-answer population is
thin and the second pass's caches could confuse recipients: numbers of +1 from many area
codes (states with rules of their own, toll-free and other non-geographic codes, Canada,
the Caribbean and US territories), which ``_Context.rules`` now tells apart by the first
digits of the number; many subjects sharing one list of recorded sends in different time
zones (``_Rules.blocked`` keeps one deferral per zones and sends: one keyed by the sends
alone passed every other test); one number stored under both pepper versions, and German
numbers written with the trunk 0 after +49 (looked up under every version); retried
``record: true`` requests."""

from __future__ import annotations

import json
import random
from datetime import timedelta
from typing import Any

import phonenumbers

from tests.fixtures import presend_exact as exact
from tests.fixtures.presend_v0 import subject_pk

SEED = 31
# FL, OK, MD, MS, WA (rules of their own), NY, CA, TX, SD and NV (two zones), Puerto Rico;
# toll-free and premium; Canada; Jamaica, Bermuda, Guam, the US Virgin Islands.
_AREAS = ["305", "405", "301", "601", "206", "212", "415", "512", "605", "775", "787",
          "800", "888", "877", "900", "416", "604", "514", "876", "441", "671", "340"]  # fmt: skip
_ALSO_ALLOWED = {"CA", "PR", "JM", "BM", "GU", "VI"}


def _numbers(rng: random.Random, n: int) -> dict[str, str]:
    out: dict[str, str] = {}
    while len(out) < n:
        if rng.random() < 0.85:
            digits = rng.choice(_AREAS) + str(rng.randint(2, 9)) + "".join(rng.choices("0123456789", k=6))
            candidate = "+1" + digits
        else:
            candidate = "+49151" + "".join(rng.choices("0123456789", k=8))
        number = phonenumbers.parse(candidate)
        if phonenumbers.is_valid_number(number):
            e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
            out[e164] = phonenumbers.region_code_for_number(number) or "ZZ"
    return out


def _population(seed: int, distinct: int) -> exact.Population:
    rng = random.Random(seed)
    regions = _numbers(rng, distinct)
    pop = exact.Population(numbers=list(regions), regions=regions)
    keys = {v: k.encode() for v, k in exact.PEPPERS.items() if v != "current"}
    shared = [s for s in (exact._sends(rng) for _ in range(20)) if s][:5]
    for at in (exact._at(t) for t in exact.SEND_TIMES[:6] if t):  # this very send and two more
        shared.append(sorted(exact._iso(at - timedelta(days=d)) for d in (0, 1, 2)))
    for number in pop.numbers:
        if rng.random() < 0.2:
            continue
        for version in rng.choice([["k2"], ["k1"], ["k2", "k1"]]):  # both: the current one answers
            pk = subject_pk("demo", number, version, keys[version])
            item = exact._item(rng, pk, number, regions[number])
            if rng.random() < 0.6:  # the recipients of one earlier campaign
                sends = rng.choice(shared)
                item["sends"] = {"S": json.dumps(sends)}
                item["last_contact_at"] = {"S": max(sends)}
                item.pop("last_campaign", None)  # a retry of a request with no campaign
                if rng.random() < 0.6:
                    item["last_campaign"] = {"S": rng.choice(["autumn", "winter"])}
            if rng.random() < 0.6:  # consented, so the rules about the moment are reached
                consents = json.loads(item["consents"]["S"])
                consents["sms:marketing"] = exact._record(rng, "active", rng.uniform(1, 100))
                item["consents"] = {"S": json.dumps(consents)}
            pop.items[pk] = item
    return pop


def _written(rng: random.Random, e164: str) -> str:
    # German numbers also with the trunk 0 after the country code: E.164-shaped, so hashed
    # as written first, then looked up in their normal form under every pepper version.
    if e164.startswith("+49") and rng.random() < 0.3:
        return "+490" + e164[3:]
    return exact._written(rng, e164)


def _doc(variant: exact.Variant) -> dict[str, Any]:
    doc = exact.tenant_doc(variant.tenant)
    doc["allowed_countries"] = sorted(set(doc["allowed_countries"]) | _ALSO_ALLOWED)
    return doc


def test_plus_one_numbers_shared_sends_and_both_pepper_versions_answer_as_the_oracle(context, exact_dynamo):
    pop = _population(SEED, 800)
    exact_dynamo.items = pop.items
    rng = random.Random(SEED)
    variants = [
        exact.Variant(),
        exact.Variant(record=True),
        exact.Variant(tenant="us", campaign="winter", record=True),
        exact.Variant(tenant="tight", campaign="autumn", record=True),
    ]
    reasons: set[tuple[str, str | None]] = set()
    for variant in variants:
        doc = _doc(variant)
        exact.use_tenant(doc)
        for send_at in exact.SEND_TIMES:
            recipients = [_written(rng, rng.choice(pop.numbers)) for _ in range(250)]
            body = exact.body(variant, send_at, recipients)
            status, got = exact.real_answer(context, variant, body)
            assert status == 200, got
            diff = exact.differences(got, exact.expected(exact.oracle_for(doc, pop.items), body, exact.NOW))
            assert not diff, f"{variant}, send_at {send_at}:\n{diff}"
            reasons |= {(r["reason"], r.get("rule")) for r in got["results"]}
    # The deferrals this is about were reached: state rules, the US's own, the tenant's.
    assert {("quiet_hours", "US-FL:hours"), ("quiet_hours", "US:hours")} <= reasons
    assert ("frequency_cap", "tenant:frequency_cap") in reasons
    assert any(reason == "frequency_cap" and rule and rule.startswith("US-") for reason, rule in reasons)
