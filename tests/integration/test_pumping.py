"""A simulated SMS-pumping attack: thousands of signups over hundreds of IPs to adjacent
and foreign numbers send no more SMS than the budgets allow, while a legitimate signup in
between still gets its SMS."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.events import load_event

pytestmark = [pytest.mark.usefixtures("aws"), pytest.mark.slow]


def attempt(context: Any, phone: str, ip: str) -> int:
    from functions.signup.app import handler

    event = load_event("signup-json.json")
    event["body"] = json.dumps({"phone": phone, "consent": True, "age_confirmed": True})
    event["requestContext"]["http"]["sourceIp"] = ip
    status: int = handler(event, context)["statusCode"]
    return status


def test_pumping_attack_is_capped_and_a_real_signup_still_gets_through(context, outbox, capsys, clock):
    from smsconsent import store, tenants

    # The demo's budgets, with a smaller one for countries other than DE: every accepted
    # signup is a transaction, which moto answers by copying the whole table.
    doc = json.loads(Path("local/tenants/demo.json").read_text())
    doc["rate_limits"]["sms_per_country_per_hour"]["default"] = 25
    store.put_tenant_doc(doc, clock.now)
    tenants.clear_cache()
    demo = tenants.get("demo")
    assert (
        demo.sms_per_prefix_per_hour,
        demo.sms_per_country_per_hour["GB"]
        if "GB" in demo.sms_per_country_per_hour
        else demo.sms_per_country_per_hour["default"],
    ) == (10, 25)
    rng = random.Random(7)
    adjacent = [f"+4915122220{i:03d}" for i in range(1000)]  # one prefix: +491512222
    foreign = [f"+447400{rng.randrange(100000, 999999)}" for _ in range(1000)]  # GB mobiles
    targets = [number for pair in zip(adjacent, foreign, strict=True) for number in pair]
    answers: dict[int, int] = {}
    for i, number in enumerate(targets):
        ip = f"203.0.{i // 8 // 250}.{i // 8 % 250}"  # 250 IPs, 8 signups each
        status = attempt(context, number, ip)
        answers[status] = answers.get(status, 0) + 1
        if i == 1000:
            # A legitimate signup in the middle of the attack, from its own IP and number
            assert attempt(context, "+4917612345678", "198.51.100.77") == 202
    sent = [m for m in outbox.messages() if m["kind"] == "confirmation"]
    to_adjacent = [m for m in sent if m["to"].startswith("+491512222")]
    to_gb = [m for m in sent if m["to"].startswith("+44")]
    assert len(to_adjacent) <= 10  # the prefix budget
    assert len(to_gb) <= 25  # the country budget
    assert any(m["to"] == "+4917612345678" for m in sent)  # the real person got the link
    assert answers[429] >= 1_800
    assert set(answers) <= {202, 429}
    # The rate limits are visible as metrics, per scope
    assert '"SignupRateLimited"' in capsys.readouterr().out
    print(f"attempts={len(targets) + 1} answers={answers} sms_sent={len(sent)}")
